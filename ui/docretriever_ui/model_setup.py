"""What happens when the model may be missing or may have changed: at start-up, after
Preferences, and from Model → Set up….

:class:`ModelSetup` asks the core off the UI thread whether the configured model is on this
computer. If it is, the session loads it in the background at once; if not, the set-up dialog
opens. Once the dialog has got a model (downloaded, or a folder chosen), the library is opened
again with it and the load starts. The main window only forwards its menu and Preferences here.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QWidget

from docretriever.embedding.model_files import model_is_available
from docretriever_ui.model_dialog import ModelSetupDialog
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError


class ModelSetup(QObject):
    """Gets the session a model: loads it when it is here, opens the set-up dialog when not.

    ``dialog`` is the open set-up dialog, if any (one at a time). Paths handed to :meth:`start`
    ("Open with DocRetriever") are added once there is a model, and dropped after "Not now".
    """

    def __init__(self, session: LibrarySession, window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.window = window
        self.dialog: ModelSetupDialog | None = None
        self._pending_paths: list[str] = []
        self._check_generation = 0
        self._checking = False  # a check is under way: its answer decides what pending paths get

    def start(self, paths: Sequence[str] = ()) -> None:
        """At start-up: load the model in the background if it is on this computer, otherwise
        open the set-up dialog."""
        self._pending_paths = list(paths)
        self.check()

    def settings_changed(self) -> None:
        """After Preferences changed the model, the device or the library: open the library with
        the new settings, then check the model (the dialog when it is missing, else a load)."""
        self.session.reopen()
        self.check()

    def add_when_ready(self, paths: Sequence[str]) -> None:
        """Add ``paths`` ("Open with" while the app runs) now, or, while the model is being
        looked for or set up, once there is one (dropped after "Not now", like at start-up)."""
        if self._checking or self.dialog is not None:
            self._pending_paths += paths
        else:
            self.session.add(paths)

    def check(self) -> None:
        """Ask the disk, off the UI thread, whether the configured model is here (none chosen:
        the one the library was built with, which then becomes the app's model); then load it
        or open the set-up dialog. Only the newest check acts."""
        self._check_generation += 1
        generation = self._check_generation
        settings, session = self.session.settings, self.session
        chosen = settings.model if settings.model_chosen else None
        self._checking = True

        def look() -> tuple[str | None, bool]:
            # No model chosen: the library's own, when it was built with one (opening the
            # library reads it, so this runs off the UI thread); else the default.
            remembered = None if chosen else session.library.recorded_model_source()
            return remembered, model_is_available(chosen or remembered or settings.model)

        def checked(answer: tuple[str | None, bool]) -> None:
            remembered, available = answer
            if generation == self._check_generation:
                self._checking = False
                if remembered and not settings.model_chosen:
                    settings.model = remembered  # the app now uses (and shows) the library's model
                self._checked(available)

        def failed(error: TaskError) -> None:  # a bug in the check: say so, offer the dialog
            if generation == self._check_generation:
                self._checking = False
                self.session.failed.emit(error)
                self.open_dialog()

        # The side pool: a model load in flight may hold every reader.
        self.session.runner.side(lambda progress, cancel: look(), on_done=checked, on_error=failed)

    def open_dialog(self) -> ModelSetupDialog:
        """The set-up dialog, whether the model is here or not (it says which); an open one is
        raised instead of opening a second."""
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        session = self.session
        dialog = ModelSetupDialog(
            session.settings,
            session.runner,
            self.window,
            refusal=lambda source: session.library.why_model_refused(source),
        )
        dialog.accepted.connect(self._model_set_up)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _checked(self, available: bool) -> None:
        if available:
            self.session.load_model()
            self._add_pending()
        else:
            self.open_dialog()

    def _model_set_up(self) -> None:
        # The model may be another one (a folder chosen) or newly on disk: a fresh library.
        self.session.reopen()
        self.session.load_model()
        self._add_pending()

    def _dialog_closed(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if result != QDialog.DialogCode.Accepted:
            self._pending_paths = []
        if dialog is not None:
            dialog.deleteLater()

    def _add_pending(self) -> None:
        paths, self._pending_paths = self._pending_paths, []
        if paths:
            self.session.add(paths)
