"""The model in the main window: loaded in the background at start-up with its time in the status
bar, searches and drops that wait for it visibly, Model → Set up…, Preferences that change the
model, and a load that fails. Offscreen, with the tiny model held at a gate the test opens."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from PySide6.QtWidgets import QDialog
from test_ui_main import drop

from docretriever.errors import ModelError
from docretriever_ui import model_dialog
from docretriever_ui.app import create_window
from docretriever_ui.error_dialog import ErrorDialog
from docretriever_ui.main_window import MainWindow
from docretriever_ui.model_dialog import ModelSetupDialog
from docretriever_ui.preferences import PreferencesDialog
from docretriever_ui.session import LibrarySession, ModelState

WAITING = re.compile(r"waiting for the model \(\d+ s\)")
HF_LAYOUT = 'vidore/colqwen2-v1.0-hf is a transformers-native checkpoint (the "-hf" layout).'


class Gate:
    """Holds every model load inside the core's load lock, as a slow load does, until opened."""

    def __init__(self, embedder: object) -> None:
        self.embedder = embedder
        self.opened = threading.Event()
        self.started = threading.Event()
        self.loads = 0
        self.error: Exception | None = None

    def load(self, spec: object, progress: object = None, cancel: object = None) -> object:
        self.loads += 1
        self.started.set()
        if not self.opened.wait(60):
            raise RuntimeError("the test never opened the gate")
        if self.error is not None:
            raise self.error
        return self.embedder


@pytest.fixture()
def gate(monkeypatch: pytest.MonkeyPatch, tiny_embedder) -> Iterator[Gate]:
    gate = Gate(tiny_embedder)
    # Where the library loads its model, under its load lock: searches and ingests wait there.
    monkeypatch.setattr("docretriever.library.embedding_library.load_embedder", gate.load)
    yield gate
    gate.opened.set()  # never leave a worker waiting


@pytest.fixture()
def gated_session(app_settings, tiny_model_dir: Path, gate: Gate) -> Iterator[LibrarySession]:
    """A session with no ready embedder over the tiny model: its load waits at the gate."""
    app_settings.model = str(tiny_model_dir)
    session = LibrarySession(app_settings)
    yield session
    gate.opened.set()
    session.close()


def start(qtbot, session: LibrarySession) -> MainWindow:
    window = create_window(session=session)
    qtbot.addWidget(window)
    return window


def test_the_model_loads_at_start_up_and_the_status_bar_says_so(qtbot, gated_session, gate: Gate) -> None:
    window = start(qtbot, gated_session)
    status = window.model_status
    qtbot.waitUntil(lambda: gated_session.model_state is ModelState.LOADING, timeout=10_000)
    assert gate.started.wait(10)  # on a worker: the UI thread went on
    assert status.isVisible() and re.fullmatch(r"Loading the model… \d+ s", status.label.text())
    qtbot.waitUntil(lambda: status.elapsed_s >= 1 and status.label.text().endswith("1 s"), timeout=5_000)
    # A permanent widget: the window's own messages do not hide it.
    window.statusBar().showMessage("Something else happened")
    assert status.isVisible() and window.statusBar().currentMessage() == "Something else happened"

    gate.opened.set()
    qtbot.waitUntil(lambda: gated_session.model_state is ModelState.READY, timeout=10_000)
    assert status.label.text() == "Model ready: tiny (a model folder)" and status.isVisible()
    assert gate.loads == 1 and not window.findChildren(ModelSetupDialog)


def test_a_search_during_the_load_waits_visibly_then_shows_results(
    qtbot, indexed_session: LibrarySession, gate: Gate
) -> None:
    settings = indexed_session.settings
    indexed_session.close()
    session = LibrarySession(settings)  # no ready embedder: this one loads the model
    try:
        window = start(qtbot, session)
        qtbot.waitUntil(gate.started.is_set, timeout=10_000)
        window.search_box.setText("arabic")
        window.run_search()
        message = window.statusBar().currentMessage
        assert re.fullmatch(r"Searching… " + WAITING.pattern, message())
        qtbot.waitUntil(lambda: "(1 s)" in message() or "(2 s)" in message(), timeout=5_000)  # it ticks
        assert window.results.count() == 0

        gate.opened.set()
        qtbot.waitUntil(lambda: window.results.count() > 0, timeout=30_000)
        assert "pages found" in message() and gate.loads == 1
    finally:
        gate.opened.set()
        session.close()


