"""The GUI's one handle on the core: it opens the library and runs its calls off the UI thread.

Panes call the session and listen to its signals; they never touch the core directly, and the
session holds no rules of its own beyond ordering (one ingest at a time, the newest search wins).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from docretriever.documents.passwords import PasswordStore
from docretriever.embedding import Embedder, ModelIdentity
from docretriever.highlight import draw_highlights
from docretriever.library import AddReport, Hit, Library, open_library
from docretriever.progress import CancelToken, Progress, ProgressCallback
from docretriever.vocabulary import Document
from docretriever_ui.folder_watch import FolderWatch
from docretriever_ui.images import to_qimage
from docretriever_ui.like_search import LikePage, search_or_like
from docretriever_ui.recall_watch import RecallWatcher
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import PROGRESS_INTERVAL_S, TaskError, TaskHandle, TaskRunner

if TYPE_CHECKING:  # its module loads PyMuPDF, which the window does not need to open
    from docretriever.documents.pdf import PageInfo

CLOSE_WAIT_MS = 3000
# The model load goes ahead of queued searches (1) and renders (0): they wait for it anyway.
_LOAD_PRIORITY = 2


class ModelState(Enum):
    """Where the session's model stands; see :meth:`LibrarySession.load_model`."""

    NOT_LOADED = "not loaded"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class LibrarySession(QObject):
    """Opens the library named in the settings and runs its operations on a TaskRunner.

    Signals arrive on the UI thread: ``documents_changed`` after any change to the library;
    ``ingest_progress(Progress)`` and ``ingest_finished(AddReport | TaskError)`` for add, sync,
    re-index and finishing (``ingest_finished`` comes once per ingest, after the changes it made
    are readable and after its last ``documents_changed``: what shows the library, or results
    from it, refreshes on it; ``ingesting`` says whether another ingest is still queued);
    ``model_progress(Progress)`` while a model downloads or loads;
    ``model_state_changed(ModelState)`` when a background load starts, ends or is dropped (see
    ``model_identity`` and ``model_error``); ``failed(TaskError)`` for errors of calls that were
    given no ``on_error``.
    """

    documents_changed = Signal()
    ingest_started = Signal()
    ingest_progress = Signal(object)
    ingest_finished = Signal(object)
    model_progress = Signal(object)
    model_state_changed = Signal(object)
    failed = Signal(object)

    def __init__(
        self,
        settings: AppSettings,
        runner: TaskRunner | None = None,
        *,
        embedder: Embedder | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = runner or TaskRunner(parent=self)
        self._embedder = embedder
        self._library: Library | None = None
        self.passwords = PasswordStore()  # of PDFs that need one: for this run, or the system keyring
        self._ingests: list[TaskHandle] = []  # queued on the serial writer, oldest first
        self._search_generation = 0
        self._last_model_report = 0.0
        # The workers open the library on first use, once, under this lock; reopen and close
        # swap it under the same lock, so that an open under way never brings back the old one.
        self._open_lock = threading.Lock()
        self._model_state = ModelState.NOT_LOADED
        self._model_load: TaskHandle | None = None
        self._library_generation = 0  # a load started before a reopen reports nothing
        self.model_identity: ModelIdentity | None = None
        self.model_error: TaskError | None = None
        # Measures the library's search quality when the app is idle (and reads it for About).
        self.recall_watch = RecallWatcher(
            self,
            settings,
            self.runner,
            library=lambda: self.library,
            busy=lambda: self.ingesting or self.model_state is not ModelState.READY,
            failed=self.failed.emit,
        )
        self.ingest_started.connect(self.recall_watch.pause)
        self.folder_watch = FolderWatch(
            settings, lambda: self.library, self.start_ingest, self.documents_changed, self
        )

    # --- the library -------------------------------------------------------------------------

    @property
    def library(self) -> Library:
        with self._open_lock:
            if self._library is None:
                self._library = open_library(
                    self.settings.library,
                    self.settings.model_spec(),
                    embedder=self._embedder,
                    progress=self._report_model_progress,
                    token_pooling_for_new=self.settings.token_pooling,
                    api_key=self.settings.qdrant_api_key or None,
                    passwords=self.passwords,
                )
            return self._library

    @property
    def library_generation(self) -> int:
        """Counts :meth:`reopen` calls: what was read before the last one is of another library."""
        return self._library_generation

    def reopen(self) -> None:
        """Open the library again with the current settings (after Preferences or the model
        dialog). Waits for no task (only for an open under way, which it then drops): a task
        still using the old library keeps it until it finishes, and the old library's files are
        released when the last such task drops it. A model load in flight is cancelled and
        forgotten; call :meth:`load_model` for the new one."""
        self._library_generation += 1
        self.recall_watch.library_changed()
        if self._model_load is not None:
            self._model_load.cancel()
            self._model_load = None
        with self._open_lock:
            old, self._library = self._library, None
        if self.runner.idle() and old is not None:
            old.close()
        self._set_model_state(ModelState.NOT_LOADED)
        self.documents_changed.emit()

    def close(self) -> None:
        """Stop what can be stopped and release the library; never blocks for long. A task that
        cannot stop in time (a model still loading) keeps the library until the process ends."""
        self.folder_watch.stop()
        self.cancel_ingest()
        self.recall_watch.pause()
        if self._model_load is not None:
            self._model_load.cancel()
        finished = self.runner.wait(CLOSE_WAIT_MS)
        with self._open_lock:
            old, self._library = self._library, None
        if finished and old is not None:
            old.close()

    def _report_model_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        finished = progress.total is not None and progress.done >= progress.total
        if finished or now - self._last_model_report >= PROGRESS_INTERVAL_S:
            self._last_model_report = now
            self.model_progress.emit(progress)  # queued to the UI thread by Qt

    def documents(self) -> list[Document]:
        """Every document, read on the calling thread (workers, tests); the window: read_documents."""
        return self.library.documents()

    # --- the model (the reader pool) ---------------------------------------------------------

    @property
    def model_state(self) -> ModelState:
        return self._model_state

    def load_model(self) -> TaskHandle | None:
        """Load the model in the background now, instead of making the first search or ingest
        wait silently for it. Searches and ingests started meanwhile queue behind the load in
        the core (they wait on the library's load lock), so nothing here orders them.

        Returns the running load's handle (the same one when a load is already running), or
        None when the model is already loaded."""
        if self._model_state is ModelState.READY:
            return None
        if self._model_load is not None and self._model_state is ModelState.LOADING:
            return self._model_load
        generation = self._library_generation

        def work(progress: ProgressCallback, cancel: CancelToken) -> ModelIdentity:
            return self.library.load_model(progress, cancel)

        def done(identity: ModelIdentity) -> None:
            if generation == self._library_generation:
                self._model_load = None
                self.model_identity = identity
                self._set_model_state(ModelState.READY)

        def fail(error: TaskError) -> None:
            if generation == self._library_generation:
                self._model_load = None
                self.model_error = None if error.cancelled else error
                self._set_model_state(ModelState.NOT_LOADED if error.cancelled else ModelState.FAILED)

        self.model_identity = self.model_error = None
        self._model_load = self.runner.read(
            work, priority=_LOAD_PRIORITY, on_done=done, on_error=fail, on_progress=self.model_progress.emit
        )
        self._set_model_state(ModelState.LOADING)
        return self._model_load

    def _set_model_state(self, state: ModelState) -> None:
        if state is not self._model_state:
            self._model_state = state
            self.model_state_changed.emit(state)

    def _needs_model(self) -> None:
        """Before a search or ingest: start the load visibly if nobody has (after "Not now",
        say); a failed load is not retried here, the task itself reports why it cannot run."""
        if self._model_state is ModelState.NOT_LOADED:
            self.load_model()

    # --- changes (the serial writer) ---------------------------------------------------------

    @property
    def ingesting(self) -> bool:
        """True while an add or re-index is running or queued."""
        self._ingests = [handle for handle in self._ingests if not handle.finished]
        return bool(self._ingests)

    def add(
        self, paths: Sequence[str], passwords: Mapping[str, str] | None = None, remember: bool = False
    ) -> TaskHandle:
        """Index files and folders in the background; progress and the report come as signals.
        ``passwords`` open the files (by path) that need one; with ``remember`` those that do are
        also kept in the system keyring."""
        given = dict(passwords or {})

        def work(progress: ProgressCallback, cancel: CancelToken) -> AddReport:
            library = self.library
            return library.add(list(paths), progress, cancel, passwords=given, remember_passwords=remember)

        return self.start_ingest(work)

    def sync(self) -> TaskHandle:
        """Follow the files on disk (in the background): index new and edited files, find moved
        ones, mark those no longer there as missing (kept until :meth:`prune`)."""
        return self.start_ingest(lambda progress, cancel: self.library.sync(progress, cancel))

    def reindex(self, doc_id: str) -> TaskHandle:
        return self.start_ingest(lambda progress, cancel: self.library.reindex(doc_id, progress, cancel))

    def finish_indexing(self, doc_ids: Sequence[str]) -> TaskHandle:
        """Finish documents whose indexing stopped before their last page (pending after a
        Cancel, or a quit during an add or a re-index): their files are added again, which
        embeds only the pages not stored yet. The documents are looked up on the writer."""
        wanted = set(doc_ids)

        def work(progress: ProgressCallback, cancel: CancelToken) -> AddReport:
            paths = [
                next((path for path in document.paths if os.path.exists(path)), document.paths[0])
                for document in self.library.documents()
                if document.doc_id in wanted and document.paths
            ]
            return self.library.add(paths, progress, cancel)

        return self.start_ingest(work)

    def cancel_ingest(self) -> None:
        """Stop the running add or re-index and drop the queued ones (they stop at once)."""
        for handle in self._ingests:
            handle.cancel()

    def start_ingest(self, work: Callable[[ProgressCallback, CancelToken], AddReport]) -> TaskHandle:
        """Queue ``work`` (an add, a sync...) on the serial writer, reported as every ingest."""
        self._needs_model()
        handle = self.runner.write(
            work,
            on_progress=self._ingest_progress,
            on_done=self._ingest_done,
            on_error=self._ingest_done,
        )
        self._ingests.append(handle)
        self.ingest_started.emit()  # after: its receivers see ``ingesting``
        return handle

    def _ingest_progress(self, progress: Progress) -> None:
        self.ingest_progress.emit(progress)
        if progress.stage == "Indexing":
            self.documents_changed.emit()

    def _ingest_done(self, outcome: AddReport | TaskError) -> None:
        self.documents_changed.emit()
        self.ingest_finished.emit(outcome)

    def remove(self, doc_ids: Sequence[str]) -> TaskHandle:
        def work(progress: ProgressCallback, cancel: CancelToken) -> None:
            for doc_id in doc_ids:
                self.library.remove(doc_id)

        return self.runner.write(
            work, on_done=lambda _: self.documents_changed.emit(), on_error=self._removal_failed
        )

    def prune(
        self,
        documents: Sequence[Document] | None = None,
        on_done: Callable[[list[Document]], None] | None = None,
    ) -> TaskHandle:
        """Forget missing documents (``documents``, default all of them) on the writer; the
        core checks each again first, and ``on_done`` gets those it forgot."""
        chosen = list(documents) if documents is not None else None

        def work(progress: ProgressCallback, cancel: CancelToken) -> list[Document]:
            return self.library.prune(chosen, progress, cancel)

        def done(forgotten: list[Document]) -> None:
            self.documents_changed.emit()
            if on_done is not None:
                on_done(forgotten)

        return self.runner.write(work, on_done=done, on_error=self._removal_failed)

    def _removal_failed(self, error: TaskError) -> None:
        self.documents_changed.emit()
        self.failed.emit(error)

    # --- reads (the reader pool) -------------------------------------------------------------

    def read_documents(
        self,
        on_done: Callable[[list[Document]], None],
        on_error: Callable[[TaskError], None] | None = None,
    ) -> TaskHandle:
        """Read every document in the background (on a Qdrant library, a network scroll)."""
        return self.runner.read(
            lambda progress, cancel: self.library.documents(),
            priority=1,  # a person looks at the list
            on_done=on_done,
            on_error=on_error or self.failed.emit,
        )

    def search(
        self,
        query: str,
        k: int,
        on_done: Callable[[list[Hit]], None],
        on_error: Callable[[TaskError], None] | None = None,
        *,
        within: Collection[str] | None = None,
        like: LikePage | None = None,
    ) -> TaskHandle:
        """Search in the background (``within``: only those documents' pages, by doc id; ``like``:
        the pages like that page, see like_search.py). Only the newest search's results arrive."""
        self._search_generation += 1
        generation = self._search_generation

        def deliver(hits: list[Hit]) -> None:
            self.recall_watch.searched()  # measured once the app is quiet for a while
            if generation == self._search_generation:
                on_done(hits)

        def fail(error: TaskError) -> None:
            if generation == self._search_generation:
                (on_error or self.failed.emit)(error)

        self._needs_model()
        # Searches go ahead of queued thumbnail renders: a person waits on them.
        return self.runner.read(
            lambda progress, cancel: search_or_like(self.library, query, k, within, like),
            priority=1,
            on_done=deliver,
            on_error=fail,
        )

    def render_page(
        self,
        doc_id: str,
        page: int,
        max_pixels: int,
        on_done: Callable[[QImage], None],
        on_error: Callable[[TaskError], None] | None = None,
    ) -> TaskHandle:
        """Render page ``page`` (1-based) of a document to a QImage of at most ``max_pixels``."""
        return self.runner.read(
            lambda progress, cancel: to_qimage(self.library.render_page(doc_id, page, max_pixels).image),
            on_done=on_done,
            on_error=on_error or self.failed.emit,
        )

    def page_infos(
        self,
        doc_id: str,
        on_done: Callable[[list[PageInfo]], None],
        on_error: Callable[[TaskError], None] | None = None,
    ) -> TaskHandle:
        """Every page of a document (size, printed number), for leafing through it."""
        return self.runner.read(
            lambda progress, cancel: self.library.page_infos(doc_id),
            priority=1,  # a person is waiting to turn the page
            on_done=on_done,
            on_error=on_error or self.failed.emit,
        )

    def render_hit(
        self,
        hit: Hit,
        max_pixels: int,
        on_done: Callable[[QImage], None],
        on_error: Callable[[TaskError], None] | None = None,
    ) -> TaskHandle:
        """Render a hit's page with its heat map and region boxes drawn in (thumbnails)."""

        def work(progress: ProgressCallback, cancel: CancelToken) -> Any:
            page = self.library.render_page(hit.doc_id, hit.page, max_pixels)
            return to_qimage(draw_highlights(page.image, hit.heat(), hit.regions(), hit.page_size))

        return self.runner.read(work, on_done=on_done, on_error=on_error or self.failed.emit)
