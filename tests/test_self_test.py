"""``docretriever-gui --self-test``: one JSON line, exit 0 only when every check passed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _self_test(tmp_path: Path, *arguments: str) -> tuple[int, dict]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),  # a fresh home: the person's settings are not used
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "docretriever_ui.app", "--self-test", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout + done.stderr
    return done.returncode, json.loads(lines[0])


def test_the_self_test_passes_and_embeds_a_page_with_a_model_folder(tmp_path: Path, tiny_model_dir) -> None:
    status, report = _self_test(tmp_path, "--model", str(tiny_model_dir))
    assert status == 0 and report["ok"] is True
    assert set(report["checks"]) == {"window", "render", "usearch", "sqlite", "torch", "embed"}
    assert "vectors of 128" in report["checks"]["embed"]["detail"]
    # Nothing was written to the person's home: the test works in a scratch folder.
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("catalog.sqlite3"))


def test_a_failing_check_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    status, report = _self_test(tmp_path, "--model", str(tmp_path / "no-such-model"))
    assert status == 1 and report["ok"] is False
    assert report["checks"]["embed"]["ok"] is False and report["checks"]["embed"]["error"]
    assert all(report["checks"][name]["ok"] for name in ("window", "render", "usearch", "sqlite", "torch"))


def test_pdfs_given_on_the_command_line_are_for_the_library_and_qt_keeps_its_options() -> None:
    from docretriever_ui.app import parse_arguments

    options, qt = parse_arguments(["docretriever-gui", "-platform", "offscreen", "a.pdf", "folder"])
    assert options.paths == ["a.pdf", "folder"] and not options.self_test
    assert qt == ["docretriever-gui", "-platform", "offscreen"]
    # X11 session restore, two-dash and = forms, and a Qt flag between two PDFs.
    options, qt = parse_arguments(
        ["app", "-session", "1234", "a.pdf", "-reverse", "b.pdf", "--platform", "xcb", "--style=Fusion"]
    )
    assert options.paths == ["a.pdf", "b.pdf"]
    assert qt == ["app", "-session", "1234", "-reverse", "--platform", "xcb", "--style=Fusion"]
