"""The exact rerank's budget is in stored rows: more pages when they are small, never fewer than
``RERANK_PAGES``, at most ``RERANK_MOST_TIMES`` as many; and the fast path's stages as the
benchmark measures them (``fast_path_stages``) are those the search runs."""

from __future__ import annotations

import numpy as np
import pytest
from stand_in_index import OrderedStandInIndex

from docretriever.search import ranking
from docretriever.search.ranking import RERANK_MOST_TIMES, TYPICAL_PAGE_ROWS, rerank_count


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (TYPICAL_PAGE_ROWS, 32),  # pages at the default budget: as before
        (3 * TYPICAL_PAGE_ROWS, 32),  # larger pages: never fewer
        (TYPICAL_PAGE_ROWS // 2 + 9, 62),  # a bit over half the rows: what fits, under twice
        (10, 32 * RERANK_MOST_TIMES),  # tiny pages: capped
        (None, 32),  # rows not known: counted as a typical page
    ],
)
def test_the_rerank_takes_as_many_pages_as_fit_in_its_row_budget(rows: int | None, expected: int) -> None:
    ranked = list(range(1000))
    count = rerank_count(ranked, 32, lambda page_id: rows)
    assert count == expected
    used = sum(rows or TYPICAL_PAGE_ROWS for _ in range(count))
    assert count == 32 or used <= 32 * TYPICAL_PAGE_ROWS  # the budget holds past the minimum


def test_without_row_counts_the_rerank_is_a_fixed_number_of_pages() -> None:
    # Negative control: no row counts, no change from the page count asked for.
    assert rerank_count(list(range(1000)), 32, None) == 32
    assert rerank_count(list(range(10)), 32, lambda page_id: 10) == 10  # fewer pages than that


def test_small_pages_are_reranked_in_greater_number_and_the_stages_match_the_search() -> None:
    query = np.ones((1, 4), dtype=np.float32)
    prefetched: list[list[int]] = []

    def rows_of(page_id: int) -> np.ndarray:
        return np.full((1, 4), page_id / 2000, dtype=np.float32)

    def search(rows: int | None) -> list[int]:
        prefetched.clear()
        ranking.two_stage_top_k(
            query,
            set(range(2000)),
            OrderedStandInIndex(2000),  # type: ignore[arg-type]
            rows_of,
            10,
            prefetch=lambda page_ids: prefetched.append(list(page_ids)),
            rows_in=None if rows is None else (lambda page_id: rows),
        )
        return prefetched[0]

    small = search(TYPICAL_PAGE_ROWS // 4)
    assert len(small) == RERANK_MOST_TIMES * ranking.RERANK_PAGES
    assert len(search(TYPICAL_PAGE_ROWS)) == len(search(None)) == ranking.RERANK_PAGES
    stages = ranking.fast_path_stages(
        query,
        set(range(2000)),
        OrderedStandInIndex(2000),
        10,
        rows_in=lambda page_id: TYPICAL_PAGE_ROWS // 4,  # type: ignore[arg-type]
    )
    assert stages is not None and stages[1] == small  # the benchmark sees the search's shortlist
    small_library = ranking.fast_path_stages(query, set(range(50)), OrderedStandInIndex(2000), 10)  # type: ignore[arg-type]
    assert small_library is None  # scored exactly
