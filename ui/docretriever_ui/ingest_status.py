"""The ingest progress shown in the status bar, in plain words ("Indexing 12 of 40 pages ·
about 2 min left", "Looking at your files (1 of 2)"), with a small bar and Cancel, and, while
the model loads, that the ingest waits for it. It is compact (a fixed largest width), so that
the status bar's messages ("Searching for …") still show beside it; the rates of each stage are
in its tooltip only."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from docretriever.documents.discover import shown_path
from docretriever.library import AddReport
from docretriever.progress import Progress, format_duration
from docretriever_ui.tasks import TaskError

# The widths of the status bar's ingest line: what is left of the bar shows its messages.
LABEL_WIDTH = 300
BAR_WIDTH = 110
# The stages the core reports during an add, re-index or sync, in the words a person uses.
_READING, _LOADING, _INDEXING, _COMPACTING = "Reading files", "Loading the model", "Indexing", "Compacting"


def describe(progress: Progress) -> str:
    """One line for a progress report, e.g. "Indexing 45/117 pages · 3.2 pages/s · ETA 0:17"
    (the model's load and download; the ingest line uses :func:`plain_progress`)."""
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


def time_left(seconds: float) -> str:
    """ "less than a minute left", "about 2 min left", "about 1 h 20 min left" """
    if seconds < 45:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"


def plain_progress(progress: Progress) -> str:
    """The ingest line: "Indexing 12 of 40 pages · about 2 min left", "Looking at your files
    (1 of 2)", "Preparing…" while the model loads."""
    done, total = progress.done, progress.total
    if progress.stage == _READING:
        return f"Looking at your files ({done:,} of {total:,})" if total else "Looking at your files…"
    if progress.stage == _LOADING:
        return "Preparing…"
    if progress.stage == _INDEXING and total:
        text = f"Indexing {done:,} of {total:,} page{'s' if total != 1 else ''}"
        if progress.eta_s is not None and 0 < done < total:
            text += f" · {time_left(progress.eta_s)}"
        return text
    if progress.stage == _COMPACTING and total:
        return f"Freeing unused space in the library ({min(100, round(100 * done / total))}%)"
    return f"{progress.stage} ({done:,} of {total:,})" if total else f"{progress.stage}…"


def progress_details(progress: Progress) -> str:
    """The tooltip of the ingest line: the file at hand and how fast each stage goes."""
    lines = [plain_progress(progress)]
    if progress.message:
        lines.append(shown_path(progress.message))
    if progress.rate:
        lines.append(f"{progress.rate:.1f} {progress.unit} per second")
    return "\n".join(lines)


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


# An error box lists this many unusable paths; all of them are in its details.
_LISTED_PATHS = 10


def unusable_error(report: AddReport) -> TaskError | None:
    """The error box for the given paths that could not be used (:func:`unusable_paths`), if any."""
    unused = unusable_paths(report)
    if not unused:
        return None
    shown = "\n".join(f"• {line}" for line in unused[:_LISTED_PATHS])
    extra = len(unused) - _LISTED_PATHS
    more = f"\n… and {extra} more (see the details)." if extra > 0 else ""
    return TaskError(f"{len(unused)} of the given paths could not be used:\n{shown}{more}", "\n".join(unused))


class IngestStatus(QWidget):
    """Description, a small progress bar and Cancel; hidden while nothing is being indexed.
    ``progress`` is the latest report (None before the first).

    :meth:`set_model_wait` adds a note such as "waiting for the model (12 s)" to the line while
    the model loads: an ingest queues behind the load and would otherwise seem stuck.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(BAR_WIDTH)
        self.bar.setTextVisible(False)  # the line says how far; a percentage would say it twice
        self.label = QLabel(self)
        self.label.setMaximumWidth(LABEL_WIDTH)
        self.label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop indexing; the pages done so far are kept")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.setMaximumWidth(LABEL_WIDTH + BAR_WIDTH + self.cancel_button.sizeHint().width() + 24)
        self.progress: Progress | None = None
        self._text = ""
        self._details = ""
        self._model_wait = ""
        self.setVisible(False)

    def started(self) -> None:
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.progress = None
        self._text = "Preparing…"
        self._details = ""
        self._show_text()
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def update_progress(self, progress: Progress) -> None:
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)
        self.progress = progress
        self._text = plain_progress(progress)
        self._details = progress_details(progress)
        self._show_text()

    def set_model_wait(self, note: str) -> None:
        """Show ``note`` after the progress: "waiting for the model (12 s)" while the model
        loads, "" once it is done."""
        self._model_wait = note
        self._show_text()

    def text(self) -> str:
        """The whole line (the label may show it cut short, with its end in the tooltip)."""
        return f"{self._text} · {self._model_wait}" if self._model_wait else self._text

    def _show_text(self) -> None:
        text = self.text()
        metrics = self.label.fontMetrics()
        # What is cut short is the progress, never the wait note: it says why nothing moves.
        wait = f" · {self._model_wait}" if self._model_wait else ""
        room = max(0, LABEL_WIDTH - metrics.horizontalAdvance(wait))
        self.label.setText(metrics.elidedText(self._text, Qt.TextElideMode.ElideRight, room) + wait)
        self.setToolTip("\n".join(filter(None, [text, *self._details.split("\n")[1:]])))

    def finished(self) -> None:
        self.setVisible(False)
