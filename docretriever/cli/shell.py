"""``shell``: one model load, then as many searches as people type.

A ``docretriever search`` spends seconds before it searches: importing torch, transformers and
colpali-engine, then loading the weights, while the search itself takes a fraction of a second
(README, "Using the command line"). The shell pays that once and then reads one query per line:
typed at a ``search>`` prompt when stdin is a terminal, or piped, without prompts, so that a file
of queries gives the hits of each, as ``search`` prints them, each query's ending with its time.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from docretriever.cli.like import parse_like
from docretriever.cli.progress_bar import ProgressBar
from docretriever.cli.results import print_hits
from docretriever.errors import DocRetrieverError, InvalidInputError
from docretriever.library import Hit, Library

PROMPT = "search> "
QUIT = frozenset({":q", ":quit", "quit", "exit"})
HELP = (
    "Type a query. `:like DOC:PAGE` finds pages like that page, `:k N` sets the number of results, "
    "`:q` or Ctrl-D quits, Ctrl-C stops a search."
)
# How often the main thread looks up from a running search: a Ctrl-C is handled there, and on
# Windows only between two waits.
_WAIT_S = 0.1


def run_shell(library: Library, args: argparse.Namespace) -> int:
    """Load the model, then answer queries from stdin until ``:q``, ``quit`` or the end of input."""
    if args.k < 1:  # before the model's load, which takes a while
        raise InvalidInputError("The number of results (-k) must be at least 1.")
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_line_editing()
    # Options ``search`` has and ``shell`` may get: printed the same way when they are there.
    printing = argparse.Namespace(
        json=getattr(args, "json", False), highlight_dir=getattr(args, "highlight_dir", None)
    )
    session = _Session(library, args.k, printing, debug=getattr(args, "debug", False))
    with _ctrl_c_raises():
        bar = ProgressBar()
        started = time.perf_counter()
        identity = library.load_model(progress=bar)
        bar.finish()
        print(f"Loaded {identity.model_id} in {time.perf_counter() - started:.1f} s.", file=sys.stderr)
        if interactive:
            print(HELP, file=sys.stderr)
        try:
            while True:
                try:
                    line = _read_line(interactive)
                except KeyboardInterrupt:  # at the prompt: a fresh line, as Python's own prompt does
                    print(file=sys.stderr)
                    continue
                if line is None or not session.handle(line):
                    break
        finally:
            # The library closes after this returns: a search left running must end first.
            session.wait_for_stopped()
    return 0


def _read_line(interactive: bool) -> str | None:
    """The next line of input without its line end; None at the end of input."""
    if interactive:
        try:
            return input(PROMPT)
        except EOFError:  # Ctrl-D: end the prompt's line
            print(file=sys.stderr)
            return None
    line = sys.stdin.readline()
    return line.rstrip("\r\n") if line else None


class _Session:
    """The number of results asked for and the search running, if any, between two lines."""

    def __init__(self, library: Library, k: int, printing: argparse.Namespace, *, debug: bool) -> None:
        self.library = library
        self.k = k
        self.printing = printing
        self.debug = debug
        self._stopped: _Search | None = None  # a search Ctrl-C left, still running

    def handle(self, line: str) -> bool:
        """Do what ``line`` says; False when it says to quit."""
        text = line.strip()
        if not text:
            return True
        if text.lower() in QUIT:
            return False
        try:
            if text.startswith(":"):
                self._command(text)
            else:
                k = self.k
                self._search(lambda: self.library.search(text, k=k))
        except DocRetrieverError as exc:
            if self.debug:
                traceback.print_exc()
                if exc.details:
                    print(exc.details, file=sys.stderr)
            print(f"error: {exc}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("\nStopped; the next query starts when that search has ended.", file=sys.stderr)
        return True

    def _command(self, text: str) -> None:
        name, _, value = text.partition(" ")
        if name == ":like":
            reference, page = parse_like(value, ":like")
            k = self.k
            self._search(lambda: self.library.search_like(reference, page, k=k))
            return
        if name != ":k":
            raise InvalidInputError(f"Unknown command {name}. {HELP}")
        if not value.strip():
            print(f"{self.k} results per query.", file=sys.stderr)
            return
        try:
            k = int(value)
        except ValueError:
            k = 0
        if k < 1:
            raise InvalidInputError(f"`:k` takes a whole number, 1 or more, not {value.strip()!r}.")
        self.k = k

    def _search(self, run: Callable[[], list[Hit]]) -> None:
        """Run one search (``run``), print its hits and its time."""
        self.wait_for_stopped()
        started = time.perf_counter()
        search = _Search(run)
        search.start()
        self._stopped = search  # until it returns: a Ctrl-C while waiting leaves it here
        hits = search.result()
        self._stopped = None
        print_hits(self.library, hits, self.printing)
        # With JSON on stdout, the time goes to stderr, so that stdout stays JSON lines.
        took = sys.stderr if self.printing.json else sys.stdout
        print(f"({time.perf_counter() - started:.2f} s)", file=took, flush=True)

    def wait_for_stopped(self) -> None:
        """Wait for a search Ctrl-C stopped waiting for: one search at a time, and none running
        once the library closes. Errors of that search were already given up on."""
        if self._stopped is not None and self._stopped.is_alive():
            print("(waiting for the stopped search to end)", file=sys.stderr, flush=True)
            self._stopped.wait()
        self._stopped = None


class _Search(threading.Thread):
    """One query, on a thread of its own so that Ctrl-C can leave it. A KeyboardInterrupt raised
    inside the search could stop it halfway through updating the search index; this way the
    search runs to its end unseen, and the shell waits for it before the next one."""

    def __init__(self, run: Callable[[], list[Hit]]) -> None:
        super().__init__(name="docretriever-shell-search", daemon=True)
        self._run = run
        self._hits: list[Hit] = []
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._hits = self._run()
        except BaseException as exc:  # handed to the main thread, which raises it there
            self._error = exc

    def wait(self) -> None:
        # join() in short waits: the main thread's Ctrl-C handler then runs (Windows too).
        while self.is_alive():
            self.join(_WAIT_S)

    def result(self) -> list[Hit]:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._hits


@contextmanager
def _ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt here, for the shell to catch. The CLI's own handler asks a
    command to stop at its next batch, and quits on a second Ctrl-C, which would end the session;
    while the model loads, Ctrl-C quits at once (a download keeps what it has fetched)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _enable_line_editing() -> None:
    """Arrow keys and this session's history at the prompt: input() uses readline once it has
    been imported. Windows has no readline, and input() works without it."""
    with suppress(ImportError):
        import readline  # noqa: F401
