"""The password prompt: an add of an encrypted PDF asks for its password; typing it indexes the
file, a wrong one asks again with the reason, Skip leaves it failed, the library pane asks again
on request, and "Remember" reaches the (stand-in) system keyring only when ticked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from password_fixtures import USER_PASSWORD, encrypted_pdf
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMenu

from docretriever.documents.passwords import KEYRING_SERVICE
from docretriever.documents.pdf import sha256_of_file
from docretriever.library import AddReport
from docretriever_ui.library_rows import NAME, STATUS
from docretriever_ui.main_window import MainWindow
from docretriever_ui.password_prompt import NO_KEYRING_TIP, PasswordDialog

INGEST_MS = 120_000


def status_of(window: MainWindow, name: str) -> str | None:
    items = [item for item in window.library_pane.tree.items() if item.text(NAME) == name]
    return items[0].text(STATUS) if items else None


def question(window: MainWindow, qtbot) -> PasswordDialog:
    qtbot.waitUntil(lambda: window.password_prompts.dialog is not None, timeout=INGEST_MS)
    dialog = window.password_prompts.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def answer(window: MainWindow, qtbot, dialog: PasswordDialog, password: str) -> AddReport:
    """Type ``password`` and choose Open; the report of the add that follows."""
    qtbot.keyClicks(dialog.field, password)
    with qtbot.waitSignal(window.session.ingest_finished, timeout=INGEST_MS) as finished:
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    report = finished.args[0]
    assert isinstance(report, AddReport)
    return report


def add(window: MainWindow, qtbot, path: Path) -> AddReport:
    with qtbot.waitSignal(window.session.ingest_finished, timeout=INGEST_MS) as finished:
        window.add_paths([str(path)])
    return finished.args[0]


@pytest.fixture()
def locked(tmp_path: Path) -> Path:
    return encrypted_pdf(tmp_path / "report.pdf")


def test_adding_an_encrypted_file_asks_for_its_password_and_typing_it_indexes_the_file(
    window: MainWindow, qtbot, locked: Path, app_settings
) -> None:
    assert add(window, qtbot, locked).outcomes[0].needs_password
    dialog = question(window, qtbot)
    assert dialog.message.text() == "‘report.pdf’ is protected by a password."
    assert dialog.reason.isHidden()  # nothing went wrong yet
    assert dialog.field.echoMode() == dialog.field.EchoMode.Password
    assert not dialog.open_button.isEnabled()  # nothing typed yet
    # No keyring here (the tests' null backend): the choice is off, and says why.
    assert not dialog.remember_box.isEnabled() and dialog.remember_box.toolTip() == NO_KEYRING_TIP

    report = answer(window, qtbot, dialog, USER_PASSWORD)
    assert [(o.status, o.pages) for o in report.outcomes] == [("indexed", 2)]
    assert window.password_prompts.dialog is None and window.password_prompts.pending() == []
    qtbot.waitUntil(lambda: status_of(window, "report.pdf") == "Indexed", timeout=10_000)
    # The password is kept for this run: its page shows in a preview.
    (document,) = window.session.documents()
    shown: list[object] = []
    window.session.render_page(document.doc_id, 1, 50_000, shown.append, shown.append)
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert isinstance(shown[0], QImage) and not shown[0].isNull()
    app_settings.sync()
    assert USER_PASSWORD not in Path(app_settings.store.fileName()).read_text()


def test_a_wrong_password_asks_again_with_the_reason(window: MainWindow, qtbot, tmp_path: Path) -> None:
    # The corpus's real encrypted sample (LibreOffice), whose user password is "openpassword".
    sample = corpus_or_skip(SAMPLES) / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf"
    copy = tmp_path / sample.name
    shutil.copy(sample, copy)
    add(window, qtbot, copy)
    report = answer(window, qtbot, question(window, qtbot), "not it")
    assert report.outcomes[0].error == f"The password for {sample.name} is not right."
    again = question(window, qtbot)
    assert (
        again.reason.text() == f"The password for {sample.name} is not right." and not again.reason.isHidden()
    )
    assert again.field.text() == ""  # the wrong one is not offered again
    assert answer(window, qtbot, again, "openpassword").outcomes[0].status == "indexed"
    assert window.password_prompts.dialog is None


def test_skip_leaves_it_failed_until_the_library_pane_asks_again(
    window: MainWindow, qtbot, locked: Path
) -> None:
    add(window, qtbot, locked)
    dialog = question(window, qtbot)
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    assert window.password_prompts.dialog is None
    qtbot.waitUntil(lambda: status_of(window, "report.pdf") == "Failed", timeout=10_000)
    # Skipped: a later ingest that meets it again does not ask again.
    add(window, qtbot, locked)
    assert window.password_prompts.dialog is None and window.password_prompts.pending() == []

    pane = window.library_pane
    item = next(item for item in pane.tree.items() if item.text(NAME) == "report.pdf")
    pane.tree.setCurrentItem(item)
    assert pane.details.password_button.isVisibleTo(pane.details)
    assert not pane.details.copy_button.isVisibleTo(pane.details)  # no bug to report
    menu: QMenu = pane.context_menu(item)
    enter = next(action for action in menu.actions() if action.text() == "Enter password…")
    enter.trigger()
    dialog = question(window, qtbot)
    assert dialog.message.text() == "‘report.pdf’ is protected by a password."
    assert answer(window, qtbot, dialog, USER_PASSWORD).outcomes[0].status == "indexed"
    qtbot.waitUntil(lambda: status_of(window, "report.pdf") == "Indexed", timeout=10_000)
    pane.tree.setCurrentItem(next(item for item in pane.tree.items() if item.text(NAME) == "report.pdf"))
    # Negative control: an indexed file offers no password entry.
    assert not pane.details.password_button.isVisibleTo(pane.details)
    menu = pane.context_menu(pane.tree.currentItem())
    assert "Enter password…" not in [action.text() for action in menu.actions()]


def test_remember_puts_the_password_in_the_keyring_only_when_ticked(
    window: MainWindow, qtbot, tmp_path: Path, stand_in_keyring
) -> None:
    first, second = encrypted_pdf(tmp_path / "first.pdf", 1), encrypted_pdf(tmp_path / "second.pdf", 3)
    add(window, qtbot, first)
    dialog = question(window, qtbot)
    assert dialog.remember_box.isEnabled() and dialog.remember_box.toolTip() != NO_KEYRING_TIP
    answer(window, qtbot, dialog, USER_PASSWORD)  # not ticked
    assert stand_in_keyring.secrets == {}

    add(window, qtbot, second)
    dialog = question(window, qtbot)
    dialog.remember_box.setChecked(True)
    answer(window, qtbot, dialog, USER_PASSWORD)
    assert stand_in_keyring.secrets == {(KEYRING_SERVICE, sha256_of_file(second)): USER_PASSWORD}


def test_several_encrypted_files_are_asked_for_one_after_another(
    window: MainWindow, qtbot, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    encrypted_pdf(folder / "a.pdf", 1)
    encrypted_pdf(folder / "b.pdf", 1)
    add(window, qtbot, folder)
    first = question(window, qtbot)
    assert first.message.text() == "‘a.pdf’ is protected by a password."
    assert window.password_prompts.pending() == [str(folder / "a.pdf"), str(folder / "b.pdf")]
    qtbot.mouseClick(first.skip_button, Qt.MouseButton.LeftButton)
    second = question(window, qtbot)
    assert second.message.text() == "‘b.pdf’ is protected by a password."
    assert window.password_prompts.pending() == [str(folder / "b.pdf")]
    qtbot.mouseClick(second.skip_button, Qt.MouseButton.LeftButton)
    assert window.password_prompts.dialog is None
