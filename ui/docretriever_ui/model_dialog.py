"""First-run model setup: download the configured model, or point DocRetriever at a model folder.

The app asks :func:`model_needs_setup` before it opens the library. When the model is neither a
folder nor in the Hugging Face cache, :class:`ModelSetupDialog` says so, shows what a download
would fetch, and runs the core's ``locate_model`` in the background with progress and a Cancel
button. Every core call runs on the :class:`TaskRunner`, so the dialog never blocks the UI thread.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from docretriever.embedding.model_files import ModelFiles, download_size, locate_model, model_is_available
from docretriever.progress import CancelToken, Progress, ProgressCallback, format_bytes
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import TaskError, TaskHandle, TaskRunner

# The bar counts thousandths: byte totals of a real checkpoint overflow a QProgressBar's int range.
_BAR_STEPS = 1000
ERROR_STYLE = "color: #c62828;"


def model_needs_setup(settings: AppSettings) -> bool:
    """True when the configured model is neither a model folder nor already in the HF cache.

    Only the disk is looked at (no network), so this is quick enough to ask at start-up.
    """
    return not model_is_available(settings.model)


def format_duration(seconds: float) -> str:
    """A time left, rounded the way a person says it: "40 s", "6 min", "1 h 5 min"."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def describe_download(progress: Progress) -> str:
    """One line for a download's progress: megabytes done and total, speed, time left."""
    parts = [f"{progress.done / 1e6:,.1f} MB"]
    if progress.total:
        parts[0] += f" of {progress.total / 1e6:,.1f} MB"
    if progress.rate:
        parts.append(f"{progress.rate / 1e6:,.1f} MB/s")
    if progress.eta_s is not None and progress.total:
        parts.append(f"about {format_duration(progress.eta_s)} left")
    return " · ".join(parts)


