"""The library watches its own recall: on the person's own recent searches
(:mod:`~docretriever.library.recent_searches`), now and then, it measures how much of exact
search's top 10 the fast path finds, and when that falls below :data:`TARGET_RECALL` it trains
its search codebook again (when the library has grown since the last training) and widens its
fast path (``ranking.two_stage_top_k``'s ``widen``: more codes probed, more pages surveyed and
reranked, doubling up to ``ranking.MAX_WIDENING``), measuring again after each step. When the
recall is good at a widening above 1, it tries half of it and keeps that if it holds.

What it finds is kept in ``search_quality.json`` in the library folder (the widening searches
use, and the last measurement, which ``docretriever info`` and the app's About show), written
whole through a temporary file flushed to disk and renamed over it. Searches read the widening
from it (one ``stat`` a search, the file read again only when it changed), so every process
searching the library follows it.

The desktop app runs :func:`watch_recall` on its reader pool after a search and a spell of no
activity; the function itself keeps to at most one measurement per :data:`WATCH_INTERVAL_S`
and per :data:`NEW_SEARCHES` new searches, never measures while this process changes the
library, and drops a measurement during which the library changed (another process's ingest).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

from docretriever.embedding.base import QueryEmbedding
from docretriever.library.local.library import LocalLibrary
from docretriever.library.local.recall_record import (
    MIN_QUERIES,
    RETRAIN_WHEN_GROWN,
    STAGE,
    TARGET_RECALL,
    WATCH_QUERIES,
    K,
    Measure,
    RecallRecord,
    last_recall,
    not_due,
    percent,
    save_recall,
    stage_widening,
)
from docretriever.library.recent_searches import RecentSearches
from docretriever.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from docretriever.search import ranking

__all__ = ["RecallRecord", "last_recall", "percent", "save_recall", "stage_widening", "watch_recall"]


def watch_recall(
    library: LocalLibrary,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    queries: Sequence[QueryEmbedding] | None = None,
    force: bool = False,
    now: float | None = None,
) -> RecallRecord | None:
    """Measure the fast path against exact search on the newest :data:`WATCH_QUERIES`
    remembered searches (embedded with the library's model), act on a recall below
    :data:`TARGET_RECALL` (see the module docstring), and record the result.

    ``queries``: already embedded queries to measure on instead (tests, benchmarks);
    ``force`` skips the throttle (:func:`not_due`); ``now``: the time, seconds since 1970.

    Returns the record written, or None when nothing was measured: not due, this process is
    changing the library, the library is small enough to be searched exactly, fewer than
    :data:`MIN_QUERIES` queries, or the library changed while it was measured. Takes exact
    search's time once per query, and the fast path's once per query and step. Raises
    Cancelled (nothing recorded) when ``cancel`` is set, LibraryError when the record cannot be
    written.
    """
    progress = progress or ignore_progress
    cancel = cancel or CancelToken()
    now = time.time() if now is None else now
    history = RecentSearches(library.folder).read()
    if not force and not_due(library.folder, history, now) is not None:
        return None
    if library.writer.busy() or len(library.indexed_pages()) <= ranking.EXACT_LIBRARY_PAGES:
        return None
    if queries is None:
        queries = _embedded(library, history.queries[:WATCH_QUERIES], cancel)
    if len(queries) < MIN_QUERIES:
        return None
    version = library.catalog.version()
    meter = _Meter(progress, len(queries))
    truths = []
    for query in queries:
        cancel.raise_if_cancelled()
        truths.append({(hit.doc_id, hit.page) for hit in library.search_embedding(query, K, exact=True)})
        meter.step()

    def measure(widen: int) -> tuple[float, float]:
        recalls, times = [], []
        for query, truth in zip(queries, truths, strict=True):
            cancel.raise_if_cancelled()
            started = time.perf_counter()
            fast = library.search_embedding(query, K, widen=widen)
            times.append((time.perf_counter() - started) * 1000)
            recalls.append(len(truth & {(hit.doc_id, hit.page) for hit in fast}) / max(1, len(truth)))
            meter.step()
        return statistics.mean(recalls), statistics.median(times)

    widening = stage_widening(library.folder)
    recall, median_ms = measure(widening)
    if library.catalog.version() != version:
        return None  # pages came or went meanwhile: the figures mix two libraries
    best, actions = _act(library, widening, recall, median_ms, measure)
    record = RecallRecord(
        measured_at=now,
        queries=len(queries),
        pages=len(library.indexed_pages()),
        k=K,
        recall=recall,
        fast_median_ms=median_ms,
        widening=widening,
        recall_after=best[1],
        fast_median_ms_after=best[2],
        widening_after=best[0],
        actions=tuple(actions),
        searches_total=history.total,
    )
    save_recall(library.folder, record)
    return record


def _act(
    library: LocalLibrary, widening: int, recall: float, median_ms: float, measure: Measure
) -> tuple[tuple[int, float, float], list[str]]:
    """What the measured recall calls for: ((widening kept, its recall, its median ms), the
    actions in words)."""
    best, actions = (widening, recall, median_ms), []
    if recall >= TARGET_RECALL:
        if widening > 1:  # good: perhaps good with less (faster) too
            narrower = widening // 2
            recall_narrower, ms_narrower = measure(narrower)
            if recall_narrower >= TARGET_RECALL:
                best = (narrower, recall_narrower, ms_narrower)
                actions.append(f"narrowed the fast path to ×{narrower}")
        return best, actions
    index = library.candidates
    grown = index.trained_pages and len(index) >= RETRAIN_WHEN_GROWN * index.trained_pages
    if grown and library.retrain_codebook():
        actions.append(f"trained the search codebook again on {len(index):,} pages")
        best = (widening, *measure(widening))
    wider = widening
    while best[1] < TARGET_RECALL and wider < ranking.MAX_WIDENING:
        wider *= 2
        recall_wider, ms_wider = measure(wider)
        if recall_wider > best[1]:
            best = (wider, recall_wider, ms_wider)
    if best[0] != widening:
        actions.append(f"widened the fast path to ×{best[0]}")
    elif wider != widening:
        actions.append(f"widening the fast path to ×{wider} did not help")
    return best, actions


def _embedded(library: LocalLibrary, texts: Sequence[str], cancel: CancelToken) -> list[QueryEmbedding]:
    """The texts embedded by the library's model, a few at a time (a Cancel waits for a few)."""
    if len(texts) < MIN_QUERIES:
        return []
    embedded: list[QueryEmbedding] = []
    for start in range(0, len(texts), 4):
        cancel.raise_if_cancelled()
        embedded += library.embedder.embed_queries(list(texts[start : start + 4]))
    return embedded


class _Meter:
    """Reports searches done; the total grows as steps are added (it is not known at first)."""

    def __init__(self, progress: ProgressCallback, queries: int) -> None:
        self.progress, self.queries, self.done = progress, queries, 0

    def step(self) -> None:
        self.done += 1
        total = max(self.done, 2 * self.queries)
        self.progress(Progress(STAGE, self.done, total, unit="searches"))
