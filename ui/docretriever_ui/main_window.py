"""The main window: composes the search bar, the library pane, the results grid, the ingest and
model status and the model set-up, and wires them to the session. It holds no business logic of
its own."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolBar,
    QWidget,
)

from docretriever.errors import DocRetrieverError
from docretriever.library import AddReport, Hit
from docretriever.vocabulary import Document
from docretriever_ui import system
from docretriever_ui.drop_target import DropHighlight, accept_as_copy, local_path
from docretriever_ui.error_dialog import show_error
from docretriever_ui.file_dialogs import choose_document_files, choose_document_folder
from docretriever_ui.help_dialogs import AboutDialog
from docretriever_ui.ingest_status import IngestStatus, summarize, unusable_error
from docretriever_ui.library_notices import LibraryNotices
from docretriever_ui.library_pane import LibraryPane
from docretriever_ui.library_prompts import QuitGuard, confirm_removal
from docretriever_ui.library_refresh import LibraryRefresh
from docretriever_ui.like_search import MoreLikeThis
from docretriever_ui.missing_files import ForgetMissingDialog, forgot_message
from docretriever_ui.model_setup import ModelSetup
from docretriever_ui.model_status import ModelStatus
from docretriever_ui.notifications import IngestNotifier
from docretriever_ui.password_prompt import PasswordPrompts
from docretriever_ui.preferences import PreferencesDialog
from docretriever_ui.preview_pane import PreviewPane
from docretriever_ui.preview_scope import ScopeChip, above
from docretriever_ui.results_pane import ResultsPane
from docretriever_ui.search_box import SearchBox
from docretriever_ui.session import LibrarySession, ModelState
from docretriever_ui.shortcuts import ShortcutsDialog, full_screen_keys, preferences_keys, set_full_screen
from docretriever_ui.tasks import TaskError
from docretriever_ui.viewer import PageViewer

RESULTS_PER_SEARCH = 40


class MainWindow(QMainWindow):
    """Search bar on top, library on the left, results on the right, ingest and model in the
    status bar. ``model_setup.start()`` (the app calls it once the window shows) loads the model
    in the background, or asks for it."""

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.viewer: PageViewer | None = None
        self._pending_query: str | None = None  # the search under way, for its status line
        self.setWindowTitle("DocRetriever")
        self.setAcceptDrops(True)

        self.search_box = SearchBox(session.settings, self)  # Esc clears; recent searches
        self.search_box.setPlaceholderText("Search your documents — describe what the page shows (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        toolbar = QToolBar("Search", self)
        toolbar.setMovable(False)
        toolbar.addWidget(self.search_box)
        self.addToolBar(toolbar)

        self.library_pane = LibraryPane(self, settings=session.settings)
        self.results_pane = ResultsPane(session, self)
        self.results = self.results_pane.grid
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        # The selected result's page beside the results; searches may stay within some documents.
        self.scope_chip = ScopeChip(self)
        self.preview = PreviewPane(session, self)
        self.splitter.addWidget(self.library_pane)
        self.splitter.addWidget(above(self.scope_chip, self.results_pane, self))
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.setCentralWidget(self.splitter)

        self.library_notices = LibraryNotices(session, self.library_pane, self)
        self.statusBar().addPermanentWidget(self.library_notices)
        self.ingest_status = IngestStatus(self)
        self.statusBar().addPermanentWidget(self.ingest_status)  # compact: messages show beside it
        self.quit_guard = QuitGuard(self, session, self.ingest_status)
        self.model_status = ModelStatus(session, self)
        self.statusBar().addPermanentWidget(self.model_status)
        self.model_setup = ModelSetup(session, self)
        self.drop_highlight = DropHighlight(self)
        self.notifier = IngestNotifier(session, self)  # long ingests that end unseen

        # The list is read off the UI thread; PasswordPrompts asks for the files that need one.
        self.library_refresh = LibraryRefresh(session, self._list_documents, self.show_error, self)
        self.password_prompts = PasswordPrompts(session, self)

        self._build_menus()
        self._connect()
        self._restore_layout()
        self.refresh_documents()

    # --- construction ------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.add_files_action = self._action(
            file_menu, "Add &files…", self.choose_files, QKeySequence.StandardKey.Open
        )
        self._action(file_menu, "Add f&older…", self.choose_folder)
        self._action(file_menu, "&Sync with files", self.session.sync)
        self.forget_missing_action = self._action(
            file_menu, "Forget &missing documents…", self.forget_missing_documents
        )
        self.forget_missing_action.setEnabled(False)  # until the library lists missing documents
        file_menu.addSeparator()
        preferences = self._action(file_menu, "&Preferences…", self.open_preferences)
        preferences.setShortcuts(preferences_keys())  # Ctrl+, also where Qt knows none
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit_menu = self.menuBar().addMenu("&Edit")
        find = self._action(edit_menu, "&Find", self.focus_search, QKeySequence.StandardKey.Find)
        find.setShortcuts([QKeySequence(QKeySequence.StandardKey.Find), QKeySequence("Ctrl+L")])
        self.view_menu = self.menuBar().addMenu("&View")
        self.full_screen_action = self._action(self.view_menu, "&Full screen", self.toggle_full_screen)
        self.full_screen_action.setShortcuts(full_screen_keys())
        self.full_screen_action.setCheckable(True)
        self.model_menu = self.menuBar().addMenu("&Model")
        self.set_up_model_action = self._action(self.model_menu, "&Set up…", self.model_setup.open_dialog)
        self.help_menu = self.menuBar().addMenu("&Help")
        self._action(self.help_menu, "&Keyboard shortcuts", self.show_shortcuts)
        self._action(self.help_menu, "&About DocRetriever", self.show_about)

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _connect(self) -> None:
        session = self.session
        self.search_box.returnPressed.connect(self.run_search)
        self.search_box.search_requested.connect(self.run_search)
        session.documents_changed.connect(self.library_refresh.schedule)
        session.ingest_started.connect(self.ingest_status.started)
        session.ingest_progress.connect(self.ingest_status.update_progress)
        session.ingest_finished.connect(self._ingest_finished)
        session.model_state_changed.connect(self._model_state_changed)
        session.failed.connect(self.show_error)
        self.model_status.wait_changed.connect(self.ingest_status.set_model_wait)
        self.model_status.wait_changed.connect(self._show_search_status)
        self.ingest_status.cancel_button.clicked.connect(session.cancel_ingest)
        self.library_pane.remove_requested.connect(self.remove_documents)
        self.library_pane.reindex_requested.connect(session.reindex)
        self.library_pane.finish_requested.connect(session.finish_indexing)
        self.library_pane.reveal_requested.connect(
            lambda path: self._system(system.reveal_in_file_manager, path)
        )
        self.library_pane.open_requested.connect(
            lambda path: self._system(system.open_in_pdf_viewer, path, 1)
        )
        self.library_pane.file_absent.connect(self.show_file_absent)
        self.library_pane.forget_missing_requested.connect(self.forget_missing_documents)
        self.library_pane.search_within_requested.connect(self.search_within)
        self.library_pane.password_requested.connect(
            lambda doc_id: self.password_prompts.ask_for(self.library_pane.records([doc_id]))
        )
        self.results.hit_activated.connect(self.open_viewer)
        self.results.current_hit_changed.connect(
            lambda index: self.preview.show_result(self.results.hits, index)
        )
        self.results.hits_changed.connect(
            lambda: self.preview.show_result(self.results.hits, self.results.current_hit())
        )
        self.preview.current_changed.connect(self.results.select_hit)
        self.preview.open_requested.connect(self.open_viewer)
        status, within = self.statusBar().showMessage, lambda: self.scope_chip.within
        self.more_like = MoreLikeThis(
            self.results_pane.search,
            within,
            self.show_results,
            self.show_error,
            status,
            started=self.search_box.clear,
        )
        self.results.more_like_requested.connect(self.more_like.find_like_hit)
        self.preview.more_like_requested.connect(self.more_like.find)
        self.scope_chip.changed.connect(self._scope_changed)
        self.results.open_requested.connect(
            lambda path, page: self._system(system.open_in_pdf_viewer, path, page)
        )
        self.results.reveal_requested.connect(lambda path: self._system(system.reveal_in_file_manager, path))
        self.results.show_in_library_requested.connect(
            lambda doc_id: self.library_pane.show_documents([doc_id], reveal=True)
        )

    def _restore_layout(self) -> None:
        settings = self.session.settings
        # "panes", not "splitter": a layout saved before the preview pane would fold it away.
        geometry, splitter = settings.geometry("main"), settings.geometry("panes")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 720)
        if splitter is None or not self.splitter.restoreState(splitter):
            # Room for file names in the library list, which the three panes otherwise squeeze.
            self.splitter.setSizes([320, 520, 440])

    # --- actions -----------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def choose_files(self) -> None:
        if paths := choose_document_files(self, self.session.settings):  # opens where the last one did
            self.add_paths(paths)

    def choose_folder(self) -> None:
        if folder := choose_document_folder(self, self.session.settings):
            self.add_paths([folder])

    def toggle_full_screen(self) -> None:
        set_full_screen(self, not self.isFullScreen())
        self.full_screen_action.setChecked(self.isFullScreen())

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_about(self) -> None:
        dialog = AboutDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def add_paths(self, paths: list[str]) -> None:
        self.session.add(paths)

    def run_search(self) -> None:
        query = self.search_box.text().strip()
        if not query:
            return
        self._pending_query = query
        self._show_search_status()
        self.results_pane.search(
            query, RESULTS_PER_SEARCH, self.show_results, self._search_failed, within=self.scope_chip.within
        )

    def _show_search_status(self) -> None:
        """The status line of the search under way: "Searching for …", or, while the model
        loads, that the search waits for it."""
        if self._pending_query is None:
            return
        if self.model_status.loading:
            self.statusBar().showMessage(f"Searching… {self.model_status.wait_note()}")
        else:
            self.statusBar().showMessage(f"Searching for “{self._pending_query}”…")

    def _search_failed(self, error: TaskError) -> None:
        self._pending_query = None
        self.statusBar().clearMessage()
        self.show_error(error)

    def show_results(self, hits: list[Hit]) -> None:
        self._pending_query = None
        self.results.show_hits(hits)
        self.statusBar().showMessage(self.results_pane.summary(), 8000)
        if hits:
            self.results.setFocus()

    def open_viewer(self, index: int) -> None:
        if self.viewer is not None:
            self.viewer.close()
            self.viewer.deleteLater()  # one viewer at a time; the old one's page is freed
        shown = self.results.hits
        self.viewer = PageViewer(self.session, shown, index, self)

        def follow(index: int) -> None:  # until a new search replaces the results it walks through
            if self.results.hits is shown:
                self.results.select_hit(index)

        self.viewer.current_changed.connect(follow)
        self.viewer.show()  # not modal: the search box stays usable beside it

    def search_within(self, doc_ids: list[str], description: str = "") -> None:
        """Keep searches within these documents (the library pane's "Search in selected
        documents", or a folder's, ``description`` naming it) until the scope chip's ✕."""
        self.scope_chip.set_scope(self.library_pane.records(doc_ids), description)

    def _scope_changed(self) -> None:
        if self.search_box.text().strip():  # the query shown, again, within the new scope
            self.run_search()
        self.focus_search()

    def remove_documents(self, doc_ids: list[str]) -> None:
        if confirm_removal(self, self.library_pane.records(doc_ids)):
            self.session.remove(doc_ids)

    def forget_missing_documents(self) -> None:
        """Ask, then forget the documents listed as missing (the core checks each again)."""
        missing = self.library_pane.missing_documents()
        if missing and ForgetMissingDialog(missing, self).confirmed():
            self.session.prune(missing, self._forgotten)

    def _forgotten(self, documents: list[Document]) -> None:
        self.statusBar().showMessage(forgot_message(len(documents)), 15000)
        gone = {document.doc_id for document in documents}
        if any(hit.doc_id in gone for hit in self.results.hits):  # their pages are not found any more
            self.results.show_hits([hit for hit in self.results.hits if hit.doc_id not in gone])

    def show_file_absent(self, note: str) -> None:
        """Open or reveal was asked of a document whose file is not on disk: say why not."""
        self.statusBar().showMessage(note, 15000)
        box = QMessageBox(
            QMessageBox.Icon.Information, "File not on disk", note, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def open_preferences(self) -> None:
        watch = self.session.recall_watch  # whether the library remembers searches: it keeps that
        dialog = PreferencesDialog(self.session.settings, self, remember_searches=watch.remembering())
        if not dialog.exec():
            return
        if "remember_searches" in dialog.changed and dialog.remember_searches is not None:
            watch.set_remembering(dialog.remember_searches)
        self.session.folder_watch.apply()  # the switch "Watch added folders for changes"
        if not dialog.needs_reopen:
            return
        if self.session.ingesting:
            self.show_error(TaskError("The new settings apply after the current indexing finishes.", ""))
            return
        self.model_setup.settings_changed()

    def refresh_documents(self) -> None:
        """Read the library's documents again, in the background (``library_refresh.refreshed``)."""
        self.library_refresh.refresh()

    def _list_documents(self, documents: list[Document]) -> None:
        self.library_pane.set_documents(documents)
        self.forget_missing_action.setEnabled(bool(self.library_pane.missing_documents()))

    def show_error(self, error: TaskError) -> None:
        show_error(error, self)

    # --- session events ----------------------------------------------------------------------

    def _ingest_finished(self, outcome: AddReport | TaskError) -> None:
        if not self.session.ingesting:
            self.ingest_status.finished()
            # The final state at once, not through the throttle: a fresh-clone CI run twice
            # showed documents still "Pending" after their ingest had ended.
            self.refresh_documents()
        self.statusBar().showMessage(summarize(outcome), 15000)
        if isinstance(outcome, TaskError) and not outcome.cancelled:
            self.show_error(outcome)
        elif isinstance(outcome, AddReport) and (unused := unusable_error(outcome)):
            self.show_error(unused)

    def _model_state_changed(self, state: ModelState) -> None:
        if state is ModelState.FAILED and self.session.model_error is not None:
            self.show_error(self.session.model_error)

    def _system(self, function: Callable[..., None], *args: object) -> None:
        try:
            function(*args)
        except DocRetrieverError as exc:
            self.show_error(TaskError(str(exc), exc.details))

    # --- window events -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        # A copy, never a move: after a move the file manager may delete what it dragged.
        if accept_as_copy(event):
            self.drop_highlight.cover()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_as_copy(event)  # again: the source may propose a move when a modifier is pressed

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_highlight.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_highlight.hide()
        if accept_as_copy(event):
            self.add_paths([local_path(url) for url in event.mimeData().urls() if url.isLocalFile()])

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.quit_guard.allows_close():  # indexing runs: asked first (window-modal)
            event.ignore()
            return
        settings = self.session.settings
        settings.set_geometry("main", self.saveGeometry())
        settings.set_geometry("panes", self.splitter.saveState())
        settings.sync()
        self.session.close()
        super().closeEvent(event)
