"""Model set-up: download the configured model, or point DocRetriever at a model folder.

The app opens :class:`ModelSetupDialog` when the model is neither a folder nor in the Hugging
Face cache, and Model → Set up… opens it at any time. It says whether the model is already on
this computer, shows the core's download plan before the first byte (what will be fetched, what
is already here, the memory the model needs), and runs the core's ``locate_model`` with one
progress bar and a Cancel button. Every core call runs on the :class:`TaskRunner`'s side pool,
so the dialog never blocks the UI thread nor waits behind a model load.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from docretriever.embedding.model_files import (
    DownloadPlan,
    ModelFiles,
    locate_model,
    model_is_available,
    plan_download,
    run_cancellable,
    why_unavailable,
)
from docretriever.errors import ModelError
from docretriever.progress import CancelToken, Progress, ProgressCallback, format_bytes
from docretriever_ui.file_dialogs import choose_folder
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import TaskError, TaskHandle, TaskRunner

# The bar counts thousandths: byte totals of a real checkpoint overflow a QProgressBar's int range.
_BAR_STEPS = 1000
ERROR_STYLE = "color: #c62828;"


_MISSING_TEXT = (
    "DocRetriever reads your pages with a vision-language model, and that model is not on "
    "this computer yet. It is downloaded once into the Hugging Face cache. Without a network "
    'connection, choose a folder that holds the model instead. "Not now" closes this window; '
    "Model → Set up… brings it back."
)
_AVAILABLE_TEXT = "This model is on this computer and DocRetriever uses it from there."
_AVAILABLE_HUB = (
    " Download fetches only the files that are not here yet (the sizes below say how much); or "
    "choose a model folder instead."
)
_AVAILABLE_FOLDER = " To use another model, choose its folder."


def describe_plan(plan: DownloadPlan) -> str:
    """What a download will fetch, e.g. "Download: 4.4 GB (12.0 MB of 4.4 GB already on this
    computer)." — the core's plan, so it counts exactly the files the app reads."""
    if plan.download_bytes == 0:
        return f"Download: nothing; all {format_bytes(plan.total_bytes)} are already on this computer."
    text = f"Download: {format_bytes(plan.download_bytes)}"
    if plan.cached_bytes:
        cached, total = format_bytes(plan.cached_bytes), format_bytes(plan.total_bytes)
        text += f" ({cached} of {total} already on this computer)"
    return text + "."


def describe_memory(plan: DownloadPlan) -> str:
    """The memory the weights take: bfloat16 on a GPU, float32 on a CPU (how the core loads them)."""
    gpu, cpu = plan.memory_bytes("bfloat16"), plan.memory_bytes("float32")
    if gpu is None or cpu is None or plan.parameters is None:
        return "Memory needed: unknown (the Hub did not say how many parameters the model has)."
    return (
        f"Memory needed: about {format_bytes(gpu)} on a GPU (bfloat16), {format_bytes(cpu)} on a "
        f"CPU (float32), for {_count(plan.parameters)} parameters."
    )


