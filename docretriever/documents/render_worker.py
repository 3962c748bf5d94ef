"""The render worker: a child process that opens documents and renders their pages.

MuPDF is native code that hostile files can crash or drive into runaway memory or time; only
this process touches it during ingest, so such a file costs a worker, never the library's
process. Started by :class:`docretriever.documents.render_pool.RenderPool` as
``python -m docretriever.documents.render_worker MEMORY_BYTES [CONVERSION_TIMEOUT_S]`` (the
time limit of an Office file's conversion by LibreOffice, which runs here too); it reads requests from stdin
and writes replies to stdout in the typed, length-capped frames of
:mod:`docretriever.documents.worker_protocol` (JSON and raw pixels: no pickle, so that a worker
taken over by a hostile file cannot run code in the app).

Requests: ``("inspect", path, password)`` → the page infos; ``("render", path, PageInfo,
(width, height), password)`` → (mode, (width, height), pixel bytes, width_pt, height_pt,
renderer), the image exactly the size asked for; ``("words", path, PageInfo, password)`` → the
page's words (its own text layer, never OCR) with their boxes on the page as displayed;
``password`` opens a PDF that needs one (None: no password). Replies are ``("ok", payload)`` or
``("error", kind, message, details)`` with kind one of ``ERROR_KINDS``. Passwords travel over the
pipe only: never in a command line, a message or a log.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from docretriever.documents.office import DEFAULT_TIMEOUT_S as DEFAULT_CONVERSION_TIMEOUT_S
from docretriever.documents.worker_protocol import MalformedMessage, read_request, write_reply
from docretriever.errors import (
    DocRetrieverError,
    DocumentError,
    EncryptedDocumentError,
    PageError,
    WrongPasswordError,
)

ERROR_KINDS: dict[str, type[DocRetrieverError]] = {
    "document": DocumentError,
    "encrypted": EncryptedDocumentError,
    "wrong_password": WrongPasswordError,
    "page": PageError,
}


def _error_kind(error: DocRetrieverError) -> str:
    for kind, cls in reversed(ERROR_KINDS.items()):  # most specific first
        if isinstance(error, cls):
            return kind
    return "document"


class _Worker:
    """Keeps the last document open: a document's pages arrive one after another.
    ``conversion_timeout_s``: the time limit of an Office file's conversion to PDF."""

    def __init__(self, conversion_timeout_s: float = DEFAULT_CONVERSION_TIMEOUT_S) -> None:
        self._open: tuple[tuple[str, str | None], ExitStack, Any] | None = None
        self.conversion_timeout_s = conversion_timeout_s

    def _document(self, path: str, password: str | None) -> Any:
        from docretriever.documents.opening import open_document

        if self._open is None or self._open[0] != (path, password):
            self.close()
            stack = ExitStack()
            try:
                opening = open_document(Path(path), password, conversion_timeout_s=self.conversion_timeout_s)
                document = stack.enter_context(opening)
            except BaseException:
                stack.close()
                raise
            self._open = ((path, password), stack, document)
        return self._open[2]

    def close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None

    def handle(self, request: tuple[Any, ...]) -> object:
        if request[0] == "inspect":
            self.close()  # the file may have changed since it was last open
            return self._document(request[1], request[2]).page_infos()
        if request[0] == "render":
            _, path, info, size, password = request
            try:
                document = self._document(path, password)
            except DocumentError as exc:
                raise PageError(str(exc), details=exc.details) from exc
            page = document.render(info, size)
            image = page.image
            return image.mode, image.size, image.tobytes(), page.width_pt, page.height_pt, page.renderer
        if request[0] == "words":
            from docretriever.documents.opening import MuPdfPages
            from docretriever.documents.words import WordList, read_page_words

            _, path, info, password = request
            # A file that needs a password says so (its kind travels): the app then sends the one it knows.
            opened = self._document(path, password)
            if isinstance(opened, MuPdfPages) and opened.document is not None:
                return read_page_words(opened.document, info)  # a PDF, an XPS, an EPUB, an Office file's PDF
            return WordList()  # an image has no text layer; a PDF MuPDF cannot open gives none
        raise ValueError(f"unknown request {request[0]!r}")


def _limit_memory(max_bytes: int) -> None:
    """Cap this process's address space, so runaway memory fails a page, not the machine."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the timeout still applies
        return
    if max_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))


def serve(
    requests: IO[bytes], replies: IO[bytes], conversion_timeout_s: float = DEFAULT_CONVERSION_TIMEOUT_S
) -> None:
    worker = _Worker(conversion_timeout_s)
    while True:
        try:
            request = read_request(requests)
        except (EOFError, MalformedMessage):
            break
        try:
            reply: tuple[object, ...] = ("ok", worker.handle(request))
        except DocRetrieverError as exc:
            reply = ("error", _error_kind(exc), str(exc), exc.details)
        except MemoryError:
            worker.close()
            reply = ("error", "page", "Rendering needed more memory than allowed.", "MemoryError")
        except Exception as exc:  # whatever MuPDF raises must fail this request only
            reply = (
                "error",
                "document",
                f"The file could not be read ({exc.__class__.__name__}).",
                repr(exc),
            )
        write_reply(replies, reply)
    worker.close()


def main() -> None:
    # Replies go to the original stdout; anything a native library prints goes to stderr, so
    # it can never corrupt a reply.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    serve(
        sys.stdin.buffer, replies, float(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_CONVERSION_TIMEOUT_S
    )


if __name__ == "__main__":
    main()
