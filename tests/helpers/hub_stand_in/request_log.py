"""What the Hub stand-in saw: every request in arrival order, and the body bytes sent per repository file.

:class:`RequestLog` is thread-safe: the server's threads add to it while they answer, the test reads copies.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["LoggedRequest", "RequestLog", "ServedRequest"]


class LoggedRequest(NamedTuple):
    """What :attr:`HubStandIn.requests` lists: the method, the decoded URL path and the Range header."""

    method: str
    path: str
    range: str | None


@dataclass
class ServedRequest:
    """One request as the stand-in saw it; ``status`` and ``body_bytes`` fill in while it is answered."""

    method: str
    path: str  # URL path, percent-decoded, without the query
    range: str | None
    query: str
    server: str  # "hub" or "cdn"
    authorization: bool
    status: int | None = None
    body_bytes: int = 0
    file: str | None = None  # "repo_id/path" whose bytes the body carries


class RequestLog:
    """The requests served so far and the body bytes counted per ``"repo_id/path"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ServedRequest] = []
        self._bytes: dict[str, int] = {}

    # ------------------------------------------------------------------ written while answering

    def add(self, record: ServedRequest) -> ServedRequest:
        """Log a request as it arrives; its record is then updated in place."""
        with self._lock:
            self._requests.append(record)
        return record

    def update(self, record: ServedRequest, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(record, name, value)

    def count_body(self, record: ServedRequest, key: str, nbytes: int) -> None:
        """``nbytes`` more of the body of ``record``, which carries the file ``key``, went out."""
        with self._lock:
            record.body_bytes += nbytes
            self._bytes[key] = self._bytes.get(key, 0) + nbytes

    # ------------------------------------------------------------------ read by the tests

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return [LoggedRequest(r.method, r.path, r.range) for r in self._requests]

    def entries(self) -> list[ServedRequest]:
        with self._lock:
            return [ServedRequest(**vars(r)) for r in self._requests]

    def bytes_served(self) -> dict[str, int]:
        with self._lock:
            return dict(self._bytes)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._bytes.clear()

    def wait_for_bytes(self, path_suffix: str, nbytes: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                served = sum(n for key, n in self._bytes.items() if key.endswith(path_suffix))
            if served >= nbytes:
                return served
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {served} bytes of *{path_suffix} served in {timeout} s")
            time.sleep(0.01)
