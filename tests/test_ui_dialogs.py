"""The model setup and preferences dialogs, and the error box, offscreen and offline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog

from docretriever.errors import Cancelled
from docretriever.progress import Progress
from docretriever_ui import model_dialog
from docretriever_ui.error_dialog import ErrorDialog
from docretriever_ui.model_dialog import ModelSetupDialog, model_needs_setup
from docretriever_ui.preferences import PreferencesDialog
from docretriever_ui.tasks import TaskError, TaskRunner

HUB_ID = "vidore/colqwen2-v1.0"


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


def test_missing_model_shows_its_name_and_size_unknown(qtbot, hub_settings, runner, monkeypatch) -> None:
    monkeypatch.setattr(model_dialog, "download_size", lambda source: None)
    assert model_needs_setup(hub_settings)
    dialog = open_setup(qtbot, hub_settings, runner)
    assert HUB_ID in dialog.model_label.text()
    qtbot.waitUntil(lambda: "size unknown" in dialog.size_label.text())


def test_known_size_is_shown_in_gigabytes(qtbot, hub_settings, runner, monkeypatch) -> None:
    monkeypatch.setattr(model_dialog, "download_size", lambda source: 4_400_000_000)
    dialog = open_setup(qtbot, hub_settings, runner)
    qtbot.waitUntil(lambda: "4.4 GB" in dialog.size_label.text())


def test_download_offline_shows_the_core_message_inline(qtbot, hub_settings, runner, monkeypatch) -> None:
    monkeypatch.setattr(model_dialog, "download_size", lambda source: None)
    dialog = open_setup(qtbot, hub_settings, runner)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.downloading, timeout=30_000)
    assert "offline mode is on" in dialog.message_label.text()
    assert dialog.message_label.isVisible() and not dialog.progress_bar.isVisible()
    assert dialog.choose_button.isEnabled() and dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted


def test_choosing_a_folder_accepts_only_a_model(
    qtbot, hub_settings, runner, monkeypatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    monkeypatch.setattr(model_dialog, "download_size", lambda source: None)
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
    assert not model_needs_setup(hub_settings)


def test_cancel_stops_the_download_and_keeps_the_dialog_usable(
    qtbot, hub_settings, runner, monkeypatch, tiny_model_dir: Path
) -> None:
    monkeypatch.setattr(model_dialog, "download_size", lambda source: 4_400_000_000)
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


def test_preferences_show_store_and_report_changes(qtbot, app_settings, tmp_path: Path) -> None:
    app_settings.model = HUB_ID
    app_settings.device = "cpu"
    dialog = PreferencesDialog(app_settings)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.model_edit.text() == HUB_ID
    assert dialog.device_combo.currentData() == "cpu"
    assert dialog.library_edit.text() == app_settings.library

    other_library = tmp_path / "other-library"
    dialog.model_edit.setText("vidore/colqwen2.5-v0.2")
    dialog.library_edit.setText(str(other_library))
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert app_settings.model == "vidore/colqwen2.5-v0.2"
    assert app_settings.library == str(other_library)
    assert app_settings.device == "cpu"
    assert dialog.model_changed and dialog.library_changed and not dialog.device_changed
    assert dialog.needs_reopen

    again = PreferencesDialog(app_settings)
    qtbot.addWidget(again)
    again.device_combo.setCurrentIndex(again.device_combo.findData("auto"))
    again.library_edit.setText(str(other_library) + "/")
    again.accept()
    assert again.result() == QDialog.DialogCode.Accepted
    assert again.changed == {"device"} and app_settings.device == "auto"

    pooling = PreferencesDialog(app_settings)
    qtbot.addWidget(pooling)
    assert pooling.pooling_combo.currentData() == 1
    pooling.pooling_combo.setCurrentIndex(pooling.pooling_combo.findData(3))
    pooling.accept()
    assert pooling.changed == {"token_pooling"} and app_settings.token_pooling == 3


def test_preferences_refuse_an_empty_field(qtbot, app_settings) -> None:
    library = app_settings.library
    dialog = PreferencesDialog(app_settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.library_edit.setText("  ")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.message_label.isVisible() and "library" in dialog.message_label.text()
    assert app_settings.library == library and not dialog.needs_reopen

    dialog.library_edit.setText(library)
    dialog.model_edit.clear()
    dialog.accept()
    assert dialog.isVisible() and "model" in dialog.message_label.text()


def test_error_dialog_copies_message_and_details_without_closing(qtbot) -> None:
    box = ErrorDialog(TaskError("The library folder cannot be written.", "Traceback: PermissionError"))
    qtbot.addWidget(box)
    box.show()
    assert box.text() == "The library folder cannot be written."
    qtbot.mouseClick(box.copy_button, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert "The library folder cannot be written." in copied and "PermissionError" in copied
    assert box.isVisible()


def test_an_exception_in_a_slot_becomes_an_error_box(qtbot, monkeypatch) -> None:
    import sys

    from PySide6.QtWidgets import QWidget

    from docretriever_ui.error_dialog import ErrorDialog, install_excepthook

    parent = QWidget()
    qtbot.addWidget(parent)
    monkeypatch.setattr(sys, "excepthook", lambda *args: None)  # keep pytest's hook untouched
    install_excepthook(parent)
    try:
        raise ValueError("a bug")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    boxes = parent.findChildren(ErrorDialog)
    assert len(boxes) == 1
    assert "ValueError: a bug" in boxes[0].text() and "Traceback" in boxes[0].detailedText()


def test_preferences_take_a_qdrant_library_as_written_and_its_api_key(qtbot, app_settings) -> None:
    dialog = PreferencesDialog(app_settings)
    qtbot.addWidget(dialog)
    dialog.library_edit.setText("qdrant://")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "not a Qdrant location" in dialog.message_label.text() or "names no" in dialog.message_label.text()
    dialog.library_edit.setText("qdrant+local:///srv/shared/pages")
    dialog.api_key_edit.setText("secret")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert app_settings.library == "qdrant+local:///srv/shared/pages"  # not collapsed as a path
    assert app_settings.qdrant_api_key == "secret" and dialog.changed == {"library", "api_key"}
