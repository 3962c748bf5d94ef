"""The set-up dialog's progress: one download bar with its line, then the speed measurement's
line. The bar runs once from 0 to the download's total and never moves backwards."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from docretriever.embedding.speed import SpeedMeasurement
from docretriever.progress import Progress
from docretriever_ui.model_dialog_core import describe_download

# The bar counts thousandths: byte totals of a real checkpoint overflow a QProgressBar's int range.
BAR_STEPS = 1000

ERROR_STYLE = "color: #c62828;"


class DownloadProgress(QWidget):
    """``bar`` and ``label`` for a download (hidden until one starts); ``speed_label`` for the
    measurement after it (hidden until then)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._value = 0  # the bar only moves forward, whatever a progress report says
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setVisible(False)
        self.label = wrapped_label("", visible=False)
        self.speed_label = wrapped_label("", visible=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.bar, self.label, self.speed_label):
            layout.addWidget(widget)

    def start(self) -> None:
        """A download starts: the bar is busy until the first byte count arrives."""
        self._value = 0
        self.bar.setRange(0, 0)
        self.bar.setVisible(True)
        self.label.setText("Starting the download…")
        self.label.setVisible(True)
        self.speed_label.setVisible(False)

    def show_progress(self, progress: Progress, *, cancelled: bool) -> None:
        """The bar at ``progress``'s fraction, never lower than before: the core promises
        monotone counts, and the bar holds to it even if a report were to step back; the line
        with the bytes, speed and time left, unless the download is being ``cancelled``."""
        fraction = progress.fraction
        if fraction is not None:
            self._value = max(self._value, round(fraction * BAR_STEPS))
        if self._value or fraction is not None:  # never back to "busy" once it has counted
            self.bar.setRange(0, BAR_STEPS)
            self.bar.setValue(self._value)
        if not cancelled:
            self.label.setText(f"{progress.stage}: {describe_download(progress)}")

    def stop(self) -> None:
        """The download stopped (failed or cancelled): no bar."""
        self.bar.setVisible(False)
        self.label.setVisible(False)

    def measuring(self) -> None:
        """The download is over and the model is being timed; the bar and its line stay as the
        download left them."""
        self.speed_label.setText("Downloaded. Measuring how fast it reads a page on this computer…")
        self.speed_label.setVisible(True)

    def measured(self, measurement: SpeedMeasurement) -> None:
        self.speed_label.setText(f"Measured on this computer: {measurement.describe()}. Ready.")
        self.speed_label.setVisible(True)
        self.stop()

    def clear_speed(self) -> None:
        self.speed_label.setVisible(False)


def wrapped_label(text: str, *, visible: bool = True) -> QLabel:
    """A label whose text wraps at the dialog's width."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setVisible(visible)
    return label
