"""The library watches its own recall (issue 17, item 3): it measures the fast path against exact
search on the person's searches, records the figure, keeps to its throttle, and widens its
stages (or trains its codebook again) when the recall is low, and only then."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docretriever.cli import main
from docretriever.errors import Cancelled
from docretriever.library.local import LocalLibrary
from docretriever.library.local.recall_record import (
    FILE_NAME,
    NEW_SEARCHES,
    TARGET_RECALL,
    WATCH_INTERVAL_S,
    RecallRecord,
    last_recall,
    stage_widening,
)
from docretriever.library.local.recall_watch import watch_recall
from docretriever.library.recent_searches import RecentSearches
from docretriever.progress import CancelToken, Progress
from docretriever.search import ranking
from docretriever.testing.synthetic import SyntheticEmbedder, synthetic_library, synthetic_queries

# Past the codebook's first training (at 401 pages) by more than the watch's retraining growth.
PAGES = 520
QUERIES = 6
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("watch") / "lib"
    library, corpus = synthetic_library(folder, PAGES, seed=3)
    queries = synthetic_queries(corpus, QUERIES, PAGES)
    library.close()
    return folder, queries


@pytest.fixture()
def library(built, tmp_path: Path):
    folder = tmp_path / "lib"
    shutil.copytree(built[0], folder)
    opened = LocalLibrary(folder, embedder=SyntheticEmbedder())
    yield opened
    opened.close()


def narrow_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage sizes far too small for this library: the fast path misses pages exact search finds."""
    monkeypatch.setattr(ranking, "SURVEY_PAGES", 20)
    monkeypatch.setattr(ranking, "SURVEY_PER_RERANK", 2)
    monkeypatch.setattr(ranking, "RERANK_PAGES", 10)
    monkeypatch.setattr(ranking, "RERANK_PER_HIT", 1)


def test_good_recall_is_recorded_and_changes_nothing(library: LocalLibrary, built, capsys) -> None:
    """The negative control of the widening: a fast path that finds what exact search finds is
    left as it is. And the figure is recorded, crash-safely, for `info` and the About box."""
    assert last_recall(library.folder) is None and stage_widening(library.folder) == 1
    trained = library.candidates.trained_pages
    reports: list[Progress] = []
    record = watch_recall(library, reports.append, queries=built[1], force=True, now=T0)
    assert record is not None
    assert record.recall == record.recall_after >= TARGET_RECALL
    assert (record.queries, record.pages, record.k) == (QUERIES, PAGES, 10)
    assert record.widening == record.widening_after == 1 and record.actions == ()
    assert library.candidates.trained_pages == trained  # no retraining either
    assert stage_widening(library.folder) == 1
    assert last_recall(library.folder) == record
    assert reports and reports[-1].done == 2 * QUERIES  # exact once, fast once
    assert not list(library.folder.glob(".search_quality-*"))  # the temporary file was renamed
    assert library.info().search_quality == record.as_dict()

    code = main(["--library", str(library.folder), "info"])
    out = capsys.readouterr().out
    assert code == 0
    expected = f"Search:    fast path found 100.0 % of exact results on {QUERIES} of your searches (measured"
    assert expected in out
    code = main(["--library", str(library.folder), "info", "--json"])
    assert json.loads(capsys.readouterr().out)["search_quality"]["recall_after"] == record.recall_after


