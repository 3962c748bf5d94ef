"""The preferences dialog and the error box, offscreen and offline (the model set-up dialog is in
test_ui_model_dialog.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog

from docretriever_ui.error_dialog import ErrorDialog, show_error
from docretriever_ui.preferences import PreferencesDialog
from docretriever_ui.tasks import TaskError

HUB_ID = "vidore/colqwen2-v1.0"


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


@pytest.mark.parametrize(
    ("model", "accepted"),
    [
        ("vidore/colqwen2-v1.0@92eec1a", True),  # a pinned revision
        ("vidore/colqwen2-v1.0@", False),
        ("not a model id", False),
        ("/no/such/model/folder", False),
    ],
)
def test_preferences_check_the_form_of_the_model(qtbot, app_settings, model: str, accepted: bool) -> None:
    dialog = PreferencesDialog(app_settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.model_edit.setText(model)
    dialog.accept()
    assert (dialog.result() == QDialog.DialogCode.Accepted) is accepted
    assert (app_settings.model == model) is accepted
    if not accepted:
        assert dialog.message_label.isVisible() and model.split("@")[0] in dialog.message_label.text()


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


def test_one_cause_opens_one_error_box(qtbot) -> None:
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    failed_load = TaskError("The model vidore/colqwen2-v1.0-hf is in another layout.", "load")
    first = show_error(failed_load, parent)
    # The ingest that waited for that model fails with the same message: no second box.
    assert show_error(TaskError(failed_load.message, "ingest"), parent) is first
    # Negative control: another message is another box, and once closed a box is not reused.
    other = show_error(TaskError("The library folder cannot be written.", ""), parent)
    assert other is not first
    first.close()
    qtbot.waitUntil(lambda: not first.isVisible())
    assert show_error(failed_load, parent) is not first
