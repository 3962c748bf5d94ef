"""A one-line terminal progress bar fed by the core's progress callback."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from docretriever.progress import Progress, format_bytes, format_duration

_MIN_INTERVAL_S = 0.1  # at most 10 redraws per second
_LOG_INTERVAL_S = 5.0  # not a terminal: a counting stage's line at most every 5 s


def _amount(value: float, unit: str) -> str:
    return format_bytes(value) if unit == "bytes" else f"{int(value)}"


class ProgressBar:
    """Redraws one line on ``stream`` (stderr) when it is a terminal; else (a log, ``nohup``)
    prints a plain line at each stage change, every few seconds while a stage counts, and at
    its end.

    It also notes when each stage began, so that a summary can say how long one took
    (:meth:`stage_seconds`)."""

    def __init__(self, stream: TextIO | None = None, *, log_interval_s: float = _LOG_INTERVAL_S) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.log_interval_s = log_interval_s
        self._last_draw = 0.0
        self._last_stage = ""
        self._last_line = ""
        self._drawn = False
        self._unlogged: Progress | None = None  # a log's latest counting report not yet printed
        self._stage_starts: list[tuple[str, float]] = []

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        finished = progress.total is not None and progress.done >= progress.total
        new_stage = progress.stage != self._last_stage
        if new_stage:
            self._stage_starts.append((progress.stage, now))
        if not self.interactive:
            self._log(progress, now, new_stage=new_stage, finished=finished)
            return
        if not (new_stage or finished or now - self._last_draw >= _MIN_INTERVAL_S):
            return
        self._last_draw = now
        if new_stage and self._drawn:
            self.stream.write("\n")
        self._last_stage = progress.stage
        self.stream.write("\r" + self._line(progress) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _log(self, progress: Progress, now: float, *, new_stage: bool, finished: bool) -> None:
        """A log: each stage once; a counting stage again every few seconds and at its end; a
        stage without counts again when it says something new (which model loads)."""
        if new_stage and self._unlogged is not None:
            self._write_log(self._plain_line(self._unlogged), now)  # how the last stage ended
        self._last_stage = progress.stage
        self._unlogged = None
        if progress.total is None:
            line = f"{progress.stage}: {progress.message}" if progress.message else f"{progress.stage}..."
            if new_stage or (progress.message and line != self._last_line):
                self._write_log(line, now)
            return
        if new_stage or finished or now - self._last_draw >= self.log_interval_s:
            self._write_log(self._plain_line(progress), now)
        else:
            self._unlogged = progress

    def _write_log(self, line: str, now: float) -> None:
        if line == self._last_line:
            return
        self.stream.write(line + "\n")
        self.stream.flush()
        self._last_line = line
        self._last_draw = now

    @staticmethod
    def _plain_line(progress: Progress) -> str:
        """ "Indexing: 120/500 pages, 4.2 pages/s, ETA 1:31 (report.pdf)" """
        unit = "" if progress.unit == "bytes" else f" {progress.unit}".rstrip()
        line = f"{progress.stage}: {_amount(progress.done, progress.unit)}"
        if progress.total is not None:
            line += f"/{_amount(progress.total, progress.unit)}"
        line += unit
        if progress.rate:
            rate_unit = "MB" if progress.unit == "bytes" else progress.unit or "units"
            rate = progress.rate / 1e6 if progress.unit == "bytes" else progress.rate
            line += f", {rate:.1f} {rate_unit}/s"
        if progress.eta_s is not None:
            line += f", ETA {format_duration(progress.eta_s)}"
        if progress.message:
            line += f" ({progress.message})"
        return line

    def stage_seconds(self, stage: str) -> float | None:
        """How long ``stage`` lasted, from its first report to the next stage's (or until now);
        None when it was never reported. A stage reported again later counts from its first."""
        for number, (name, started) in enumerate(self._stage_starts):
            if name == stage:
                following = self._stage_starts[number + 1 :]
                ended = following[0][1] if following else time.monotonic()
                return ended - started
        return None

    def _line(self, progress: Progress) -> str:
        width = shutil.get_terminal_size((80, 20)).columns
        parts = [progress.stage]
        if progress.total:
            fraction = progress.fraction or 0.0
            bar_width = 20
            filled = int(bar_width * fraction)
            parts.append("[" + "#" * filled + "." * (bar_width - filled) + "]")
            parts.append(f"{_amount(progress.done, progress.unit)}/{_amount(progress.total, progress.unit)}")
        if progress.rate:
            unit = "MB" if progress.unit == "bytes" else progress.unit
            rate = progress.rate / 1e6 if progress.unit == "bytes" else progress.rate
            parts.append(f"{rate:.1f} {unit}/s")
        if progress.eta_s is not None:
            parts.append(f"ETA {format_duration(progress.eta_s)}")
        if progress.message:
            parts.append(progress.message)
        line = " ".join(parts)
        if len(line) >= width:
            # The figures matter more than the stage's full name ("Downloading vidore/...").
            line = " ".join([progress.stage.split(" ")[0], *parts[1:]])
        return line[: max(10, width - 1)]

    def finish(self) -> None:
        if self._unlogged is not None:  # a log ends with where the count stopped
            self._write_log(self._plain_line(self._unlogged), time.monotonic())
            self._unlogged = None
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