def test_a_drop_during_the_load_says_it_waits_for_the_model(qtbot, gated_session, gate: Gate) -> None:
    window = start(qtbot, gated_session)
    qtbot.waitUntil(gate.started.is_set, timeout=10_000)
    drop(window, corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf")
    label = window.ingest_status.label
    assert window.ingest_status.isVisible() and WAITING.search(label.text())
    with qtbot.waitSignal(gated_session.ingest_finished, timeout=60_000) as finished:
        gate.opened.set()
    assert finished.args[0].count("indexed") == 1
    assert not WAITING.search(label.text()) and gate.loads == 1


def test_a_search_without_a_load_starts_one_visibly(qtbot, app_settings, tiny_model_dir, gate: Gate) -> None:
    """After "Not now" nothing loads at start-up; the first search must not wait silently."""
    app_settings.model = str(tiny_model_dir)
    session = LibrarySession(app_settings)
    window = MainWindow(session)  # no start(): as after "Not now"
    qtbot.addWidget(window)
    window.show()
    try:
        assert session.model_state is ModelState.NOT_LOADED and not window.model_status.isVisible()
        window.search_box.setText("anything")
        window.run_search()
        assert session.model_state is ModelState.LOADING and window.model_status.isVisible()
        assert WAITING.search(window.statusBar().currentMessage())
        gate.opened.set()
        qtbot.waitUntil(lambda: "No indexed pages" in window.statusBar().currentMessage(), timeout=30_000)
        assert gate.loads == 1
    finally:
        gate.opened.set()
        session.close()


def test_a_failed_load_shows_the_core_message(qtbot, gated_session, gate: Gate) -> None:
    gate.error = ModelError(HF_LAYOUT, details="config.json: model_type colqwen2")
    gate.opened.set()
    window = start(qtbot, gated_session)
    qtbot.waitUntil(lambda: bool(window.findChildren(ErrorDialog)), timeout=10_000)
    box = window.findChildren(ErrorDialog)[0]
    assert box.text() == HF_LAYOUT and "model_type colqwen2" in box.detailedText()
    assert gated_session.model_state is ModelState.FAILED
    assert window.model_status.label.text() == "Model not loaded"
    box.close()


@pytest.fixture()
def empty_hub_cache(no_cached_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_dialog, "plan_download", no_hub)


def no_hub(source: str, cancel: object = None) -> object:
    raise ModelError("The Hugging Face Hub could not be reached.")


def visible_set_up(window: MainWindow) -> list[ModelSetupDialog]:
    return [dialog for dialog in window.findChildren(ModelSetupDialog) if dialog.isVisible()]


def test_model_set_up_brings_the_dialog_back_after_not_now(
    qtbot, app_settings, empty_hub_cache, gate: Gate
) -> None:
    app_settings.model = "vidore/colqwen2-v1.0"
    session = LibrarySession(app_settings)
    try:
        window = start(qtbot, session)
        qtbot.waitUntil(lambda: bool(visible_set_up(window)), timeout=10_000)
        qtbot.mouseClick(visible_set_up(window)[0].not_now_button, _left())
        qtbot.waitUntil(lambda: not visible_set_up(window), timeout=5_000)
        assert "&Set up…" in [action.text() for action in window.model_menu.actions()]
        window.set_up_model_action.trigger()
        qtbot.waitUntil(lambda: bool(visible_set_up(window)), timeout=5_000)
        assert window.model_setup.dialog is visible_set_up(window)[0]
        window.set_up_model_action.trigger()  # a second time: the same dialog, raised
        assert len(visible_set_up(window)) == 1
        assert gate.loads == 0 and session.model_state is ModelState.NOT_LOADED
    finally:
        session.close()


def accept_preferences(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    """Preferences, as if the person typed ``model`` and pressed OK."""

    def exec_(dialog: PreferencesDialog) -> int:
        dialog.model_edit.setText(model)
        dialog.accept()
        return int(dialog.result())

    monkeypatch.setattr(PreferencesDialog, "exec", exec_)


def test_preferences_naming_a_missing_model_open_the_set_up_dialog(
    qtbot, gated_session, gate: Gate, empty_hub_cache, monkeypatch
) -> None:
    window = MainWindow(gated_session)
    qtbot.addWidget(window)
    window.show()
    accept_preferences(monkeypatch, "vidore/colqwen2-v1.0")
    window.open_preferences()
    qtbot.waitUntil(lambda: bool(visible_set_up(window)), timeout=10_000)
    assert "vidore/colqwen2-v1.0" in visible_set_up(window)[0].model_label.text()
    assert gate.loads == 0 and gated_session.model_state is ModelState.NOT_LOADED


def test_preferences_naming_a_model_on_this_computer_start_its_load(
    qtbot, gated_session, gate: Gate, tmp_path: Path, tiny_model_dir: Path, monkeypatch
) -> None:
    copy = shutil.copytree(tiny_model_dir, tmp_path / "tiny-copy")
    window = MainWindow(gated_session)
    qtbot.addWidget(window)
    window.show()
    old_library = gated_session.library
    accept_preferences(monkeypatch, str(copy))
    window.open_preferences()
    qtbot.waitUntil(lambda: gated_session.model_state is ModelState.LOADING, timeout=10_000)
    assert gated_session.settings.model == str(copy)
    assert gated_session.library is not old_library  # opened again with the new model
    assert window.model_status.isVisible() and not visible_set_up(window)
    gate.opened.set()
    qtbot.waitUntil(lambda: gated_session.model_state is ModelState.READY, timeout=10_000)
    assert gate.loads == 1


def test_a_model_set_up_in_the_dialog_is_loaded(
    qtbot, app_settings, empty_hub_cache, gate: Gate, tiny_model_dir: Path, monkeypatch
) -> None:
    app_settings.model = "vidore/colqwen2-v1.0"
    session = LibrarySession(app_settings)
    try:
        window = start(qtbot, session)
        qtbot.waitUntil(lambda: bool(visible_set_up(window)), timeout=10_000)
        dialog = visible_set_up(window)[0]
        monkeypatch.setattr(
            "PySide6.QtWidgets.QFileDialog.getExistingDirectory",
            staticmethod(lambda *args, **kwargs: str(tiny_model_dir)),
        )
        with qtbot.waitSignal(dialog.finished, timeout=10_000) as closed:
            qtbot.mouseClick(dialog.choose_button, _left())
        assert closed.args[0] == QDialog.DialogCode.Accepted.value
        assert session.model_state is ModelState.LOADING and window.model_setup.dialog is None
        gate.opened.set()
        qtbot.waitUntil(lambda: session.model_state is ModelState.READY, timeout=10_000)
    finally:
        gate.opened.set()
        session.close()


def _left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_a_search_after_not_now_never_downloads_the_model(qtbot, hub, app_settings) -> None:
    """The app downloads only from its set-up dialog: a search with the model missing (after
    "Not now") fails with a sentence that says how to set it up, and fetches nothing."""
    app_settings.model = "vidore/colqwen2-v1.0"
    session = LibrarySession(app_settings)
    try:
        with qtbot.waitSignal(session.model_state_changed, check_params_cb=lambda s: s is ModelState.FAILED):
            session.load_model()
        assert session.model_error is not None and "Model → Set up" in session.model_error.message
        assert not [r for r in hub.requests if "/resolve/" in r.path or r.path.startswith("/api/")]
    finally:
        session.close()


def test_the_app_uses_the_model_a_library_was_built_with(qtbot, app_settings, tmp_path: Path) -> None:
    """No model chosen in the app, a library built with a ColQwen3.5 folder: the app loads that
    folder (not the default ColQwen2, which the library would refuse), shows it, and searches."""
    from docretriever.embedding import ModelSpec
    from docretriever.embedding.families import COLQWEN3_5
    from docretriever.library.local import LocalLibrary
    from docretriever.testing.tiny_families import build_tiny_family_model

    folder = build_tiny_family_model(tmp_path / "flash", COLQWEN3_5)
    pdf = corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf"
    built = LocalLibrary(app_settings.library, model=ModelSpec(str(folder), device="cpu", visual_tokens=128))
    built.add([pdf])
    built.close()
    assert not app_settings.model_chosen
    session = LibrarySession(app_settings)
    try:
        window = start(qtbot, session)
        qtbot.waitUntil(lambda: session.model_state is ModelState.READY, timeout=30_000)
        assert not visible_set_up(window)
        assert app_settings.model == str(folder) and app_settings.model_chosen
        assert session.library.geometry is COLQWEN3_5.geometry
        hits = session.library.search("a page of text", k=2)
        assert len(hits) == 2 and hits[0].geometry is COLQWEN3_5.geometry
    finally:
        session.close()


def test_a_model_folder_the_library_would_refuse_is_not_kept(
    qtbot, app_settings, tmp_path: Path, tiny_model_dir: Path, monkeypatch
) -> None:
    """A ColQwen3.5 library; in the set-up dialog the person picks a ColQwen2 folder: the dialog
    says the library would refuse it (without loading it), and the app keeps its model."""
    from docretriever.embedding import ModelSpec
    from docretriever.embedding.families import COLQWEN3_5
    from docretriever.library.local import LocalLibrary
    from docretriever.testing.tiny_families import build_tiny_family_model

    folder = build_tiny_family_model(tmp_path / "flash", COLQWEN3_5)
    pdf = corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf"
    built = LocalLibrary(app_settings.library, model=ModelSpec(str(folder), device="cpu", visual_tokens=128))
    built.add([pdf])
    built.close()
    app_settings.model = str(folder)
    session = LibrarySession(app_settings)
    try:
        window = start(qtbot, session)
        qtbot.waitUntil(lambda: session.model_state is ModelState.READY, timeout=30_000)
        dialog = window.model_setup.open_dialog()
        monkeypatch.setattr(
            "PySide6.QtWidgets.QFileDialog.getExistingDirectory",
            staticmethod(lambda *args, **kwargs: str(tiny_model_dir)),
        )
        qtbot.mouseClick(dialog.choose_button, _left())
        qtbot.waitUntil(lambda: dialog.message_label.isVisible(), timeout=10_000)
        assert "a ColQwen3.5 model, not with a ColQwen2 model" in dialog.message_label.text()
        assert dialog.isVisible() and app_settings.model == str(folder)
    finally:
        session.close()
