"""Model set-up: choose a model, download it (then time it on a page), or choose a model folder.

Opened when the model is not on this computer, and by Model → Set up…. Every core call runs on
the :class:`TaskRunner`'s side pool: the dialog never blocks the UI thread nor waits behind a
model load.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

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
    NO_PLAN_TIP,
    Folder,
    describe_memory,
    describe_plan,
    look_up,
    only_if,
)
from docretriever_ui.model_progress import ERROR_STYLE, DownloadProgress, wrapped_label
from docretriever_ui.settings import AppSettings
from docretriever_ui.tasks import TaskError, TaskHandle, TaskRunner


class ModelSetupDialog(QDialog):
    """Lists the models offered (the one recommended for ``hardware``, detected when None,
    preselected unless a model was chosen before); gets the chosen one (``source``) onto this
    computer: its download plan first, then the download with one bar and Cancel, then its speed
    here (``measurement``; None when skipped or failed) and Done; or takes a model folder. Either
    way the model ends in ``settings.model`` and the dialog is accepted (``model_files``: the
    downloaded files). "Not now" rejects; closing cancels a download. ``available`` and ``plan``:
    what the disk and the Hub said about ``source``."""

    def __init__(
        self,
        settings: AppSettings,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        hardware: Hardware | None = None,
        refusal: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(parent)
        self._refusal = refusal or (lambda source: "")  # why the library would refuse a model
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
        self._checking_folder = False
        self._is_folder = False
        # The Hub could not say what to download (no network, say): Download is pointless until
        # Retry gets an answer; a model folder is the way out.
        self.hub_failed = False
        self._asking_hub = True
        self.setWindowTitle("Set up the model")

        self.intro_label = wrapped_label(MISSING_TEXT)
        self.model_label = wrapped_label(f"Model: <b>{escape(self.source)}</b>")
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.size_label = wrapped_label("Download: asking the Hugging Face Hub…")
        self.memory_label = wrapped_label("", visible=False)
        self.download_progress = DownloadProgress()
        self.progress_bar = self.download_progress.bar
        self.progress_label = self.download_progress.label
        self.speed_label = self.download_progress.speed_label
        self.message_label = wrapped_label("", visible=False)
        self.message_label.setStyleSheet(ERROR_STYLE)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        for button in (self.not_now_button, self.retry_button, self.cancel_button, self.download_button):
            buttons.addWidget(button)
        layout = self._layout = QVBoxLayout(self)
        for widget in (self.intro_label, self.choice_list, self.model_label, self.size_label):
            layout.addWidget(widget)
        for part in (self.memory_label, self.download_progress, self.message_label):
            layout.addWidget(part)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(720)

        self._plan_task = self._look_at(self.source)
        self.runner.side(lambda progress, cancel: model_choice(hardware), on_done=self._show_choice)

    def _look_at(self, source: str) -> TaskHandle:
        """Ask the disk (at once) and the Hub (which may be slow or absent) about ``source``;
        answers about a model no longer chosen are dropped."""
        self.runner.side(
            lambda progress, cancel: model_is_available(source),
            on_done=only_if(lambda: source == self.source, self._show_available),
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
        self._say_asking()
        self.memory_label.setVisible(False)
        self.download_progress.clear_speed()
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
            on_done=only_if(lambda: source == self.source, self._show_plan),
            on_error=only_if(lambda: source == self.source, self._plan_failed),
        )

    def retry(self) -> None:
        """Ask the Hub again after it could not be reached; Download comes back once it answers."""
        if self._asking_hub:
            return
        self._say_asking()
        self._plan_task = self._ask_plan()
        self._update_buttons()
        self._fit()

    def _say_asking(self) -> None:
        self.size_label.setText("Download: asking the Hugging Face Hub…")
        self.size_label.setStyleSheet("")
        self.size_label.setToolTip("")

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
        self.download_progress.start()
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
            return folder, why_unavailable(folder) or self._refusal(folder)

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
        self._asking_hub = self.hub_failed = False
        self._is_folder = isinstance(plan, Folder)
        self.size_label.setStyleSheet("")
        self.size_label.setToolTip("")
        self._update_buttons()
        if isinstance(plan, Folder):
            self.size_label.setText("A model folder on this computer: there is nothing to download.")
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
        if self._download is not None:
            self.download_progress.show_progress(progress, cancelled=self._download.token.cancelled)
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
        self.download_progress.measuring()
        self.cancel_button.setText("Skip")
        self._update_buttons()

    def _measured(self, measurement: SpeedMeasurement) -> None:
        """Show the speed in the list and below it; Done (the main button) closes the dialog."""
        self._measuring, self.measurement, self._ready = None, measurement, True
        self.choice_list.show_speed(self.source, measurement)
        self.download_progress.measured(measurement)
        self.download_button.setText("Done")
        self.cancel_button.setText("Cancel download")
        self._update_buttons()
        self._fit()

    def _download_failed(self, error: TaskError) -> None:
        self._download = None
        self.download_progress.stop()
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
        self.download_button.setToolTip(NO_PLAN_TIP if self.hub_failed else "")
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
