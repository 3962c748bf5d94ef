"""The GUI's background task runner: results, errors, cancellation, throttled progress."""

from __future__ import annotations

import threading

from docretriever.errors import InvalidInputError
from docretriever.progress import Progress
from docretriever_ui.tasks import TaskError, TaskRunner


def test_result_and_throttled_progress_arrive_on_the_ui_thread(qtbot) -> None:
    runner = TaskRunner()
    received: list[Progress] = []
    threads: set[int] = set()

    def work(progress, cancel):
        for done in range(1, 100_001):
            progress(Progress("Counting", done, 100_000))
        return threading.get_ident()

    def on_progress(progress: Progress) -> None:
        threads.add(threading.get_ident())
        received.append(progress)

    with qtbot.waitSignal(runner.finished_any, timeout=10_000) as blocker:
        runner.write(work, on_progress=on_progress)
    worker_thread = blocker.args[0]
    assert worker_thread != threading.get_ident()
    qtbot.waitUntil(lambda: received and received[-1].done == 100_000)
    assert threads == {threading.get_ident()}
    assert len(received) < 100  # throttled: far fewer than 100,000 reports


def test_errors_become_task_errors_and_cancel_is_cooperative(qtbot) -> None:
    runner = TaskRunner()
    errors: list[TaskError] = []
    started = threading.Event()

    def fails(progress, cancel):
        raise InvalidInputError("That will not do.", details="why")

    def bug(progress, cancel):
        raise ZeroDivisionError("oops")

    def waits(progress, cancel):
        started.set()
        while True:
            cancel.raise_if_cancelled()

    for function in (fails, bug):
        with qtbot.waitSignal(runner.finished_any, timeout=10_000):
            runner.read(function, on_error=errors.append)
    handle = runner.write(waits, on_error=errors.append)
    assert started.wait(10)
    with qtbot.waitSignal(runner.finished_any, timeout=10_000):
        handle.cancel()
    qtbot.waitUntil(lambda: len(errors) == 3)
    assert errors[0].message == "That will not do." and errors[0].details == "why"
    assert "ZeroDivisionError" in errors[1].message and "Traceback" in errors[1].details
    assert errors[2].cancelled


def test_writes_run_one_at_a_time(qtbot) -> None:
    runner = TaskRunner()
    active = []
    overlap = []
    lock = threading.Lock()

    def write(progress, cancel):
        with lock:
            active.append(1)
            overlap.append(len(active))
        for _ in range(200_000):
            pass
        with lock:
            active.pop()

    for _ in range(4):
        runner.write(write)
    assert runner.wait(10_000)
    assert overlap == [1, 1, 1, 1]


def test_a_task_cancelled_while_queued_never_runs_and_reads_can_jump_the_queue(qtbot) -> None:
    runner = TaskRunner(readers=1)
    release = threading.Event()
    order: list[str] = []
    errors: list[TaskError] = []

    def blocker(progress, cancel):
        release.wait(10)

    def record(name):
        return lambda progress, cancel: order.append(name)

    runner.read(blocker)  # occupies the only reader
    skipped = runner.read(record("skipped"), on_error=errors.append)
    runner.read(record("low"))
    runner.read(record("high"), priority=1)
    skipped.cancel()
    release.set()
    assert runner.wait(10_000)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5_000)
    assert order == ["high", "low"]
    assert errors[0].cancelled
