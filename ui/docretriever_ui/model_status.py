"""The model's state in the status bar, so that its load is never a silent wait.

While the session loads the model in the background, :class:`ModelStatus` reads "Loading the
model… 12 s" (the time ticking each second, with the download's progress when there is one);
when it is ready, "Model ready: <model>" for a few seconds; after a failure, "Model not loaded"
until the next load (the error itself is the main window's error dialog). It is a permanent
status-bar widget, so it never hides the window's own messages, and each second of a load it
emits :attr:`ModelStatus.wait_changed` for the search and ingest that queue behind the load.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from docretriever.embedding import ModelIdentity
from docretriever.progress import Progress
from docretriever_ui.ingest_status import describe
from docretriever_ui.model_dialog_core import describe_download
from docretriever_ui.model_progress import ERROR_STYLE
from docretriever_ui.session import LibrarySession, ModelState

TICK_MS = 1000
_LOADING = "Loading the model"  # the core's stage once the files are on disk
# How long "Model ready: …" and a progress report outside a load stay in the status bar.
NOTE_SHOWN_MS = 8000


def describe_identity(identity: ModelIdentity) -> str:
    """One line naming a loaded model: "vidore/colqwen2-v1.0 at revision 92eec1a", or, for a
    model folder (whose revision is "local"), "tiny (a model folder)"."""
    if identity.revision == "local":
        return f"{identity.model_id} (a model folder)"
    return f"{identity.model_id} at revision {identity.revision[:7]}"


def format_elapsed(seconds: int) -> str:
    """Seconds as the status bar counts them: "12 s", then "2 min 05 s"."""
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s"


class ModelStatus(QWidget):
    """The permanent status-bar widget for the session's model; see the module docstring.

    ``wait_changed(str)`` carries "waiting for the model (12 s)" when a load starts and then
    each second, and "" once the load is over (ready, failed or dropped).
    """

    wait_changed = Signal(str)

    def __init__(self, session: LibrarySession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.label = QLabel(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        self._clock = QElapsedTimer()
        self._detail = ""
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._tick)
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.timeout.connect(self.hide)
        session.model_state_changed.connect(self._state_changed)
        session.model_progress.connect(self._progress)
        self.setVisible(False)
        if session.model_state is not ModelState.NOT_LOADED:
            self._state_changed(session.model_state)

    @property
    def loading(self) -> bool:
        return self.session.model_state is ModelState.LOADING

    @property
    def elapsed_s(self) -> int:
        """Whole seconds since the current load started (0 when none is running)."""
        return self._clock.elapsed() // 1000 if self.loading and self._clock.isValid() else 0

    def wait_note(self) -> str:
        """The note for a task queued behind the load, "waiting for the model (12 s)"; ""
        when no load is running."""
        return f"waiting for the model ({format_elapsed(self.elapsed_s)})" if self.loading else ""

    def _state_changed(self, state: ModelState) -> None:
        self._hide_timer.stop()
        self.label.setStyleSheet("")
        self.label.setToolTip("")
        if state is ModelState.LOADING:
            self._clock.start()
            self._detail = ""
            self._ticker.start()
            self._show_loading()
            self.setVisible(True)
        else:
            self._ticker.stop()
            if state is ModelState.READY and self.session.model_identity is not None:
                self._note(f"Model ready: {describe_identity(self.session.model_identity)}")
            elif state is ModelState.FAILED:
                self.label.setText("Model not loaded")
                self.label.setStyleSheet(ERROR_STYLE)
                error = self.session.model_error
                self.label.setToolTip(error.message if error is not None else "")
                self.setVisible(True)
            else:
                self.setVisible(False)
        self.wait_changed.emit(self.wait_note())

    def _tick(self) -> None:
        self._show_loading()
        self.wait_changed.emit(self.wait_note())

    def _show_loading(self) -> None:
        text = f"{_LOADING}… {format_elapsed(self.elapsed_s)}"
        self.label.setText(f"{text} · {self._detail}" if self._detail else text)

    def _progress(self, progress: Progress) -> None:
        """A download or load report: part of the loading line during a load; shown on its own
        for a while otherwise (a search that loads the model after a failed load)."""
        if progress.unit == "bytes":
            detail = f"{progress.stage[:1].lower()}{progress.stage[1:]}: {describe_download(progress)}"
        elif progress.stage == _LOADING and progress.message:
            detail = progress.message  # which model, from where: the line already says "Loading"
        else:
            detail = describe(progress)
        if self.loading:
            self._detail = detail
            self._show_loading()
        else:
            self._note(detail[:1].upper() + detail[1:])

    def _note(self, text: str) -> None:
        self.label.setText(text)
        self.setVisible(True)
        self._hide_timer.start(NOTE_SHOWN_MS)
