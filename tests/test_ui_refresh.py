"""The window never reads the library on the UI thread: the list of documents is read on the
reader pool, refreshes are coalesced (one read in flight, one waiting), a read of a library
reopened since is dropped, and the session's lazy open is safe against a reopen meanwhile."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import shiboken6
from conftest import SAMPLES, corpus_or_skip

from docretriever.vocabulary import Document
from docretriever_ui import session as session_module
from docretriever_ui.library_refresh import LibraryRefresh
from docretriever_ui.main_window import MainWindow
from docretriever_ui.tasks import TaskError

INGEST_MS = 120_000


class Watched:
    """A library that records every use of it from the UI (main) thread, and whose
    ``documents()`` can be held (``hold``) or answered with another list (``answer``)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.on_ui_thread: list[str] = []
        self.reads = 0  # documents() calls, on any thread
        self.reading = threading.Event()  # set when a held read has begun
        self.hold: threading.Event | None = None
        self.answer: list[Document] | None = None

    def __getattr__(self, name: str) -> Any:
        if threading.current_thread() is threading.main_thread():
            self.on_ui_thread.append(name)
        return getattr(self._inner, name)

    def documents(self) -> list[Document]:
        if threading.current_thread() is threading.main_thread():
            self.on_ui_thread.append("documents")
        self.reads += 1
        hold, answer = self.hold, self.answer
        if hold is not None:
            self.reading.set()
            assert hold.wait(30), "the test never let the read go on"
        return list(answer) if answer is not None else self._inner.documents()


@pytest.fixture()
def watched(ui_session, monkeypatch: pytest.MonkeyPatch) -> list[Watched]:
    """Every library ``ui_session`` opens, watched; an open on the UI thread is recorded too.
    (A window of an earlier test, not deleted yet, may still open its own: left alone.)"""
    opened: list[Watched] = []
    real = session_module.open_library

    def open_watched(*args: Any, **kwargs: Any) -> Any:
        if args[0] != ui_session.settings.library:
            return real(*args, **kwargs)
        library = Watched(real(*args, **kwargs))
        if threading.current_thread() is threading.main_thread():
            library.on_ui_thread.append("open_library")
        opened.append(library)
        return library

    monkeypatch.setattr(session_module, "open_library", open_watched)
    return opened


def test_the_window_reads_the_library_only_off_the_ui_thread(ui_session, watched, qtbot) -> None:
    pdf = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    window = MainWindow(ui_session)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.library_refresh.refreshed, timeout=10_000):
        window.show()
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=INGEST_MS):
        window.add_paths([str(pdf)])
    qtbot.waitUntil(lambda: window.library_pane.tree.topLevelItemCount() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not window.library_refresh.busy, timeout=10_000)
    item = window.library_pane.tree.topLevelItem(0)
    window.library_pane.tree.setCurrentItem(item)  # the details strip, the menu: from the list
    window.library_pane.context_menu(item).deleteLater()
    window.results_pane.look_at_library()
    with qtbot.waitSignal(window.library_refresh.refreshed, timeout=10_000):
        window.refresh_documents()
    (library,) = watched
    assert library.reads >= 3  # read: at start, after the ingest, and when asked
    assert library.on_ui_thread == []
    # Negative control: a read on the UI thread is seen.
    ui_session.documents()
    assert library.on_ui_thread == ["documents"]


def test_refreshes_are_coalesced_one_in_flight_and_one_waiting(ui_session, watched, qtbot) -> None:
    delivered: list[list[Document]] = []
    refresh = LibraryRefresh(ui_session, delivered.append, lambda error: None)
    with qtbot.waitSignal(refresh.refreshed, timeout=10_000):
        refresh.refresh()
    (library,) = watched
    assert (library.reads, len(delivered)) == (1, 1)

    library.hold = threading.Event()
    library.reading.clear()
    refresh.refresh()
    assert library.reading.wait(10)
    for _ in range(5):  # while that read is held: they wait for it, as one
        refresh.refresh()
    assert library.reads == 2 and refresh.busy
    library.hold.set()
    library.hold = None
    with qtbot.waitSignal(refresh.refreshed, timeout=10_000):
        pass
    assert (library.reads, len(delivered)) == (3, 3)  # the held read, then one for the five
    assert not refresh.busy


def test_a_read_of_a_library_reopened_since_is_dropped(ui_session, watched, qtbot) -> None:
    delivered: list[list[Document]] = []
    errors: list[TaskError] = []
    refresh = LibraryRefresh(ui_session, delivered.append, errors.append)
    with qtbot.waitSignal(refresh.refreshed, timeout=10_000):
        refresh.refresh()
    old = watched[0]
    stale = Document("ab" * 32, ("/old/stale.pdf",), 1, 1, "indexed", None, None, 0.0)
    old.hold, old.answer = threading.Event(), [stale]
    refresh.refresh()
    assert old.reading.wait(10)

    ui_session.reopen()  # other settings: what the held read returns is of the old library
    with qtbot.waitSignal(refresh.refreshed, timeout=10_000):
        refresh.refresh()  # starts at once, not after the held read
    assert len(watched) == 2 and delivered[-1] == []  # the reopened library's (empty) list
    with qtbot.waitSignal(ui_session.runner.finished_any, timeout=10_000):
        old.hold.set()
    assert all(stale not in documents for documents in delivered) and errors == []
    assert len(delivered) == 2
    old.close()  # reopen left it to the read that held it


def test_a_reopen_while_the_library_opens_never_brings_the_old_one_back(
    ui_session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lazy open and reopen share a lock: a reopen that comes while a worker opens the
    library waits for it, then drops what it opened (with the old settings)."""
    opening, reopening = threading.Event(), threading.Event()
    opened: list[object] = []

    class Closable:
        closed = False

        def close(self) -> None:
            self.closed = True

    def slow_open(*args: Any, **kwargs: Any) -> Closable:
        opening.set()
        # Until the reopen is under way: waiting on the lock (fixed), or done (without the lock).
        assert reopening.wait(10)
        library = Closable()
        opened.append(library)
        return library

    class SeenLock:
        """The session's lock, telling when the UI thread starts to wait for it."""

        def __init__(self) -> None:
            self._lock = threading.Lock()

        def __enter__(self) -> None:
            if threading.current_thread() is threading.main_thread():
                reopening.set()
            self._lock.acquire()

        def __exit__(self, *exc: object) -> None:
            self._lock.release()

    monkeypatch.setattr(session_module, "open_library", slow_open)
    monkeypatch.setattr(ui_session, "_open_lock", SeenLock())
    worker = threading.Thread(target=lambda: ui_session.library)
    worker.start()
    assert opening.wait(10)
    ui_session.reopen()
    reopening.set()  # without the lock, the reopen is over before the open ends
    worker.join(10)
    assert not worker.is_alive()
    assert ui_session._library is None  # the next use opens it with the settings of now
    assert len(opened) == 1 and opened[0].closed


def test_a_list_read_back_after_its_window_is_gone_is_dropped(ui_session, watched, qtbot) -> None:
    window = MainWindow(ui_session)
    with qtbot.waitSignal(window.library_refresh.refreshed, timeout=10_000):
        window.show()
    qtbot.waitUntil(ui_session.runner.idle, timeout=10_000)  # the results pane's look too
    (library,) = watched
    library.hold = threading.Event()
    window.refresh_documents()
    assert library.reading.wait(10)
    shiboken6.delete(window)  # closed while its list is being read
    with qtbot.waitSignal(ui_session.runner.finished_any, timeout=10_000):
        library.hold.set()  # what comes back has nowhere to go, and raises nothing