def _count(number: int) -> str:
    """A parameter count as people say it: "2.21 billion", "252 million", "281 thousand"."""
    for size, word in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if number >= size:
            value = number / size
            return f"{value:,.2f} {word}" if value < 10 else f"{value:,.0f} {word}"
    return str(number)


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
    rejects; closing the dialog during a download cancels the download. ``available`` becomes
    True or False once the disk has been looked at, ``plan`` holds the core's download plan
    once the Hub has answered.
    """

    def __init__(self, settings: AppSettings, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = runner
        self.model_files: ModelFiles | None = None
        self.available: bool | None = None
        self.plan: DownloadPlan | None = None
        self._download: TaskHandle | None = None
        self._bar_value = 0  # the bar only moves forward, whatever a progress report says
        self._checking_folder = False
        self._is_folder = False
        # The Hub could not say what to download (no network, say): Download is pointless until
        # Retry gets an answer; a model folder is the way out.
        self.hub_failed = False
        self._asking_hub = True
        self.setWindowTitle("Set up the model")

        source = settings.model
        self.intro_label = QLabel(_MISSING_TEXT)
        self.intro_label.setWordWrap(True)
        self.model_label = QLabel(f"Model: <b>{escape(source)}</b>")
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.size_label = QLabel("Download: asking the Hugging Face Hub…")
        self.size_label.setWordWrap(True)
        self.memory_label = QLabel()
        self.memory_label.setWordWrap(True)
        self.memory_label.setVisible(False)
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
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Ask the Hugging Face Hub again")
        self.retry_button.setVisible(False)
        # Enter means Download (the default), whichever button has the focus.
        for button in (self.choose_button, self.cancel_button, self.not_now_button, self.retry_button):
            button.setAutoDefault(False)
        self.download_button.clicked.connect(self.start_download)
        self.retry_button.clicked.connect(self.retry)
        self.choose_button.clicked.connect(self.choose_folder)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.not_now_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        buttons.addWidget(self.not_now_button)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.download_button)
        layout = self._layout = QVBoxLayout(self)
        for widget in (
            self.intro_label,
            self.model_label,
            self.size_label,
            self.memory_label,
            self.progress_bar,
            self.progress_label,
            self.message_label,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

        # The disk answers at once; the Hub needs the network, which may be slow or absent.
        self.runner.side(lambda progress, cancel: model_is_available(source), on_done=self._show_available)
        self._plan_task = self._ask_plan()

    def _ask_plan(self) -> TaskHandle:
        """Ask the core, in the background, what getting the model takes (again after a stopped
        download: what it kept now counts as on this computer)."""
        source = self.settings.model
        self._asking_hub = True
        return self.runner.side(
            lambda progress, cancel: _look_up(source, cancel),
            on_done=self._show_plan,
            on_error=self._plan_failed,
        )

    def retry(self) -> None:
        """Ask the Hub again after it could not be reached; Download comes back once it answers."""
        if self._asking_hub:
            return
        self.size_label.setText("Download: asking the Hugging Face Hub…")
        self.size_label.setStyleSheet("")
        self.size_label.setToolTip("")
        self._plan_task = self._ask_plan()
        self._update_buttons()
        self._fit()

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
        self._bar_value = 0
        self.progress_bar.setRange(0, 0)  # busy until the first byte count arrives
        self.progress_bar.setVisible(True)
        self.progress_label.setText("Starting the download…")
        self.progress_label.setVisible(True)
        self._download = self.runner.side(
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
        folder = choose_folder(self, self.settings, "model", "Choose the model folder")
        if not folder:
            return

        def check(progress: ProgressCallback, cancel: CancelToken) -> tuple[str, str]:
            return folder, why_unavailable(folder)

        self._hide_message()
        self._checking_folder = True
        self._update_buttons()
        self.runner.side(check, on_done=self._folder_checked, on_error=self._folder_check_failed)

    def done(self, result: int) -> None:
        """Close without waiting: a running download is cancelled (what it fetched is kept), and
        the Hub's answer about sizes is no longer wanted."""
        if self._download is not None:
            self._download.cancel()
        self._plan_task.cancel()
        super().done(result)

    def _show_available(self, available: bool) -> None:
        self.available = available
        self._update_intro()

    def _update_intro(self) -> None:
        """Say whether the model is here already (then "Not now" is just "Close")."""
        if self.available:
            more = _AVAILABLE_FOLDER if self._is_folder else _AVAILABLE_HUB
            self.intro_label.setText(_AVAILABLE_TEXT + more)
            self.not_now_button.setText("Close")
            self._fit()

    def _show_plan(self, plan: DownloadPlan | _Folder) -> None:
        self._asking_hub = False
        self.hub_failed = False
        self.size_label.setStyleSheet("")
        self.size_label.setToolTip("")
        self._update_buttons()
        if isinstance(plan, _Folder):
            self._is_folder = True
            self.size_label.setText("A model folder on this computer: there is nothing to download.")
            self._update_buttons()
            self._update_intro()
            if plan.problem:
                self._show_message(plan.problem)
        else:
            self.plan = plan
            self.size_label.setText(describe_plan(plan))
            self.memory_label.setText(describe_memory(plan))
            self.memory_label.setVisible(True)
        self._fit()

    def _plan_failed(self, error: TaskError) -> None:
        """The Hub gave no plan: say plainly that the download cannot happen now and why (the
        core's words say what to check), and offer Retry and a model folder instead."""
        if error.cancelled:
            return
        self._asking_hub = False
        self.hub_failed = True
        self.size_label.setText(f"The model cannot be downloaded now. {error.message}")
        self.size_label.setStyleSheet(ERROR_STYLE)
        self.size_label.setToolTip(error.details)
        self.memory_label.setVisible(False)
        self._update_buttons()
        self._fit()

    def _show_progress(self, progress: Progress) -> None:
        """One bar from 0 to the download's total that never moves backwards: the core promises
        monotone counts, and the bar holds to it even if a report were to step back."""
        if self._download is None:
            return
        fraction = progress.fraction
        if fraction is not None:
            self._bar_value = max(self._bar_value, round(fraction * _BAR_STEPS))
        if self._bar_value or fraction is not None:  # never back to "busy" once it has counted
            self.progress_bar.setRange(0, _BAR_STEPS)
            self.progress_bar.setValue(self._bar_value)
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
        self._plan_task = self._ask_plan()
        self._update_buttons()

    def _folder_checked(self, result: tuple[str, str]) -> None:
        folder, problem = result
        self._checking_folder = False
        self._update_buttons()
        if problem:
            self._show_message(problem)  # the core's words: what is missing, or which layout
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
        self.download_button.setEnabled(idle and not self._is_folder and not self.hub_failed)
        self.download_button.setToolTip(
            "The Hugging Face Hub did not say what to download: Retry, or choose a model folder."
            if self.hub_failed
            else ""
        )
        self.retry_button.setVisible(self.hub_failed and not downloading)
        self.retry_button.setEnabled(idle and not self._asking_hub)
        self.choose_button.setEnabled(idle)
        if self.hub_failed and idle:
            self.choose_button.setDefault(True)  # Enter: the way that works without the Hub
        else:
            self.download_button.setDefault(True)
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


@dataclass(frozen=True)
class _Folder:
    """The model is a folder: nothing to download; ``problem`` is the core's reason it cannot be
    used ("" when it can)."""

    problem: str


def _look_up(source: str, cancel: CancelToken) -> DownloadPlan | _Folder:
    """The core's download plan for a Hub id; for a model folder, whether the core can use it,
    or, for an adapter folder whose base model (named by Hub id) is missing, the base's plan."""
    if Path(source).expanduser().is_dir():
        problem = why_unavailable(source)
        if not problem:
            return _Folder("")
        try:
            return run_cancellable(lambda: plan_download(source, cancel), cancel)
        except ModelError:  # nothing the Hub can supply: the folder's own problem says why
            return _Folder(problem)
    # Closing the dialog frees the pool's thread at once, however slow the Hub's answer.
    return run_cancellable(lambda: plan_download(source, cancel), cancel)
