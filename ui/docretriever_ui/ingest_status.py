"""The ingest progress shown in the status bar: pages done / total, pages/s, ETA, Cancel, and,
while the model loads, that the ingest waits for it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from docretriever.documents.discover import shown_path
from docretriever.library import AddReport
from docretriever.progress import Progress, format_duration
from docretriever_ui.tasks import TaskError


def describe(progress: Progress) -> str:
    """One line for a progress report, e.g. "Indexing 45/117 pages · 3.2 pages/s · ETA 0:17"."""
    parts = [progress.stage]
    if progress.total:
        parts[0] += f" {progress.done}/{progress.total} {progress.unit}"
    if progress.rate:
        parts.append(f"{progress.rate:.1f} {progress.unit}/s")
    if progress.eta_s is not None:
        parts.append(f"ETA {format_duration(progress.eta_s)}")
    if progress.message:
        parts.append(progress.message)
    return " · ".join(parts)


def summarize(outcome: AddReport | TaskError) -> str:
    """One line for a finished ingest. Missing files are counted, not reported as failures: their
    documents are kept (see the library list); folders that could not be reached are named."""
    if isinstance(outcome, TaskError):
        return "Indexing stopped; the pages done so far are kept." if outcome.cancelled else outcome.message
    listed = any(o.status == "failed" and o.doc_id is not None for o in outcome.outcomes)
    text = f"Done: {outcome.summary(failed_note=' (see the library list)' if listed else '')}."
    if outcome.unreachable:
        first, others = shown_path(outcome.unreachable[0][0]), len(outcome.unreachable) - 1
        text += f" Not reachable now: {first}" + (f" and {others} more." if others else ".")
    unused = unusable_paths(outcome)
    if unused:
        text += f" {len(unused)} could not be used: {unused[0]}" + (" …" if len(unused) > 1 else "")
    return text


def unusable_paths(report: AddReport) -> list[str]:
    """ "path: why" for every given path that did not become a document, so is not in the library
    list: a missing path, a name that is not valid UTF-8, an unreadable file. Names are shown
    escaped (``sample\\xf0.pdf``): a label would silently drop the undecodable bytes."""
    lines = [f"{shown_path(path)}: {reason}" for path, reason in report.problems]
    lines += [
        f"{shown_path(outcome.path)}: {outcome.error}"
        for outcome in report.outcomes
        if outcome.status == "failed" and outcome.doc_id is None
    ]
    return lines


class IngestStatus(QWidget):
    """Progress bar, description and Cancel; hidden while nothing is being indexed.

    :meth:`set_model_wait` adds a note such as "waiting for the model (12 s)" to the line while
    the model loads: an ingest queues behind the load and would otherwise seem stuck.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(220)
        self.label = QLabel(self)
        self.cancel_button = QPushButton("Cancel", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._text = ""
        self._model_wait = ""
        self.setVisible(False)

    def started(self) -> None:
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self._text = "Preparing…"
        self._show_text()
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def update_progress(self, progress: Progress) -> None:
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        self._text = describe(progress)
        self._show_text()

    def set_model_wait(self, note: str) -> None:
        """Show ``note`` after the progress: "waiting for the model (12 s)" while the model
        loads, "" once it is done."""
        self._model_wait = note
        self._show_text()

    def _show_text(self) -> None:
        self.label.setText(f"{self._text} · {self._model_wait}" if self._model_wait else self._text)

    def finished(self) -> None:
        self.setVisible(False)
