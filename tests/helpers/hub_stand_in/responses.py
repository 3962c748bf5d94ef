"""The stand-in's answers: a status, headers and a body, and errors in the Hub's form.

A body is either bytes or a :class:`FileBody`, a span of a repository file that the server streams (so
that it can throttle it, cut it short and count its bytes). Every answer of the Hub's own origin carries the
headers of :func:`hub_headers`; an error carries the Hub's ``X-Error-Code`` and ``X-Error-Message``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .repository import RepoEntry

__all__ = ["FileBody", "HubError", "Response", "error_response", "hub_headers", "json_response"]

_ACCESS_CONTROL = (
    "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges,"
    "Content-Range,X-Linked-Size,X-Linked-ETag"
)


@dataclass
class FileBody:
    """``length`` bytes of a repository file from ``start``, gzipped on the way out when ``compress``."""

    entry: RepoEntry
    key: str  # "repo_id/path"
    start: int
    length: int
    compress: bool


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | FileBody = b""


class HubError(Exception):
    """An error answer in the Hub's form: status, X-Error-Code, X-Error-Message."""

    def __init__(self, status: int, code: str | None, message: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


def hub_headers() -> list[tuple[str, str]]:
    """The headers every answer of the Hub's origin carries (a fresh request id each time)."""
    return [
        ("X-Request-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"),
        ("Access-Control-Expose-Headers", _ACCESS_CONTROL),
        ("Vary", "Origin"),
        ("X-Powered-By", "huggingface-moon"),
    ]


def json_response(data: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """200 with ``data`` as JSON."""
    text = json.dumps(data).encode()
    return Response(
        200,
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(text))),
            *headers,
            *hub_headers(),
        ],
        text,
    )


def error_response(error: HubError, *, api: bool) -> Response:
    """``error`` as the Hub answers it: a JSON ``{"error": ...}`` under /api/, plain text elsewhere."""
    if api:
        text = json.dumps({"error": error.message}).encode()
        content_type = "application/json; charset=utf-8"
    else:
        text = error.message.encode()
        content_type = "text/plain; charset=utf-8"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(text))), *error.headers]
    if error.code is not None:
        headers += [("X-Error-Code", error.code), ("X-Error-Message", error.message)]
    return Response(error.status, [*headers, *hub_headers()], text)
