"""The model set-up dialog, offscreen and offline: what it says, the core's plan, one progress
bar, Cancel, and choosing a model folder."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog

from docretriever.embedding.hub_plan import PlannedFile
from docretriever.embedding.model_files import DownloadPlan, model_is_available, why_unavailable
from docretriever.errors import Cancelled, ModelError
from docretriever.progress import Progress
from docretriever_ui import model_dialog
from docretriever_ui.model_dialog import ModelSetupDialog
from docretriever_ui.tasks import TaskRunner

HUB_ID = "vidore/colqwen2-v1.0"
NO_HUB = "The Hugging Face Hub could not be reached: there is no network connection."


def two_repo_plan(parameters: int | None = 2_210_000_000) -> DownloadPlan:
    """An adapter already on this computer and its base model's two shards still to fetch."""
    files = (
        PlannedFile(HUB_ID, "92eec1a", "adapter_config.json", 1_000, True),
        PlannedFile(HUB_ID, "92eec1a", "adapter_model.safetensors", 73_999_000, True),
        PlannedFile(
            "vidore/colqwen2-base", "0d3a1b2", "model-00001-of-00002.safetensors", 2_200_000_000, False
        ),
        PlannedFile(
            "vidore/colqwen2-base", "0d3a1b2", "model-00002-of-00002.safetensors", 2_200_000_000, False
        ),
    )
    return DownloadPlan(source=HUB_ID, files=files, parameters=parameters)


def hub_unreachable(source: str, cancel=None) -> DownloadPlan:
    raise ModelError(NO_HUB)


@pytest.fixture()
def runner() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    # Workers must finish before the test's monkeypatches are undone.
    assert runner.wait(30_000)