class ModelSetupDialog(QDialog):
    """Gets the configured model onto this computer: download it, or choose a model folder.

    Accepted once the model is usable: after a finished download (``model_files`` holds the
    located files) or after a model folder was chosen (stored in ``settings.model``). "Not now"
    rejects; closing the dialog during a download cancels the download.
    """

    def __init__(self, settings: AppSettings, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = runner
        self.model_files: ModelFiles | None = None
        self._download: TaskHandle | None = None
        self._checking_folder = False
        self.setWindowTitle("Set up the model")

        source = settings.model
        intro = QLabel(
            "DocRetriever reads your pages with a vision-language model, and that model is not on "
            "this computer yet. It is downloaded once into the Hugging Face cache. Without a network "
            "connection, choose a folder that holds the model instead."
        )
        intro.setWordWrap(True)
        self.model_label = QLabel(f"Model: <b>{escape(source)}</b>")
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.size_label = QLabel("Download size: checking…")
        self.size_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.setVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.progress_label.setVisible(False)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet(ERROR_STYLE)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setVisible(False)

        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.choose_button = QPushButton("Choose model folder…")
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setVisible(False)
        self.not_now_button = QPushButton("Not now")
        self.download_button.clicked.connect(self.start_download)
        self.choose_button.clicked.connect(self.choose_folder)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.not_now_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        buttons.addWidget(self.not_now_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.download_button)
        layout = self._layout = QVBoxLayout(self)
        for widget in (
            intro,
            self.model_label,
            self.size_label,
            self.progress_bar,
            self.progress_label,
            self.message_label,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

        # Asking the Hub for the size needs the network, which may be slow or absent.
        self.runner.read(
            lambda progress, cancel: download_size(source),
            on_done=self._show_size,
            on_error=self._size_failed,
        )

    @property
    def downloading(self) -> bool:
        """True from Download until the download has finished, failed or honoured a cancel."""
        return self._download is not None

    def start_download(self) -> None:
        """Download the configured model in the background, reporting bytes on the bar."""
        if self._download is not None or self._checking_folder:
            return
        source = self.settings.model

        def fetch(progress: ProgressCallback, cancel: CancelToken) -> ModelFiles:
            return locate_model(source, progress, cancel=cancel)

        self._hide_message()
        self.progress_bar.setRange(0, 0)  # busy until the first byte count arrives
        self.progress_bar.setVisible(True)
        self.progress_label.setText("Starting the download…")
        self.progress_label.setVisible(True)
        self._download = self.runner.read(
            fetch,
            on_done=self._download_done,
            on_error=self._download_failed,
            on_progress=self._show_progress,
        )
        self._update_buttons()
        self._fit()

    def cancel_download(self) -> None:
        """Ask the download to stop; the dialog becomes usable again once it has stopped."""
        if self._download is None:
            return
        self._download.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")

    def choose_folder(self) -> None:
        """Let the person pick a model folder; accept it only if it holds a model."""
        if self._download is not None or self._checking_folder:
            return
        folder = QFileDialog.getExistingDirectory(self, "Choose the model folder")
        if not folder:
            return

        def check(progress: ProgressCallback, cancel: CancelToken) -> tuple[str, bool]:
            return folder, model_is_available(folder)

        self._hide_message()
        self._checking_folder = True
        self._update_buttons()
        self.runner.read(check, on_done=self._folder_checked, on_error=self._folder_check_failed)

    def reject(self) -> None:
        """Close without a model; a running download is cancelled (what it fetched is kept)."""
        if self._download is not None:
            self._download.cancel()
        super().reject()

    def _show_size(self, size: int | None) -> None:
        if size is None:
            self.size_label.setText(
                "Download size: size unknown (the Hugging Face Hub could not be asked; "
                "the download may still work)."
            )
        else:
            self.size_label.setText(f"Download size: about {format_bytes(size)}.")
        self._fit()

    def _size_failed(self, error: TaskError) -> None:
        self._show_size(None)

    def _show_progress(self, progress: Progress) -> None:
        if self._download is None:
            return
        fraction = progress.fraction
        if fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, _BAR_STEPS)
            self.progress_bar.setValue(round(fraction * _BAR_STEPS))
        if not self._download.token.cancelled:
            self.progress_label.setText(f"{progress.stage}: {describe_download(progress)}")
            self._fit()

    def _download_done(self, files: ModelFiles) -> None:
        self._download = None
        self.model_files = files
        self._update_buttons()
        self.accept()

    def _download_failed(self, error: TaskError) -> None:
        self._download = None
        self.progress_bar.setVisible(False)
        self.progress_label.setVisible(False)
        if error.cancelled:
            self._show_message("Download cancelled. What was downloaded is kept and resumes next time.")
        else:
            self._show_message(error.message, error.details)
        self._update_buttons()

    def _folder_checked(self, result: tuple[str, bool]) -> None:
        folder, available = result
        self._checking_folder = False
        self._update_buttons()
        if not available:
            self._show_message(
                f"{folder} is not a model folder: it should hold the model's config.json "
                "(or, for an adapter, adapter_config.json) and its weights."
            )
            return
        self.settings.model = folder
        self.accept()

    def _folder_check_failed(self, error: TaskError) -> None:
        self._checking_folder = False
        self._update_buttons()
        self._show_message(error.message, error.details)

    def _update_buttons(self) -> None:
        downloading = self._download is not None
        idle = not downloading and not self._checking_folder
        self.download_button.setEnabled(idle)
        self.choose_button.setEnabled(idle)
        self.cancel_button.setVisible(downloading)
        self.cancel_button.setEnabled(downloading)

    def _show_message(self, message: str, details: str = "") -> None:
        self.message_label.setText(message)
        self.message_label.setToolTip(details)
        self.message_label.setVisible(True)
        self._fit()

    def _fit(self) -> None:
        """Grow the dialog to fit new text: word-wrapped labels do not resize a window by themselves."""
        self._layout.activate()
        needed = self._layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _hide_message(self) -> None:
        self.message_label.clear()
        self.message_label.setToolTip("")
        self.message_label.setVisible(False)
