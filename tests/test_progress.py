"""Progress reports and their wording."""

from __future__ import annotations

import io

import pytest

from docretriever.errors import Cancelled
from docretriever.progress import CancelToken, Progress, RateMeter, format_bytes, format_duration


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (14_957, "15.0 kB"), (2_818_798, "2.8 MB"), (4_400_000_000, "4.4 GB")],
)
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (17.4, "0:17"), (725, "12:05"), (3723, "1:02:03")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_rate_meter_reports_rate_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 110.0])
    monkeypatch.setattr("docretriever.progress.time.monotonic", lambda: next(clock))
    reports: list[Progress] = []
    meter = RateMeter("Indexing", 100, reports.append)
    meter.report(20, "a.pdf")
    assert reports[0].rate == pytest.approx(2.0)  # 20 pages in 10 s
    assert reports[0].eta_s == pytest.approx(40.0)  # 80 pages left at 2 pages/s
    assert reports[0].fraction == pytest.approx(0.2) and reports[0].message == "a.pdf"


def test_cancel_token() -> None:
    token = CancelToken()
    token.raise_if_cancelled()
    token.cancel()
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_a_resumed_count_does_not_inflate_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A download resumed at 90 % must not report 90 % of the file as this run's speed."""
    clock = [100.0]
    monkeypatch.setattr("docretriever.progress.time.monotonic", lambda: clock[0])
    reports: list[Progress] = []
    meter = RateMeter("Downloading", 1000, reports.append, "bytes", baseline=900)
    meter.report(900)
    assert reports[-1].rate is None and reports[-1].eta_s is None
    clock[0] += 2.0
    meter.report(950)
    assert reports[-1].rate == pytest.approx(25.0) and reports[-1].eta_s == pytest.approx(2.0)


def _log_bar(monkeypatch: pytest.MonkeyPatch, clock: list[float]) -> tuple[object, io.StringIO]:
    from docretriever.cli.progress_bar import ProgressBar

    monkeypatch.setattr("docretriever.cli.progress_bar.time.monotonic", lambda: clock[0])
    stream = io.StringIO()  # not a terminal, as under nohup or in a log
    bar = ProgressBar(stream)
    assert not bar.interactive
    return bar, stream


def test_a_log_gets_a_plain_line_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a terminal: a counting stage prints at its start, every 5 s, and at its end, with
    done/total, rate and ETA, not once per report nor once for the whole run."""
    clock = [0.0]
    bar, stream = _log_bar(monkeypatch, clock)
    bar(Progress("Loading the model", 0, None))
    clock[0] = 3.0
    for second in range(0, 13):  # one page a second, 12 pages
        clock[0] = 3.0 + second
        bar(Progress("Indexing", second, 12, rate=1.0 if second else None, eta_s=12.0 - second))
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "Loading the model...",
        "Indexing: 0/12 pages, ETA 0:12",
        "Indexing: 5/12 pages, 1.0 pages/s, ETA 0:07",
        "Indexing: 10/12 pages, 1.0 pages/s, ETA 0:02",
        "Indexing: 12/12 pages, 1.0 pages/s, ETA 0:00",
    ]
    assert bar.stage_seconds("Loading the model") == pytest.approx(3.0)
    assert bar.stage_seconds("Indexing") == pytest.approx(12.0)  # until now
    assert bar.stage_seconds("Downloading") is None


def test_a_log_says_where_a_stopped_count_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage change, or the end (Ctrl-C), prints the last count not yet printed; bytes read as bytes."""
    clock = [0.0]
    bar, stream = _log_bar(monkeypatch, clock)
    bar(Progress("Reading files", 1, 3, "files", "a.pdf"))
    clock[0] = 0.5
    bar(Progress("Reading files", 2, 3, "files", "b.pdf"))
    clock[0] = 1.0
    bar(Progress("Downloading", 2_000_000, 10_000_000, "bytes", rate=1_000_000.0, eta_s=8.0))
    clock[0] = 2.0
    bar(Progress("Downloading", 3_000_000, 10_000_000, "bytes", rate=1_000_000.0, eta_s=7.0))
    bar.finish()
    assert stream.getvalue().splitlines() == [
        "Reading files: 1/3 files (a.pdf)",
        "Reading files: 2/3 files (b.pdf)",
        "Downloading: 2.0 MB/10.0 MB, 1.0 MB/s, ETA 0:08",
        "Downloading: 3.0 MB/10.0 MB, 1.0 MB/s, ETA 0:07",
    ]


def test_the_add_summary_names_the_model_load_and_measures_pages_per_second_as_the_bar() -> None:
    from docretriever.cli.commands import add_summary
    from docretriever.library import AddReport

    class Bar:
        def stage_seconds(self, stage: str) -> float | None:
            return {"Loading the model": 3.1, "Indexing": 8.0}.get(stage)

    report = AddReport(pages_embedded=40)
    line = add_summary(report, 12.0, Bar())  # type: ignore[arg-type]
    assert line == (
        "0 indexed; 40 pages embedded in 12.0 s including 3.1 s loading the model, "
        "5.0 pages/s while indexing."
    )
    # Nothing to embed, so no model loaded: no rate, no loading time.
    assert add_summary(AddReport(), 0.4, None) == "0 indexed; 0 pages embedded in 0.4 s."


def test_bench_says_what_its_recall_means() -> None:
    from docretriever.cli.commands import judge_recall

    assert judge_recall(0.99).startswith("Good")
    low = judge_recall(0.8)
    assert "Below 0.99" in low and "search --exact" in low and "codebook" in low
