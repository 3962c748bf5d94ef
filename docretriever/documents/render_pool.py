"""Rendering in worker processes, each with a time limit per request and a memory cap.

A hostile PDF can crash MuPDF, loop in it, or make it allocate without bound. Each worker is a
separate Python process (:mod:`docretriever.documents.render_worker`); when one dies or takes
too long, it is killed and replaced, the request is retried once on a fresh worker (the death
may have had another cause), and then it fails with a reason: the page, or the file when it
could not even be opened. The library's own process never runs MuPDF during ingest.

Workers are plain subprocesses fed over pipes, not ``multiprocessing``: its "spawn" start
re-imports the caller's main module (the GUI, with Qt) in every worker.
"""

from __future__ import annotations

import operator
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from docretriever.documents.pdf import PageInfo, PageList
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_worker import ERROR_KINDS
from docretriever.documents.words import WordList
from docretriever.documents.worker_protocol import MalformedMessage, decode_reply, read_frame, write_request
from docretriever.errors import DocRetrieverError, DocumentError, PageError

# Rendering a page at the model's budget takes well under a second; a minute means MuPDF is
# stuck (a pathological content stream), not busy.
RENDER_TIMEOUT_S = 60.0
# Address space per worker: far above what a 1-2 megapixel render needs, far below the machine.
RENDER_MEMORY_BYTES = 4 << 30
# Reading a page's words takes milliseconds; a search waits for them, so a stuck page is given up sooner.
WORDS_TIMEOUT_S = 10.0
# The share of a request's time limit an Office file's conversion by LibreOffice may take (in
# the worker), so that the worker still answers with a reason before it is killed: 50 s of 60.
CONVERSION_SHARE = 5 / 6
# A second try on a fresh worker, then the request fails.
_ATTEMPTS = 2


def _page_of(info: PageInfo, path: Path) -> str:
    """ "page 3 of report.pdf", for messages."""
    return f"page {info.index + 1} of {path.name}"


def _checked_size(size: Any, info: PageInfo, path: Path) -> tuple[int, int] | PageError:
    """``size`` as the render request carries it, (width, height) in positive whole pixels; the
    :class:`PageError` itself for a page that failed before rendering, or one saying the size is
    not one (a worker never gets such a request: it would take it for a broken pipe)."""
    if isinstance(size, PageError):
        return size
    try:
        width, height = (operator.index(side) for side in size)
    except (TypeError, ValueError):  # not two whole numbers
        width = height = 0
    if width > 0 and height > 0 and not any(isinstance(side, bool) for side in size):
        return (width, height)
    return PageError(f"Could not render {_page_of(info, path)}: {size!r} is not a size in pixels.")


