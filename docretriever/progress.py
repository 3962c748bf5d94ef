"""Progress reporting and cooperative cancellation for long-running core functions.

Core functions are synchronous. They take ``progress`` (a callable receiving :class:`Progress`)
and ``cancel`` (a :class:`CancelToken`); a caller on another thread calls
:meth:`CancelToken.cancel` and the function stops at its next batch boundary by raising
:class:`~docretriever.errors.Cancelled`, keeping everything committed before that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from docretriever.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """A snapshot of one stage of a long operation.

    ``done`` and ``total`` count the stage's units (pages, bytes, files); ``total`` is None when
    unknown. ``rate`` is units per second since the stage started, ``eta_s`` the seconds left
    at that rate (None until it can be estimated).
    """

    stage: str
    done: int
    total: int | None
    unit: str = "pages"
    message: str = ""
    rate: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


def ignore_progress(_: Progress) -> None:
    """A progress callback that discards every report."""


class CancelToken:
    """A thread-safe flag a caller sets to ask a core function to stop between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class RateMeter:
    """Turns a stream of ``done`` counts into :class:`Progress` with rate and ETA."""

    def __init__(
        self,
        stage: str,
        total: int | None,
        callback: ProgressCallback,
        unit: str = "pages",
        *,
        baseline: int = 0,
    ) -> None:
        """``baseline`` is what was done before this meter started (a resumed download's bytes):
        it counts in ``done`` but not in the rate, which measures this run's work."""
        self.stage = stage
        self.total = total
        self.unit = unit
        self.baseline = baseline
        self._callback = callback
        self._start = time.monotonic()

    def report(self, done: int, message: str = "") -> None:
        elapsed = time.monotonic() - self._start
        moved = done - self.baseline
        rate = moved / elapsed if elapsed > 0 and moved > 0 else None
        eta = None
        if rate and self.total is not None:
            eta = max(0.0, (self.total - done) / rate)
        self._callback(Progress(self.stage, done, self.total, self.unit, message, rate=rate, eta_s=eta))


def format_bytes(size: float) -> str:
    """A byte count in decimal units, as download sites and file managers show it: "4.4 GB"."""
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
    return f"{size:.1f} GB"


def format_duration(seconds: float) -> str:
    """A duration as a clock reads it: "0:17", "12:05", "1:02:03"."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
