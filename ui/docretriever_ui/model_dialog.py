"""Model set-up: choose a model, download it, or point DocRetriever at a model folder.

The dialog lists the models DocRetriever offers (:class:`ModelChoiceList`), the one recommended
for this computer preselected unless a model was chosen before; choosing one plans its download.
After a download it measures, off the UI thread, how fast the model reads a page here, and
remembers it. The app opens :class:`ModelSetupDialog` when the model is neither a folder nor in the Hugging
Face cache, and Model → Set up… opens it at any time. It says whether the model is already on
this computer, shows the core's download plan before the first byte (what will be fetched, what
is already here, the memory the model needs), and runs the core's ``locate_model`` with one
progress bar and a Cancel button. Every core call runs on the :class:`TaskRunner`'s side pool,
so the dialog never blocks the UI thread nor waits behind a model load.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from docretriever.embedding import ModelSpec
from docretriever.embedding.hardware import Hardware
from docretriever.embedding.model_choice import ModelChoice, model_choice
from docretriever.embedding.model_files import (
    DownloadPlan,
    ModelFiles,
    locate_model,
    model_is_available,
    plan_download,
    why_unavailable,
)
from docretriever.embedding.speed import SpeedMeasurement, speed_here
from docretriever.progress import CancelToken, Progress, ProgressCallback
from docretriever_ui.file_dialogs import choose_folder
from docretriever_ui.model_choice_list import ModelChoiceList
from docretriever_ui.model_dialog_core import (
    AVAILABLE_FOLDER,
    AVAILABLE_HUB,
    AVAILABLE_TEXT,
    MISSING_TEXT,
    Folder,
    describe_download,
    describe_memory,
    describe_plan,
    look_up,
)
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import TaskError, TaskHandle, TaskRunner

# The bar counts thousandths: byte totals of a real checkpoint overflow a QProgressBar's int range.
_BAR_STEPS = 1000
ERROR_STYLE = "color: #c62828;"


class ModelSetupDialog(QDialog):
    """Gets a model onto this computer: choose one and download it, or choose a model folder.

    Accepted once the model is usable: after a finished download and the speed measurement
    (Done; ``model_files`` holds the located files, ``measurement`` the speed, None when it was
    skipped or failed) or after a model folder was chosen. Either way the model is stored in
    ``settings.model``. ``source`` is the model the dialog is about (the row chosen in the list).
    ``hardware``: the computer to recommend for; None to detect it (off the UI thread). "Not now"
    rejects; closing the dialog during a download cancels the download. ``available`` becomes
    True or False once the disk has been looked at, ``plan`` holds the core's download plan
    once the Hub has answered.
    """

    def __init__(
        self,
        settings: AppSettings,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        hardware: Hardware | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = runner
        self.source = settings.model
        self.hardware = hardware
        self.choice: ModelChoice | None = None
        self.measurement: SpeedMeasurement | None = None
        self._measuring: TaskHandle | None = None
        self._ready = False  # downloaded and measured: the main button says Done
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

        source = self.source
        self.intro_label = QLabel(MISSING_TEXT)
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
        self.speed_label = QLabel()
        self.speed_label.setWordWrap(True)
        self.speed_label.setVisible(False)
        self.choice_list = ModelChoiceList()
        self.choice_list.chosen.connect(self.choose)

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
            self.choice_list,
            self.model_label,
            self.size_label,
            self.memory_label,
            self.progress_bar,
            self.progress_label,
            self.message_label,
            self.speed_label,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(720)

        self._plan_task = self._look_at(source)
        known = hardware
        self.runner.side(lambda progress, cancel: model_choice(known), on_done=self._show_choice)

    def _look_at(self, source: str) -> TaskHandle:
        """Ask the disk (at once) and the Hub (which may be slow or absent) about ``source``;
        answers about a model no longer chosen are dropped."""
        self.runner.side(
            lambda progress, cancel: model_is_available(source),
            on_done=lambda available: source == self.source and self._show_available(available),
        )
        return self._ask_plan()

    def _show_choice(self, choice: ModelChoice) -> None:
        """The catalogue for this computer: the chosen model's row current, else the recommended."""
        self.choice, self.hardware = choice, choice.hardware
        self.choice_list.show_choice(choice)
        if self.settings.model_chosen:
            self.choice_list.select(self.source)
        else:
            self.choice_list.select(choice.recommended.entry.hub_id)
        self._fit()

    def choose(self, hub_id: str) -> None:
        """Make ``hub_id`` the model this dialog is about: say what getting it takes. Stored in
        the settings once it is on this computer (after Download)."""
        if hub_id.lower() == self.source.partition("@")[0].lower() or self._busy():
            return
        self.source = hub_id
        self.available, self.plan, self._is_folder, self._ready = None, None, False, False
        self.model_label.setText(f"Model: <b>{escape(hub_id)}</b>")
        self.intro_label.setText(MISSING_TEXT)
        self.not_now_button.setText("Not now")
        self.download_button.setText("Download")
        self.size_label.setText("Download: asking the Hugging Face Hub…")
        self.size_label.setStyleSheet("")
        self.memory_label.setVisible(False)
        self.speed_label.setVisible(False)
        self._hide_message()
        self._plan_task.cancel()
        self._plan_task = self._look_at(hub_id)
        self._update_buttons()

    def _ask_plan(self) -> TaskHandle:
        """Ask the core, in the background, what getting the model takes (again after a stopped
        download: what it kept now counts as on this computer)."""
        source = self.source
        self._asking_hub = True
        return self.runner.side(
            lambda progress, cancel: look_up(source, cancel, plan_download),
            on_done=lambda plan: source == self.source and self._show_plan(plan),
            on_error=lambda error: source == self.source and self._plan_failed(error),
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
        if self._ready:
            self.accept()
            return
        if self._busy():
            return
        source = self.source

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
        """Ask the download to stop; the dialog becomes usable again once it has stopped. While
        the speed is measured: skip the measurement and take the model as it is."""
        if self._measuring is not None:
            self.accept()
            return
        if self._download is None:
            return
        self._download.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")

    def choose_folder(self) -> None:
        """Let the person pick a model folder; accept it only if it holds a model."""
        if self._busy():
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
        for task in (self._download, self._measuring, self._plan_task):
            if task is not None:
                task.cancel()
        super().done(result)

    def _show_available(self, available: bool) -> None:
        self.available = available
        self._update_intro()

    def _update_intro(self) -> None:
        """Say whether the model is here already (then "Not now" is just "Close")."""
        if self.available:
            more = AVAILABLE_FOLDER if self._is_folder else AVAILABLE_HUB
            self.intro_label.setText(AVAILABLE_TEXT + more)
            self.not_now_button.setText("Close")
            self._fit()

    def _show_plan(self, plan: DownloadPlan | Folder) -> None:
        self._asking_hub = False
        self.hub_failed = False
        self.size_label.setStyleSheet("")
        self.size_label.setToolTip("")
        self._update_buttons()
        if isinstance(plan, Folder):
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
        """The model is here: store it as the model, then time it on a page (once per computer)."""
        self._download = None
        self.model_files = files
        self.settings.model = self.source
        spec = ModelSpec(self.source, self.settings.device, self.settings.visual_tokens, download=False)
        self._measuring = self.runner.side(
            lambda progress, cancel: speed_here(spec, self.hardware, progress, cancel),
            on_done=self._measured,
            on_error=lambda error: self.accept(),  # the model's load will say what is wrong
        )
        # The bar and its line stay as the download left them; the speed line says what runs now.
        self.speed_label.setText("Downloaded. Measuring how fast it reads a page on this computer…")
        self.speed_label.setVisible(True)
        self.cancel_button.setText("Skip")
        self._update_buttons()

    def _measured(self, measurement: SpeedMeasurement) -> None:
        """Show the speed in the list and below it; Done (the main button) closes the dialog."""
        self._measuring, self.measurement, self._ready = None, measurement, True
        self.choice_list.show_speed(self.source, measurement)
        self.speed_label.setText(f"Measured on this computer: {measurement.describe()}. Ready.")
        self.speed_label.setVisible(True)
        self.progress_bar.setVisible(False)
        self.progress_label.setVisible(False)
        self.download_button.setText("Done")
        self.cancel_button.setText("Cancel download")
        self._update_buttons()
        self._fit()

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
        self.source = folder
        self.accept()

    def _folder_check_failed(self, error: TaskError) -> None:
        self._checking_folder = False
        self._update_buttons()
        self._show_message(error.message, error.details)

    def _busy(self) -> bool:
        return self._download is not None or self._checking_folder or self._measuring is not None

    def _update_buttons(self) -> None:
        downloading = self._download is not None or self._measuring is not None
        idle = not self._busy()
        self.choice_list.setEnabled(idle and not self._ready)
        done = self._ready or (idle and not self._is_folder and not self.hub_failed)
        self.download_button.setEnabled(done)
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
