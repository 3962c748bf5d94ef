"""What a library's recall watch found, kept in ``search_quality.json`` in the library folder:
the widening searches use and the last measurement (which ``docretriever info`` and the app's
About show), written whole through a temporary file flushed to disk and renamed over it.
Searches read the widening from it (one ``stat`` a search, the file read again only when it
changed), so every process searching the library follows it. The watch itself, which measures
and writes it, is :mod:`~docretriever.library.local.recall_watch`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docretriever.library.recent_searches import SearchHistory, write_atomically
from docretriever.search import ranking

FILE_NAME = "search_quality.json"
TARGET_RECALL = 0.99
K = 10
# The newest remembered searches measured each time, and the fewest worth measuring on.
WATCH_QUERIES = 20
MIN_QUERIES = 5
# At most one measurement per half hour, and only after this many new searches.
WATCH_INTERVAL_S = 30 * 60
NEW_SEARCHES = 10
# The codebook is trained again when the library holds this many times the pages it was
# trained on (the library's own growth retrains it at ``candidates.RETRAIN_GROWTH`` times).
RETRAIN_WHEN_GROWN = 1.25
STAGE = "Measuring search quality"
_TEMPORARY_PREFIX = ".search_quality-"
_cache_lock = threading.Lock()
_widening_cache: dict[Path, tuple[tuple[int, int, int], int]] = {}
# Measures the fast path at a widening: (recall, median ms).
Measure = Callable[[int], tuple[float, float]]


@dataclass(frozen=True)
class RecallRecord:
    """One measurement: recall@``k`` of the fast path against exact search (share of exact
    search's top ``k`` pages the fast path returned, averaged over ``queries``) and the fast
    path's median latency (ms), at the widening in use (``recall``, ``fast_median_ms``,
    ``widening``) and after what was done about it (``..._after``: the same figures when
    nothing was); ``actions`` says what was done, in words. ``measured_at``: seconds since
    1970; ``pages``: indexed pages then; ``searches_total``: the remembered searches' running
    count then (for the throttle)."""

    measured_at: float
    queries: int
    pages: int
    k: int
    recall: float
    fast_median_ms: float
    widening: int
    recall_after: float
    fast_median_ms_after: float
    widening_after: int
    actions: tuple[str, ...] = ()
    searches_total: int = 0

    def describe(self) -> str:
        """ "fast path found 99.6 % of exact results on 20 of your searches (measured
        2026-11-23 14:05)", and what was done when something was."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.measured_at))
        text = (
            f"fast path found {percent(self.recall_after)} of exact results on {self.queries} "
            f"of your searches (measured {when})"
        )
        if self.actions:
            text += f"; {', '.join(self.actions)} (before: {percent(self.recall)})"
        return text

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["actions"] = list(self.actions)
        return data

    @classmethod
    def from_dict(cls, data: object) -> RecallRecord | None:
        """The record in ``data`` (as :meth:`as_dict` gives), or None if it is not one."""
        if not isinstance(data, dict):
            return None
        try:
            fields = {field.name: data[field.name] for field in dataclasses.fields(cls)}
            fields["actions"] = tuple(str(action) for action in fields["actions"])
            return cls(**fields)
        except (KeyError, TypeError):
            return None


def percent(share: float) -> str:
    """0.9964 -> "99.6 %"."""
    return f"{100 * share:.1f} %"


def _read(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stage_widening(folder: str | Path) -> int:
    """The widening the library in ``folder`` searches with: 1 (none) to ``ranking.MAX_WIDENING``.
    Costs one ``stat`` while the file is unchanged."""
    path = Path(folder) / FILE_NAME
    try:
        status = path.stat()
    except OSError:
        return 1
    key = (status.st_mtime_ns, status.st_size, status.st_ino)
    with _cache_lock:
        cached = _widening_cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    value = _read(Path(folder)).get("widening")
    widening = min(max(1, value), ranking.MAX_WIDENING) if isinstance(value, int) else 1
    with _cache_lock:
        _widening_cache[path] = (key, widening)
    return widening


def last_recall(folder: str | Path) -> RecallRecord | None:
    """The library's last measurement, or None if it was never measured."""
    return RecallRecord.from_dict(_read(Path(folder)).get("last"))


def save_recall(folder: str | Path, record: RecallRecord) -> None:
    """Keep ``record`` as the last measurement and its ``widening_after`` as the widening searches
    use (crash-safe: see the module docstring). Raises LibraryError when it cannot be written."""
    text = json.dumps({"version": 1, "widening": record.widening_after, "last": record.as_dict()}, indent=1)
    write_atomically(Path(folder) / FILE_NAME, text, _TEMPORARY_PREFIX)


def not_due(folder: str | Path, history: SearchHistory, now: float) -> str | None:
    """Why the recall watch should not measure now (in words), or None when it should."""
    if not history.remembering:
        return "remembering searches is off"
    last = last_recall(folder)
    if last is None:
        return None
    if now - last.measured_at < WATCH_INTERVAL_S:
        return f"measured less than {WATCH_INTERVAL_S // 60} minutes ago"
    new = history.total - last.searches_total if history.total >= last.searches_total else history.total
    if new < NEW_SEARCHES:
        return f"fewer than {NEW_SEARCHES} new searches since the last measurement"
    return None