@pytest.fixture()
def hub_settings(app_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings naming a Hub id, with an empty Hugging Face cache."""
    import huggingface_hub.constants

    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    # huggingface_hub reads the variables once, on import, which may already have happened.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    app_settings.model = HUB_ID
    return app_settings


def open_setup(qtbot, settings, runner: TaskRunner) -> ModelSetupDialog:
    dialog = ModelSetupDialog(settings, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *args, **kwargs: str(folder))
    )


def test_missing_model_shows_its_name_and_why_the_size_is_unknown(
    qtbot, hub_settings, runner, monkeypatch
) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", hub_unreachable)
    assert not model_is_available(hub_settings.model)
    dialog = open_setup(qtbot, hub_settings, runner)
    assert HUB_ID in dialog.model_label.text()
    qtbot.waitUntil(lambda: NO_HUB in dialog.size_label.text())
    assert "cannot be downloaded now" in dialog.size_label.text() and not dialog.memory_label.isVisible()
    qtbot.waitUntil(lambda: dialog.available is False)
    assert "not on this computer yet" in dialog.intro_label.text()
    assert "Model → Set up…" in dialog.intro_label.text()  # "Not now" is not a dead end


def test_the_plan_gives_the_download_and_memory_before_the_first_byte(
    qtbot, hub_settings, runner, monkeypatch
) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", lambda source, cancel=None: two_repo_plan())
    dialog = open_setup(qtbot, hub_settings, runner)
    qtbot.waitUntil(lambda: dialog.plan is not None)
    assert dialog.size_label.text() == ("Download: 4.4 GB (74.0 MB of 4.5 GB already on this computer).")
    memory = dialog.memory_label.text()
    assert dialog.memory_label.isVisible()
    assert "4.4 GB on a GPU (bfloat16)" in memory and "8.8 GB on a CPU (float32)" in memory
    assert "2.21 billion parameters" in memory


def test_a_plan_without_parameters_or_bytes_to_fetch_says_so(
    qtbot, hub_settings, runner, monkeypatch
) -> None:
    cached = DownloadPlan(
        source=HUB_ID,
        files=tuple(PlannedFile(f.repo_id, f.revision, f.path, f.size, True) for f in two_repo_plan().files),
        parameters=None,
    )
    monkeypatch.setattr(model_dialog, "plan_download", lambda source, cancel=None: cached)
    dialog = open_setup(qtbot, hub_settings, runner)
    qtbot.waitUntil(lambda: dialog.plan is not None)
    assert dialog.size_label.text() == "Download: nothing; all 4.5 GB are already on this computer."
    assert "unknown" in dialog.memory_label.text()


def test_download_offline_shows_the_core_message_inline(qtbot, hub_settings, runner, monkeypatch) -> None:
    asked = threading.Event()

    def slow_hub(source: str, cancel=None) -> DownloadPlan:  # Download is pressed before it answers
        asked.wait(30)
        return hub_unreachable(source)

    monkeypatch.setattr(model_dialog, "plan_download", slow_hub)
    dialog = open_setup(qtbot, hub_settings, runner)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.downloading, timeout=30_000)
    asked.set()
    assert "offline mode is on" in dialog.message_label.text()
    assert dialog.message_label.isVisible() and not dialog.progress_bar.isVisible()
    assert dialog.choose_button.isEnabled() and dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted


def test_choosing_a_folder_accepts_only_a_model(
    qtbot, hub_settings, runner, monkeypatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", hub_unreachable)
    dialog = open_setup(qtbot, hub_settings, runner)
    not_a_model = tmp_path / "papers"
    not_a_model.mkdir()
    choose_folder(monkeypatch, not_a_model)
    qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not a model folder" in dialog.message_label.text())
    assert dialog.isVisible() and hub_settings.model == HUB_ID

    choose_folder(monkeypatch, tiny_model_dir)
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    assert hub_settings.model == str(tiny_model_dir)
    assert model_is_available(hub_settings.model)


def test_cancel_stops_the_download_and_keeps_the_dialog_usable(
    qtbot, hub_settings, runner, monkeypatch, tiny_model_dir: Path
) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", lambda source, cancel=None: two_repo_plan())
    stopped = threading.Event()

    def fake_locate(source, progress=None, *, offline=None, cancel=None):
        total, done, start = 4_400_000_000, 0, time.monotonic()
        while not cancel.cancelled:
            done = min(total, done + 1_000_000)
            rate = done / max(time.monotonic() - start, 1e-3)
            progress(
                Progress(
                    f"Downloading {source}", done, total, "bytes", rate=rate, eta_s=(total - done) / rate
                )
            )
            time.sleep(0.001)  # pacing like a network, not synchronisation
        stopped.set()
        raise Cancelled()

    monkeypatch.setattr(model_dialog, "locate_model", fake_locate)
    dialog = open_setup(qtbot, hub_settings, runner)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=10_000)
    assert "MB of 4,400.0 MB" in dialog.progress_label.text() and "MB/s" in dialog.progress_label.text()
    assert dialog.cancel_button.isVisible() and not dialog.choose_button.isEnabled()

    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.downloading, timeout=10_000)
    assert stopped.is_set()
    assert "cancelled" in dialog.message_label.text().lower()
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isVisible()

    # Still usable: a model folder can be chosen after the cancelled download.
    choose_folder(monkeypatch, tiny_model_dir)
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    assert hub_settings.model == str(tiny_model_dir)


def never_decreases(values: Sequence[int]) -> bool:
    return all(later >= earlier for earlier, later in pairwise(values))


# What the core promises (one stage, one total known from the start, bytes of the adapter then of
# its base counted on), and what the old one sent: a stage per repository, its total unknown at
# first and growing as files started, its count starting again from 0.
TOTAL = 4_474_000_000
ONE_TOTAL = [
    Progress(f"Downloading {HUB_ID}", done, TOTAL, "bytes")
    for done in (0, 74_000_000, 1_000_000_000, 2_274_000_000, 3_500_000_000, TOTAL)
]
PER_REPO = [
    Progress(f"Downloading {HUB_ID}", 40_000_000, 74_000_000, "bytes"),
    Progress(f"Downloading {HUB_ID}", 74_000_000, 74_000_000, "bytes"),
    Progress("Downloading vidore/colqwen2-base", 0, None, "bytes"),
    Progress("Downloading vidore/colqwen2-base", 500_000_000, 2_200_000_000, "bytes"),
    Progress("Downloading vidore/colqwen2-base", 2_200_000_000, 4_400_000_000, "bytes"),
    Progress("Downloading vidore/colqwen2-base", 4_400_000_000, 4_400_000_000, "bytes"),
]


def download_through(qtbot, dialog: ModelSetupDialog, monkeypatch, reports: list[Progress]):
    """Run Download with a locate_model that sends ``reports``; return the bar's values and the
    ranges it was given, in order."""
    values: list[int] = []
    ranges: list[tuple[int, int]] = []
    bar = dialog.progress_bar
    bar.valueChanged.connect(values.append)
    set_range = bar.setRange

    def recording_set_range(low: int, high: int) -> None:
        ranges.append((low, high))
        set_range(low, high)

    monkeypatch.setattr(bar, "setRange", recording_set_range)

    def fake_locate(source, progress=None, *, offline=None, cancel=None):
        for report in reports:
            progress(report)
            time.sleep(0.12)  # pacing past the runner's ten-a-second throttle, not synchronisation
        return object()

    monkeypatch.setattr(model_dialog, "locate_model", fake_locate)
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    return values, ranges


@pytest.mark.parametrize("reports", [ONE_TOTAL, PER_REPO], ids=["one-total", "per-repository"])
def test_the_bar_runs_once_to_the_total_and_never_back(
    qtbot, hub_settings, runner, monkeypatch, reports: list[Progress]
) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", lambda source, cancel=None: two_repo_plan())
    dialog = open_setup(qtbot, hub_settings, runner)
    values, ranges = download_through(qtbot, dialog, monkeypatch, reports)
    assert values and never_decreases(values) and values[-1] == 1000
    counting = ranges.index((0, 1000))
    assert set(ranges[counting:]) == {(0, 1000)}  # once counting, never back to "busy"
    if reports is ONE_TOTAL:
        assert dialog.progress_label.text().endswith("4,474.0 MB of 4,474.0 MB")
        assert values[0] == 0 and len(set(values)) == len(values)  # each report moved it forward


def test_the_bar_check_catches_a_bar_that_starts_again(qtbot) -> None:
    """Negative control: drawn naively, each report's own fraction, the per-repository sequence
    moves the bar backwards, so the test above can fail."""
    naive = [round(p.done / p.total * 1000) for p in PER_REPO if p.total]
    assert not never_decreases(naive)
    assert never_decreases([round(p.done / TOTAL * 1000) for p in ONE_TOTAL])


def test_a_model_folder_on_this_computer_is_said_to_be_here(
    qtbot, app_settings, runner, monkeypatch, tiny_model_dir: Path
) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", hub_unreachable)  # never asked for a folder
    app_settings.model = str(tiny_model_dir)
    dialog = open_setup(qtbot, app_settings, runner)
    qtbot.waitUntil(lambda: dialog.available is True)
    qtbot.waitUntil(lambda: "nothing to download" in dialog.size_label.text())
    assert dialog.intro_label.text() == (
        "This model is on this computer and DocRetriever uses it from there. "
        "To use another model, choose its folder."
    )
    assert dialog.not_now_button.text() == "Close"
    assert not dialog.download_button.isEnabled() and dialog.choose_button.isEnabled()
    assert not dialog.message_label.isVisible()


def test_a_folder_the_core_refuses_shows_the_core_message(
    qtbot, app_settings, runner, tmp_path: Path, tiny_model_dir: Path
) -> None:
    hf_layout = Path(shutil.copytree(tiny_model_dir, tmp_path / "colqwen2-v1.0-hf"))
    config = json.loads((hf_layout / "config.json").read_text())
    (hf_layout / "config.json").write_text(json.dumps({**config, "model_type": "colqwen2"}))
    app_settings.model = str(hf_layout)
    dialog = open_setup(qtbot, app_settings, runner)
    qtbot.waitUntil(dialog.message_label.isVisible, timeout=10_000)
    assert dialog.message_label.text() == why_unavailable(str(hf_layout))
    assert '"-hf"' in dialog.message_label.text()
    assert dialog.available is False and "not on this computer yet" in dialog.intro_label.text()


def test_the_dialog_downloads_the_real_layout_from_a_hub(
    qtbot, hub, app_settings, runner, monkeypatch
) -> None:
    """No fakes: the local stand-in of the Hub serves vidore/colqwen2-v1.0's layout, and the
    dialog plans, downloads with one forward-only bar, and hands over the located files. Enter
    means Download even when another button has the focus (it once opened the folder chooser)."""
    app_settings.model = HUB_ID
    folder_chooser_opened: list[bool] = []
    monkeypatch.setattr(
        QFileDialog,
        "getExistingDirectory",
        staticmethod(lambda *args, **kwargs: folder_chooser_opened.append(True) or ""),
    )
    dialog = open_setup(qtbot, app_settings, runner)
    qtbot.waitUntil(lambda: "Download: 1.1 MB" in dialog.size_label.text(), timeout=30_000)
    assert "thousand parameters" in dialog.memory_label.text()  # the tiny model, not "0.00 billion"
    values: list[int] = []
    dialog.progress_bar.valueChanged.connect(values.append)
    dialog.choose_button.setFocus()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    # Then the downloaded model reads a page, timed and shown; Enter (Done) closes the dialog.
    qtbot.waitUntil(lambda: dialog.measurement is not None, timeout=60_000)
    assert dialog.measurement.describe() in dialog.speed_label.text()
    assert dialog.download_button.text() == "Done" and dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert not folder_chooser_opened
    assert values and never_decreases(values) and values[-1] == dialog.progress_bar.maximum()
    assert dialog.model_files is not None and dialog.model_files.revision == hub.commit(HUB_ID)
    assert not [r for r in hub.requests if "checkpoint-" in r.path]
