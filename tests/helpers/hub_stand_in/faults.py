"""Faults a test sets on the Hub stand-in at run time: gated repositories, cut bodies, failures, a throttle.

:class:`Faults` holds them, thread-safe: the test thread sets them through :class:`.server.HubStandIn`, the
server's threads consult (and use up) them while answering.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

__all__ = ["Faults", "Gate"]


@dataclass(frozen=True)
class Gate:
    """A gated repository: no token gets 401; when ``token`` is set, any other token gets 403."""

    token: str | None


@dataclass
class _Drop:
    suffix: str
    nbytes: int
    times: int


@dataclass
class _Fail:
    pattern: re.Pattern[str]
    status: int
    times: int | None


class Faults:
    """Gates, connection drops, injected failures and the throttle, each set and cleared at any time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, str | None] = {}
        self._drops: list[_Drop] = []
        self._fails: list[_Fail] = []
        self._bytes_per_second: float | None = None

    # ------------------------------------------------------------------ setting them

    def gate(self, repo_id: str, token: str | None = None) -> None:
        with self._lock:
            self._gates[repo_id] = token

    def ungate(self, repo_id: str) -> None:
        with self._lock:
            self._gates.pop(repo_id, None)

    def drop_after(self, path_suffix: str, nbytes: int, times: int = 1) -> None:
        with self._lock:
            self._drops.append(_Drop(path_suffix, nbytes, times))

    def throttle(self, bytes_per_second: float | None) -> None:
        with self._lock:
            self._bytes_per_second = bytes_per_second or None

    def fail(self, path_regex: str, status: int, times: int | None = None) -> None:
        with self._lock:
            self._fails.append(_Fail(re.compile(path_regex), status, times))

    def clear(self) -> None:
        with self._lock:
            self._gates.clear()
            self._drops.clear()
            self._fails.clear()
            self._bytes_per_second = None

    # ------------------------------------------------------------------ consulting them

    def gate_of(self, repo_id: str) -> Gate | None:
        """The repository's gate, or None when it is not gated."""
        with self._lock:
            return Gate(self._gates[repo_id]) if repo_id in self._gates else None

    @property
    def bytes_per_second(self) -> float | None:
        """The throttle's rate, or None for full speed."""
        return self._bytes_per_second

    def take_drop(self, key: str, url_path: str, length: int) -> int | None:
        """Where to cut a body of ``length`` bytes of ``key`` ("repo_id/path"), using up one drop; or None."""
        # A drop only counts against a body it can actually cut short.
        with self._lock:
            for drop in self._drops:
                matches = key.endswith(drop.suffix) or url_path.endswith(drop.suffix)
                if drop.times > 0 and matches and drop.nbytes < length:
                    drop.times -= 1
                    return drop.nbytes
        return None

    def take_fail(self, path: str) -> int | None:
        """The status to answer a request for the decoded URL ``path`` with, using up one failure; or None."""
        with self._lock:
            for fail in self._fails:
                if (fail.times is None or fail.times > 0) and fail.pattern.search(path):
                    if fail.times is not None:
                        fail.times -= 1
                    return fail.status
        return None
