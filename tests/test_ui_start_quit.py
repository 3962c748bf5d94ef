"""Start-up and quit (issue 16): one running instance per user and library (a later start
hands its files to the first), a quit without the interpreter's teardown, and PyMuPDF imported
only when a PDF is opened."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, corpus_or_skip

from docretriever_ui.app import take_request
from docretriever_ui.main_window import MainWindow
from docretriever_ui.single_instance import RunningInstance, instance_key, send_to_running

PYTHONPATH = os.pathsep.join([str(ROOT), str(ROOT / "ui"), str(ROOT / "tests")])


def run_python(
    code: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter of this project, offscreen, with this checkout first."""
    environment = {**os.environ, "PYTHONPATH": PYTHONPATH, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=timeout,
    )


# --- one running instance per library ---------------------------------------------------------


def test_one_claim_per_user_and_library(qtbot, tmp_path: Path) -> None:
    key = instance_key(str(tmp_path / "library"))
    assert (
        key
        == instance_key(str(tmp_path / "library") + "/")
        == instance_key(str(tmp_path / "x" / ".." / "library"))
    )
    assert key != instance_key(str(tmp_path / "other")) and key != instance_key(
        str(tmp_path / "library"), user="someone"
    )
    first = RunningInstance.claim(key)
    assert first is not None
    try:
        assert RunningInstance.claim(key) is None
    finally:
        first.release()
    again = RunningInstance.claim(key)
    assert again is not None
    again.release()


def test_a_claim_left_by_a_killed_start_is_taken_over(tmp_path: Path) -> None:
    key = instance_key(str(tmp_path / "library"))
    result = run_python(
        f"""
        import os
        from PySide6.QtCore import QCoreApplication
        from docretriever_ui.single_instance import RunningInstance
        app = QCoreApplication([])
        assert RunningInstance.claim({key!r}) is not None
        os._exit(0)  # killed: no unlock, the lock file and the socket stay behind
        """
    )
    assert result.returncode == 0, result.stderr
    instance = RunningInstance.claim(key)
    assert instance is not None
    instance.release()


def test_a_later_start_hands_its_files_to_the_running_app_and_exits(qtbot, tmp_path: Path) -> None:
    library = tmp_path / "library"
    config = tmp_path / "config"
    (config / "DocRetriever").mkdir(parents=True)
    (config / "DocRetriever" / "DocRetriever.conf").write_text(f"[library]\nlocation={library}\n")
    instance = RunningInstance.claim(instance_key(str(library)))
    assert instance is not None
    try:
        paper = tmp_path / "papers" / "été 2024.pdf"
        paper.parent.mkdir()
        paper.write_bytes(b"%PDF-1.4\n")
        with qtbot.waitSignal(instance.paths_received, timeout=60_000) as received:
            second = subprocess.Popen(
                [sys.executable, "-m", "docretriever_ui.app", "papers/été 2024.pdf"],
                cwd=tmp_path,  # a relative path, as a file manager may pass: resolved by the second start
                env={**os.environ, "PYTHONPATH": PYTHONPATH, "XDG_CONFIG_HOME": str(config)},
                stderr=subprocess.PIPE,
                text=True,
            )
        assert received.args == [[str(paper)]]
        assert second.wait(timeout=60) == 0, second.stderr.read() if second.stderr else ""
    finally:
        instance.release()


def test_without_a_writable_temporary_folder_the_app_still_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "not-there"))
    instance = RunningInstance.claim(instance_key(str(tmp_path / "library")))
    assert instance is not None and not instance.server.isListening()  # on its own, no requests
    instance.release()


def test_send_to_running_answers_false_when_nobody_listens(tmp_path: Path) -> None:
    assert not send_to_running(instance_key(str(tmp_path / "nobody")), ["/x.pdf"], timeout_ms=300)


def test_a_request_adds_its_files_once_there_is_a_model_and_brings_the_window_back(
    window: MainWindow, qtbot
) -> None:
    pdf = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized, timeout=5_000)
    with qtbot.waitSignal(window.session.ingest_finished, timeout=120_000) as finished:
        take_request(window, [str(pdf)])
    assert not window.isMinimized()
    assert finished.args[0].count("indexed") == 1

    window.model_setup._checking = True  # the start-up check has not answered yet: they wait for it
    take_request(window, [str(pdf)])
    assert not window.session.ingesting
    assert window.model_setup._pending_paths == [str(pdf)]


# --- 13. start-up and quit --------------------------------------------------------------------


def test_starting_the_app_imports_no_pymupdf_and_opening_a_pdf_keeps_mupdf_quiet() -> None:
    pdf = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    result = run_python(
        f"""
        import sys
        import docretriever_ui.app, docretriever_ui.main_window, docretriever.cli
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("pymupdf", "fitz")))
        from pathlib import Path
        from docretriever.documents import open_pdf, read_page_infos
        with open_pdf(Path({str(pdf)!r})) as document:
            print(len(read_page_infos(document)))
        import pymupdf
        print(pymupdf.TOOLS.mupdf_display_errors(), pymupdf.TOOLS.mupdf_display_warnings())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["[]", "1", "False False"]


def test_quit_ends_the_process_without_the_interpreter_teardown(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Closing the window after the model has loaded: settings saved, exit handlers run, exit
    status 0, and none of the teardown that took seconds (a global's finaliser stands for it)."""
    config, library = tmp_path / "config", tmp_path / "library"
    (config / "DocRetriever").mkdir(parents=True)
    (config / "DocRetriever" / "DocRetriever.conf").write_text(
        f"[model]\nsource={tiny_model_dir}\ndevice=cpu\n\n[library]\nlocation={library}\n"
    )
    torn_down, handlers = tmp_path / "torn-down", tmp_path / "exit-handlers"
    result = run_python(
        f"""
        import atexit, sys
        from pathlib import Path
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from docretriever_ui import app
        from docretriever_ui.session import ModelState

        class Teardown:
            def __del__(self):
                Path({str(torn_down)!r}).write_text("the interpreter tore everything down")

        keep = Teardown()
        atexit.register(lambda: Path({str(handlers)!r}).write_text("ran"))
        qt = QApplication(["docretriever-gui"])

        def close_when_ready():
            windows = [w for w in qt.topLevelWidgets() if type(w).__name__ == "MainWindow"]
            if windows and windows[0].session.model_state is ModelState.READY:
                windows[0].close()
            else:
                QTimer.singleShot(50, close_when_ready)

        QTimer.singleShot(0, close_when_ready)
        print("started", flush=True)
        sys.exit(app.main(["docretriever-gui"]))
        """,
        env={"XDG_CONFIG_HOME": str(config)},
    )
    assert result.returncode == 0, result.stderr
    assert handlers.read_text() == "ran"
    assert not torn_down.exists()
    saved = (config / "DocRetriever" / "DocRetriever.conf").read_text()
    assert "[window]" in saved and "[dialogs]" not in saved  # the window's layout, synced at close
