"""Progress reports and their wording."""

from __future__ import annotations

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