def default_worker_count() -> int:
    """Half the cores (the other half embeds and stores), at least one, at most four."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class _Process:
    """One worker process and the thread that reads its replies into a shared queue."""

    def __init__(self, number: int, replies: queue.Queue[tuple[int, Any]], command: list[str]) -> None:
        self.number = number
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._reader = threading.Thread(target=self._read, args=(replies,), daemon=True)
        self._reader.start()

    def _read(self, replies: queue.Queue[tuple[int, Any]]) -> None:
        assert self.popen.stdout is not None
        while True:
            try:
                frame = read_frame(self.popen.stdout)
            except MalformedMessage as exc:
                # The stream cannot be trusted past this point: the worker is replaced.
                replies.put((self.number, ("malformed", str(exc))))
                return
            except (EOFError, OSError, ValueError):
                replies.put((self.number, None))  # None: the process is gone
                return
            except Exception as exc:  # whatever else a hostile frame provokes: never a dead reader
                replies.put((self.number, ("malformed", repr(exc))))
                return
            replies.put((self.number, ("frame", *frame)))

    def send(self, request: tuple[object, ...]) -> bool:
        """False when the process has died (the pipe is closed)."""
        try:
            assert self.popen.stdin is not None
            write_request(self.popen.stdin, request)
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            if self.popen.stdin is not None:
                self.popen.stdin.close()  # the worker exits at end of input
            self.popen.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


@dataclass
class _Task:
    position: int
    request: tuple[object, ...] = field(repr=False)  # may hold a password
    what: str  # "page 3 of report.pdf", for messages
    size: tuple[int, int] | None = None  # a render's size asked for: the reply's image must be it
    attempts: int = 0
    started: float = field(default=0.0)
    timeout_s: float | None = None  # the pool's when None

    def deadline(self, pool_timeout_s: float) -> float:
        return self.started + (pool_timeout_s if self.timeout_s is None else self.timeout_s)


class RenderPool:
    """Worker processes that open and render documents (PDFs, images, the formats of
    :mod:`~docretriever.documents.formats`); started on first use.

    Calls are serialised (one ingest at a time uses it); ``close()`` stops the workers.
    ``command`` replaces the worker's command line (tests use a worker that crashes on cue);
    ``memory_bytes`` is the address-space cap of each worker (not enforced on Windows).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        timeout_s: float = RENDER_TIMEOUT_S,
        memory_bytes: int = RENDER_MEMORY_BYTES,
        command: Sequence[str] | None = None,
    ) -> None:
        self.size = workers or default_worker_count()
        self.timeout_s = timeout_s
        self.command = list(command or [sys.executable, "-m", "docretriever.documents.render_worker"])
        self.command += [str(memory_bytes), f"{timeout_s * CONVERSION_SHARE:g}"]
        self._processes: dict[int, _Process] = {}
        self._replies: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._next_number = 0
        self._lock = threading.Lock()

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (for tests and diagnostics)."""
        return [process.popen.pid for process in self._processes.values()]

    def inspect(self, path: Path, password: str | None = None) -> PageList:
        """Every page's size and rotation, read in a worker (its ``note`` says what pages the file
        promises but lacks). Raises :class:`DocumentError` when the file cannot be opened,
        crashes the reader, or takes longer than the time limit; :class:`EncryptedDocumentError`
        when it needs a password and ``password`` is None, :class:`WrongPasswordError` when
        ``password`` does not open it."""
        result = self._run([_Task(0, ("inspect", str(path), password), path.name)], workers=1)[0]
        if isinstance(result, DocRetrieverError):
            if isinstance(result, DocumentError):
                raise result
            raise DocumentError(str(result), details=result.details)
        infos: PageList = result
        return infos

    def render(
        self,
        path: Path,
        pages: Sequence[PageInfo],
        sizes: Sequence[tuple[int, int] | PageError],
        password: str | None = None,
    ) -> list[RenderedPage | PageError]:
        """Render ``pages`` of the PDF at ``path`` (opened with ``password`` if it needs one),
        spread over the workers, in the given order, each at its size in ``sizes`` (width,
        height in pixels, one per page: an embedder's render sizes, see
        :func:`~docretriever.embedding.base.render_sizes`, or display sizes).

        Each item is the :class:`RenderedPage` (RGB, exactly its size) or the :class:`PageError`
        saying why that page could not be rendered: a page whose size is a :class:`PageError`
        (one the model cannot take) fails with it, unrendered, as does one whose size is not two
        positive whole numbers. Raises ValueError when ``sizes`` and ``pages`` differ in length.
        """
        if len(sizes) != len(pages):
            raise ValueError(f"{len(sizes)} sizes for {len(pages)} pages")
        results: list[RenderedPage | PageError | None] = [None] * len(pages)
        tasks: list[_Task] = []
        slots: list[int] = []  # the page of each task
        for slot, (info, size) in enumerate(zip(pages, sizes, strict=True)):
            checked = _checked_size(size, info, path)
            if isinstance(checked, PageError):
                results[slot] = checked
                continue
            request = ("render", str(path), info, checked, password)
            tasks.append(_Task(len(tasks), request, _page_of(info, path), size=checked))
            slots.append(slot)
        for slot, result in zip(slots, self._run(tasks, workers=self.size), strict=True):
            results[slot] = self._rendered(result)
        return [result for result in results if result is not None]

    def words(
        self, pages: Sequence[tuple[Path, PageInfo, str | None]], *, timeout_s: float = WORDS_TIMEOUT_S
    ) -> list[WordList | DocRetrieverError]:
        """The words of each (path, page, password) in ``pages`` (its own text layer, never OCR;
        boxes on the page as displayed, see :func:`~docretriever.documents.words.read_page_words`),
        read in the workers, in the given order; give a document's pages one after another (a
        worker keeps the last file open). Each item is the page's :class:`WordList` (empty: no
        text layer) or the error saying why it could not be read: :class:`EncryptedDocumentError`
        when the file needs a password and none (or a wrong one) was given, :class:`DocumentError`
        when it cannot be opened, :class:`PageError` otherwise (a crash, ``timeout_s`` passed)."""
        tasks = [
            _Task(position, ("words", str(path), info, password), _page_of(info, path), timeout_s=timeout_s)
            for position, (path, info, password) in enumerate(pages)
        ]
        # One worker: a page's words take milliseconds, and starting more (each loads MuPDF) would
        # cost a search more than it saves.
        results: list[WordList | DocRetrieverError] = self._run(tasks, workers=1)
        return results

    @staticmethod
    def _rendered(result: Any) -> RenderedPage | PageError:
        """A render task's outcome as :meth:`render` returns it."""
        if isinstance(result, DocRetrieverError):
            return result if isinstance(result, PageError) else PageError(str(result))
        mode, size, pixels, width_pt, height_pt, renderer = result
        return RenderedPage(Image.frombytes(mode, size, pixels), width_pt, height_pt, renderer)

    def _run(self, tasks: list[_Task], workers: int) -> list[Any]:
        with self._lock:
            return self._schedule(tasks, workers)

    def _schedule(self, tasks: list[_Task], workers: int) -> list[Any]:
        results: list[Any] = [None] * len(tasks)
        waiting = list(reversed(tasks))
        running: dict[int, _Task] = {}
        idle = list(self._processes)[:workers]
        while waiting or running:
            while waiting and (idle or len(running) + len(idle) < workers):
                number = idle.pop() if idle else self._start()
                task = waiting.pop()
                task.attempts += 1
                task.started = time.monotonic()
                running[number] = task
                if not self._processes[number].send(task.request):
                    self._replace(number)
                    del running[number]
                    self._retry_or_fail(task, waiting, results, "the renderer stopped")
            if not running:
                continue
            deadline = min(t.deadline(self.timeout_s) for t in running.values())
            try:
                number, message = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                now = time.monotonic()
                for number, task in list(running.items()):
                    if now >= task.deadline(self.timeout_s):
                        self._replace(number)
                        del running[number]
                        reason = f"it took longer than {task.deadline(self.timeout_s) - task.started:g} s"
                        self._retry_or_fail(task, waiting, results, reason)
                continue
            if number not in running:  # a reply from a worker already replaced
                continue
            task = running.pop(number)
            if message is not None and message[0] == "frame":
                kind = str(task.request[0])
                try:
                    message = decode_reply(message[1], message[2], set(ERROR_KINDS), kind, task.size)
                except MalformedMessage as exc:
                    message = ("malformed", str(exc))
            if message is None or message[0] == "malformed":
                self._replace(number)
                reason = "the renderer crashed" if message is None else "the renderer's reply was malformed"
                self._retry_or_fail(task, waiting, results, reason)
                continue
            idle.append(number)
            if message[0] == "ok":
                results[task.position] = message[1]
            else:
                _, kind, text, details = message
                results[task.position] = ERROR_KINDS[kind](text, details=details)
        return results

    def _retry_or_fail(self, task: _Task, waiting: list[_Task], results: list[Any], reason: str) -> None:
        if task.attempts < _ATTEMPTS:
            waiting.append(task)
            return
        opening = task.request[0] == "inspect"
        error_type = DocumentError if opening else PageError
        verb = {"inspect": "open", "words": "read the text of"}.get(str(task.request[0]), "render")
        results[task.position] = error_type(
            f"Could not {verb} {task.what}: {reason} (tried twice).",
            details=f"request {task.request[0]!r}, {task.attempts} attempts",
        )

    def _start(self) -> int:
        number = self._next_number
        self._next_number += 1
        self._processes[number] = _Process(number, self._replies, self.command)
        return number

    def _replace(self, number: int) -> None:
        """Kill a dead or stuck worker; a new one starts when work needs it."""
        self._processes.pop(number).kill()

    def close(self) -> None:
        with self._lock:
            for process in self._processes.values():
                process.close()
            self._processes.clear()
