"""A one-line terminal progress bar fed by the core's progress callback."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from docretriever.progress import Progress, format_bytes, format_duration

_MIN_INTERVAL_S = 0.1  # at most 10 redraws per second


def _amount(value: float, unit: str) -> str:
    return format_bytes(value) if unit == "bytes" else f"{int(value)}"


class ProgressBar:
    """Redraws one line on ``stream`` (stderr) when it is a terminal, else prints stage changes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last_draw = 0.0
        self._last_stage = ""
        self._last_line = ""
        self._drawn = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        finished = progress.total is not None and progress.done >= progress.total
        new_stage = progress.stage != self._last_stage
        if not self.interactive:
            # A log: each stage once; a stage without counts again when it says something new
            # (which model loads), never a counting stage's every report.
            line = f"{progress.stage}: {progress.message}" if progress.message else f"{progress.stage}..."
            news = progress.total is None and bool(progress.message) and line != self._last_line
            if new_stage or news:
                self.stream.write(line + "\n")
                self.stream.flush()
                self._last_line = line
            self._last_stage = progress.stage
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
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
