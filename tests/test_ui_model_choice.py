"""The set-up dialog's choice of model, offscreen and offline: every catalogue model listed, the
recommendation preselected for made-up computers, a cached speed shown, choosing stored in the
settings, and a downloaded model timed end to end (the tiny model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_ui_model_dialog import two_repo_plan

from docretriever.embedding import speed
from docretriever.embedding.catalogue import CATALOGUE
from docretriever.embedding.hardware import Hardware
from docretriever.embedding.model_files import locate_model
from docretriever.embedding.speed import SpeedMeasurement, cached_speed, record_speed
from docretriever.errors import ModelError
from docretriever_ui import model_dialog
from docretriever_ui.model_choice_list import COLUMNS, RECOMMENDED, SPEED_COLUMN
from docretriever_ui.model_dialog import ModelSetupDialog
from docretriever_ui.tasks import TaskRunner

CPU_ONLY = Hardware(cpu_name="Test CPU 9000", cpu_cores=8, ram_bytes=32_000_000_000)
BIG_GPU = Hardware(
    cpu_name="Test CPU 9000", cpu_cores=32, gpu_name="Test GPU", gpu_memory_bytes=80_000_000_000
)
FLASH = "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"
PRIME = "vultr/VultronRetrieverPrime-Qwen3.5-8B"
COLQWEN2 = "vidore/colqwen2-v1.0"


@pytest.fixture()
def runner() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    assert runner.wait(60_000)  # workers finish before the monkeypatches are undone


@pytest.fixture()
def offline(no_cached_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty Hugging Face cache, a Hub that cannot be reached, a fresh cache of speeds."""
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DOCRETRIEVER_MODEL", raising=False)

    def no_hub(source: str, cancel: object = None) -> object:
        raise ModelError("The Hugging Face Hub could not be reached.")

    monkeypatch.setattr(model_dialog, "plan_download", no_hub)


def open_dialog(qtbot, settings, runner: TaskRunner, hardware: Hardware) -> ModelSetupDialog:
    dialog = ModelSetupDialog(settings, runner, hardware=hardware)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.choice is not None, timeout=10_000)
    return dialog


@pytest.mark.parametrize(
    ("hardware", "expected"), [(CPU_ONLY, FLASH), (BIG_GPU, PRIME)], ids=["cpu", "80-GB-gpu"]
)
def test_every_model_is_listed_and_the_recommended_one_preselected(
    qtbot, app_settings, runner, offline, hardware: Hardware, expected: str
) -> None:
    assert not app_settings.model_chosen  # nothing chosen yet: the dialog recommends
    dialog = open_dialog(qtbot, app_settings, runner, hardware)
    listed = dialog.choice_list
    assert listed.hub_ids() == [entry.hub_id for entry in CATALOGUE]
    assert listed.selected() == expected and dialog.source == expected
    assert listed.row_text(expected, 0).endswith(RECOMMENDED)
    assert [hub_id for hub_id in listed.hub_ids() if listed.row_text(hub_id, 0).endswith(RECOMMENDED)] == [
        expected
    ]
    assert expected in dialog.model_label.text()
    assert hardware.describe() in listed.recommendation_label.text()
    row = next(entry for entry in CATALOGUE if entry.hub_id == expected)
    assert listed.row_text(expected, COLUMNS.index("Licence")) == row.licence
    assert listed.row_text(expected, COLUMNS.index("Here")) == "no"
    assert listed.row_text(expected, SPEED_COLUMN) == "not measured"
    # Only shown, not yet stored: the model is stored once it is on this computer.
    assert not app_settings.model_chosen
    # Every column is seen without scrolling: the dialog grew to the filled list.
    tree = listed.tree
    assert tree.viewport().width() >= sum(tree.columnWidth(c) for c in range(len(COLUMNS)))
    assert tree.horizontalScrollBar().maximum() == 0


def test_a_model_chosen_before_stays_selected(qtbot, app_settings, runner, offline) -> None:
    app_settings.model = COLQWEN2
    dialog = open_dialog(qtbot, app_settings, runner, BIG_GPU)
    assert dialog.choice_list.selected() == COLQWEN2 and dialog.source == COLQWEN2
    assert dialog.choice_list.row_text(PRIME, 0).endswith(RECOMMENDED)


def test_a_cached_measurement_is_shown_for_this_computer_only(qtbot, app_settings, runner, offline) -> None:
    measured = SpeedMeasurement(
        model=COLQWEN2,
        fingerprint="f" * 64,
        device="cpu",
        visual_tokens=256,
        seconds_per_page=3.25,
        pages=1,
        machine=CPU_ONLY.machine_key,
        measured_at="2026-12-01T10:00:00+00:00",
    )
    record_speed(measured)
    record_speed(SpeedMeasurement(**{**measured.__dict__, "model": FLASH, "machine": "another computer"}))
    dialog = open_dialog(qtbot, app_settings, runner, CPU_ONLY)
    assert dialog.choice_list.row_text(COLQWEN2, SPEED_COLUMN) == "3.25 s/page (cpu, 256 cells)"
    assert dialog.choice_list.row_text(FLASH, SPEED_COLUMN) == "not measured"


def test_choosing_a_model_plans_it_and_a_download_stores_and_times_it(
    qtbot, app_settings, runner, offline, monkeypatch, tiny_model_dir: Path
) -> None:
    """The person picks ColQwen2 instead of the recommendation; the download (a stand-in that
    "fetches" the tiny model) stores the choice; the measurement loads the model and times it
    for real, off the UI thread, remembers it and shows it."""
    dialog = open_dialog(qtbot, app_settings, runner, CPU_ONLY)
    qtbot.waitUntil(lambda: dialog.hub_failed, timeout=10_000)
    assert dialog.source == FLASH
    asked: list[str] = []
    monkeypatch.setattr(
        model_dialog, "plan_download", lambda source, cancel=None: asked.append(source) or two_repo_plan()
    )
    dialog.choice_list.select(COLQWEN2)
    assert dialog.source == COLQWEN2 and COLQWEN2 in dialog.model_label.text()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    assert asked == [COLQWEN2] and dialog.size_label.text().startswith("Download: 4.4 GB")
    assert not app_settings.model_chosen

    def fetch_tiny(source, progress=None, *, offline=None, cancel=None):
        assert source == COLQWEN2
        return locate_model(str(tiny_model_dir), offline=True)

    monkeypatch.setattr(model_dialog, "locate_model", fetch_tiny)
    # The measurement loads the model chosen (ColQwen2); here it loads the tiny model's folder instead.
    real_measure = speed.measure_model
    monkeypatch.setattr(
        speed,
        "measure_model",
        lambda spec, machine, **kw: real_measure(
            type(spec)(str(tiny_model_dir), "cpu", 64, download=False), machine, **kw
        ),
    )
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.measurement is not None, timeout=60_000)
    assert app_settings.model == COLQWEN2 and app_settings.model_chosen
    measurement = dialog.measurement
    assert measurement.seconds_per_page > 0 and measurement.visual_tokens == 64
    assert measurement.machine == CPU_ONLY.machine_key
    assert dialog.choice_list.row_text(COLQWEN2, SPEED_COLUMN) == measurement.describe()
    assert measurement.describe() in dialog.speed_label.text()
    remembered = cached_speed(str(tiny_model_dir), CPU_ONLY.machine_key)
    assert remembered == measurement
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
