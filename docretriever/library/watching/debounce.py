"""Holding back a changed file until it is complete: pure code on a clock the caller gives.

A copy into a watched folder arrives as many events (created, then modified per chunk written).
A path is handed on once two things have held for ``settle_s`` seconds: no event came for it,
and its size and modification time (:func:`file_signature`) stayed the same between looks. A
file that keeps changing stays held and is looked at again later; a path that is gone (deleted,
moved away) settles the same way, its signature being None.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Seconds a file must be still before it is indexed: a copy from a slow USB stick or a download
# writes at least every few hundred milliseconds while it runs.
SETTLE_S = 2.0

# (is a folder, size in bytes, modification time in nanoseconds); None: nothing at the path.
Signature = tuple[bool, int, int] | None
_UNSEEN = (False, -1, -1)  # before the first look: differs from every real signature and None


def file_signature(path: str) -> Signature:
    """What tells whether the file (or folder) at ``path`` is still being written: whether it
    is a folder, its size and its modification time. None when nothing is there or it cannot be
    read. Never raises."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return (os.path.isdir(path), status.st_size, status.st_mtime_ns)


@dataclass
class _Held:
    last_event: float  # clock time of the latest event for the path
    signature: Signature  # at the latest look
    still_since: float  # clock time the signature was first seen as it is


class Debouncer:
    """Paths with events, held until they settle. Not thread-safe: the caller locks.

    ``settle_s``: the seconds without events and without a change of signature that make a
    path ready (0 hands every path on at the first look, written to the end or not).
    """

    def __init__(self, settle_s: float = SETTLE_S) -> None:
        if settle_s < 0:
            raise ValueError("settle_s must be at least 0")
        self.settle_s = settle_s
        self._held: dict[str, _Held] = {}

    def note(self, paths: Iterable[str], now: float) -> None:
        """Events came for ``paths`` at clock time ``now`` (seconds)."""
        for path in paths:
            held = self._held.get(path)
            if held is None:
                self._held[path] = _Held(now, _UNSEEN, now)
            else:
                held.last_event = max(held.last_event, now)

    @property
    def held(self) -> list[str]:
        """The paths waiting to settle, sorted."""
        return sorted(self._held)

    def take_ready(self, now: float, signature: Callable[[str], Signature] = file_signature) -> list[str]:
        """Look at every held path (``signature`` of each, at clock time ``now``) and hand on
        those settled, sorted; they are no longer held. The others wait for a later look."""
        ready = []
        for path, held in self._held.items():
            current = signature(path)
            if current != held.signature:
                held.signature, held.still_since = current, now
            if now - held.last_event >= self.settle_s and now - held.still_since >= self.settle_s:
                ready.append(path)
        # A folder waits for the files in it that are still held: its walk would take them as
        # they are (a folder copied in, its last file still being written).
        waiting = [path for path in self._held if path not in ready]
        ready = [path for path in ready if not any(_inside(other, path) for other in waiting)]
        for path in ready:
            del self._held[path]
        return sorted(ready)

    def next_look(self, now: float) -> float | None:
        """Seconds from ``now`` until the soonest held path could be ready (0 or more), or None
        when nothing is held."""
        if not self._held:
            return None
        soonest = min(max(held.last_event, held.still_since) for held in self._held.values())
        return max(0.0, soonest + self.settle_s - now)


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/\\") + os.sep)