def test_low_recall_widens_the_fast_path_and_a_good_one_narrows_it_again(
    library: LocalLibrary, built, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = built[1]
    narrow_stages(monkeypatch)
    assert library.candidates.trained_pages == 401  # the library has grown since: trained again first
    record = watch_recall(library, queries=queries, force=True, now=T0)
    assert record is not None
    assert record.recall < TARGET_RECALL
    assert record.actions[0] == f"trained the search codebook again on {PAGES} pages"
    assert library.candidates.trained_pages == PAGES
    assert record.widening_after > 1 and record.recall_after > record.recall
    assert f"widened the fast path to ×{record.widening_after}" in record.actions
    # Searches follow it: those made without saying use the recorded widening.
    assert stage_widening(library.folder) == record.widening_after
    seen: list[int] = []
    two_stage = ranking.two_stage_top_k
    monkeypatch.setattr(
        "docretriever.library.local.library.two_stage_top_k",
        lambda *args, **kwargs: seen.append(kwargs["widen"]) or two_stage(*args, **kwargs),
    )
    library.search_embedding(queries[0], 10)
    assert seen == [record.widening_after]
    # Another process opening the library reads the same figure, and the index saved with the
    # new codebook.
    reopened = LocalLibrary(library.folder, embedder=SyntheticEmbedder())
    assert reopened.info().search_quality == record.as_dict()
    assert reopened.candidates.trained_pages == PAGES
    reopened.close()

    # With the usual stage sizes the widened path is more than good enough: half of it is tried
    # and kept when it holds.
    monkeypatch.undo()
    if record.widening_after > 1:
        again = watch_recall(library, queries=queries, force=True, now=T0 + 1)
        assert again is not None and again.recall >= TARGET_RECALL
        assert again.widening == record.widening_after
        assert again.widening_after == record.widening_after // 2
        assert again.actions == (f"narrowed the fast path to ×{again.widening_after}",)
        assert stage_widening(library.folder) == again.widening_after


def test_the_watch_keeps_to_its_throttle(tmp_path: Path) -> None:
    library, corpus = synthetic_library(tmp_path / "small", 120, seed=5)  # searched by the fast path
    queries = synthetic_queries(corpus, 5, 120)
    searches = RecentSearches(library.folder)
    for number in range(4):
        searches.remember(f"query {number}")
    # The first measurement needs no history of the throttle, only searches to measure on.
    assert watch_recall(library, queries=queries[:4], now=T0) is None  # too few
    first = watch_recall(library, queries=queries, now=T0)
    assert first is not None and first.searches_total == 4
    assert watch_recall(library, queries=queries, now=T0 + 60) is None  # a minute later
    later = T0 + WATCH_INTERVAL_S + 1
    assert watch_recall(library, queries=queries, now=later) is None  # no new searches since
    for number in range(NEW_SEARCHES - 1):
        searches.remember(f"another query {number}")
    assert watch_recall(library, queries=queries, now=later) is None  # one short
    searches.remember("the tenth new one")
    second = watch_recall(library, queries=queries, now=later)
    assert second is not None and second.searches_total == 4 + NEW_SEARCHES
    # Forced, it measures at once (the negative control of the checks above).
    assert watch_recall(library, queries=queries, now=later + 1, force=True) is not None

    # Never while this process changes the library, nor when the person turned searches off.
    with library.writer:
        assert watch_recall(library, queries=queries, force=True) is None
    searches.set_remembering(False)
    assert watch_recall(library, queries=queries, now=later + 2 * WATCH_INTERVAL_S) is None
    library.close()


def test_a_measurement_is_dropped_when_the_library_changes_and_stops_when_cancelled(
    tmp_path: Path,
) -> None:
    library, corpus = synthetic_library(tmp_path / "small", 120, seed=5)
    queries = synthetic_queries(corpus, 5, 120)

    def commit_meanwhile(progress: Progress) -> None:  # as another process's ingest would
        if progress.done == 1:
            library.catalog.set_meta("something", "changed")

    assert watch_recall(library, commit_meanwhile, queries=queries, force=True) is None
    assert not (library.folder / FILE_NAME).exists()
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        watch_recall(library, cancel=cancel, queries=queries, force=True)
    assert not (library.folder / FILE_NAME).exists()
    # A library small enough to be searched exactly has nothing to measure.
    tiny, tiny_corpus = synthetic_library(tmp_path / "tiny", ranking.EXACT_LIBRARY_PAGES, seed=5)
    assert watch_recall(tiny, queries=synthetic_queries(tiny_corpus, 5, 100), force=True) is None
    library.close()
    tiny.close()


def test_a_damaged_record_reads_as_none_and_a_widening_stays_in_bounds(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json")
    assert last_recall(tmp_path) is None and stage_widening(tmp_path) == 1
    (tmp_path / FILE_NAME).write_text(json.dumps({"widening": 1000, "last": {"recall": 1}}))
    assert last_recall(tmp_path) is None and stage_widening(tmp_path) == ranking.MAX_WIDENING
    actions = ("widened the fast path to ×2",)
    record = RecallRecord(T0, 20, 5000, 10, 0.9, 12.0, 1, 0.996, 18.0, 2, actions, 40)
    assert RecallRecord.from_dict(record.as_dict()) == record
    text = record.describe()
    assert text.startswith("fast path found 99.6 % of exact results on 20 of your searches (measured ")
    assert text.endswith("; widened the fast path to ×2 (before: 90.0 %)")
