"""The installers: the launcher's runtime logic, the Windows script, and (slow, marked) the
.deb installed into a clean root and started twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging" / "launcher"))

import runtime  # noqa: E402  (the launcher is a frozen program, not a package)


def _payload(folder: Path, lock: str = "version = 1\n", wheel: bytes = b"wheel") -> runtime.Payload:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "uv.lock").write_text(lock)
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (folder / "docretriever-0.1.0-py3-none-any.whl").write_bytes(wheel)
    (folder / ("uv.exe" if sys.platform == "win32" else "uv")).write_bytes(b"")
    return runtime.Payload(folder)


def test_the_download_estimate_counts_one_wheel_per_package_for_this_machine() -> None:
    lock = (ROOT / "uv.lock").read_text()
    estimate = runtime.download_bytes(lock)
    torch_wheels = [w for p in tomllib.loads(lock)["package"] if p["name"] == "torch" for w in p["wheels"]]
    largest_torch = max(w["size"] for w in torch_wheels)
    # Linux x86-64: the CUDA torch wheel and its NVIDIA libraries are gigabytes, but far less
    # than every wheel of every platform in the lock.
    assert 1.5e9 < estimate < 8e9
    assert estimate < sum(
        w.get("size", 0) for p in tomllib.loads(lock)["package"] for w in p.get("wheels", [])
    )
    assert estimate > largest_torch / 2
    assert runtime.locked_version(lock, "torch") is not None


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "error: Failed to fetch: `https://pypi.org/simple/torch/`\n"
            "  Caused by: dns error: failed to lookup address",
            "internet connection",
        ),
        ("Caused by: invalid peer certificate: UnknownIssuer", "certificate"),
        ("error: failed to write to file: No space left on device (os error 28)", "disk is full"),
        ("error: something else entirely", "details below"),
    ],
)
def test_uv_failures_become_sentences_a_person_can_act_on(output: str, expected: str) -> None:
    assert expected in runtime.explain_failure(output)


def test_the_environment_follows_the_lock_and_the_wheel_and_the_switch_keeps_one(tmp_path: Path) -> None:
    first = runtime.Runtime(_payload(tmp_path / "a"), tmp_path / "data", variant="pypi")
    same = runtime.Runtime(_payload(tmp_path / "b"), tmp_path / "data", variant="pypi")
    upgraded = runtime.Runtime(_payload(tmp_path / "c", wheel=b"wheel 2"), tmp_path / "data", variant="pypi")
    gpu = runtime.Runtime(_payload(tmp_path / "d"), tmp_path / "data", variant="cuda")
    assert first.environment_id() == same.environment_id()
    assert len({first.environment_id(), upgraded.environment_id(), gpu.environment_id()}) == 3

    def make_environment(owner: runtime.Runtime) -> None:
        python = owner.environment() / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
        python.parent.mkdir(parents=True)
        python.write_text("")

    make_environment(first)
    first._switch(first.environment())
    assert first.is_ready() and not upgraded.is_ready() and upgraded.current() == first.environment()
    # An upgrade builds beside the current environment; the old one goes at a later start.
    make_environment(upgraded)
    upgraded._switch(upgraded.environment())
    assert upgraded.is_ready() and first.environment().exists()
    upgraded.remove_old_environments()
    assert not first.environment().exists() and upgraded.environment().exists()
    record = json.loads((tmp_path / "data" / "runtime" / "current").read_text())
    assert record["environment"] == upgraded.environment().name and record["variant"] == "pypi"
    # The variant is read back for the same payload instead of being detected again.
    assert runtime.Runtime(upgraded.payload, tmp_path / "data").variant == "pypi"
    assert upgraded.app_command(["--self-test"])[-3:] == ["-m", "docretriever_ui.app", "--self-test"][-3:]


def test_a_full_disk_is_refused_before_anything_is_downloaded(tmp_path: Path, monkeypatch) -> None:
    setup = runtime.Runtime(_payload(tmp_path / "p", lock=(ROOT / "uv.lock").read_text()), tmp_path / "data")
    monkeypatch.setattr(runtime.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(100, 99, 1))
    with pytest.raises(runtime.SetupError, match="free disk space"):
        setup.build(lambda line: None)
    assert not list((tmp_path / "data" / "runtime").glob("env-*"))


def test_an_incomplete_installation_is_named(tmp_path: Path) -> None:
    payload = _payload(tmp_path / "p")
    (payload.folder / "uv.lock").unlink()
    with pytest.raises(runtime.SetupError, match=r"uv\.lock"):
        payload.check()
    with pytest.raises(runtime.SetupError, match="payload folder was not found"):
        runtime.find_payload(tmp_path / "elsewhere" / "docretriever")


def test_the_windows_installer_script_compiles_against_a_stand_in_payload(tmp_path: Path) -> None:
    makensis = shutil.which("makensis")
    if makensis is None:
        pytest.skip("makensis (Debian's nsis) is not installed")
    stage = tmp_path / "stage"
    (stage / "launcher").mkdir(parents=True)
    (stage / "launcher" / "docretriever.exe").write_bytes(b"MZ stand-in launcher")
    _payload(stage / "payload")
    for name in ("LICENSE", "THIRD-PARTY-NOTICES.md"):
        shutil.copy2(ROOT / name, stage / name)
    installer = tmp_path / "DocRetriever-0.1.0-installer.exe"
    done = subprocess.run(
        [makensis, "-V2", "-DVERSION=0.1.0", f"-DSTAGE={stage}", f"-DOUTFILE={installer}",
         str(ROOT / "packaging" / "windows" / "docretriever.nsi")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert installer.read_bytes()[:2] == b"MZ"


def _uv() -> str:
    """The uv running these tests (``uv run`` names itself in $UV), else the one on PATH."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    return uv


def _uv_cache_dir() -> str:
    return subprocess.run([_uv(), "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.packaging
def test_the_deb_installs_into_a_clean_root_and_starts_twice(tmp_path: Path) -> None:
    """Build the .deb, unpack it into an empty root (as dpkg would install it), then start the
    launcher twice under ``env -i`` with a fresh home: the first start builds the environment
    (from the uv cache this machine already holds, offline), the second goes straight to the
    app, and a third after an upgrade of the payload builds a new environment and drops the old
    one. Each runs the app's ``--self-test``."""
    out = tmp_path / "out"
    subprocess.run(
        [_uv(), "run", "--frozen", "--group", "packaging", "python", "packaging/build.py",
         "--out", str(out), "--work", str(tmp_path / "work")],
        cwd=ROOT, check=True,
    )  # fmt: skip
    (deb,) = out.glob("docretriever_*_amd64.deb")
    assert deb.stat().st_size < 100e6 and next(out.glob("*.tar.gz")).stat().st_size < 100e6
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    launcher = root / "opt" / "docretriever" / "launcher" / "docretriever"
    assert (root / "usr" / "share" / "applications" / "docretriever.desktop").exists()
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "QT_QPA_PLATFORM": "offscreen",
        "UV_CACHE_DIR": _uv_cache_dir(),
        "UV_OFFLINE": "1",
    }
    runtime_dir = home / ".local" / "share" / "DocRetriever" / "runtime"

    def start(which: str) -> None:
        done = subprocess.run(
            ["env", "-i", *(f"{k}={v}" for k, v in environment.items()), str(launcher), "--self-test"],
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        assert done.returncode == 0, f"{which} start:\n{done.stdout}\n{done.stderr[-4000:]}"
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["ok"] is True, report

    start("first")
    (first,) = runtime_dir.glob("env-*")
    start("second")
    assert list(runtime_dir.glob("env-*")) == [first]  # straight to the app: nothing rebuilt
    # An upgrade: another lock in the payload builds a new environment, switches, drops the old.
    lock = root / "opt" / "docretriever" / "payload" / "uv.lock"
    lock.write_text(lock.read_text() + "\n# an upgrade\n")
    start("upgraded")
    environments = set(runtime_dir.glob("env-*"))
    assert len(environments) == 2 and first in environments  # the old one stays for this start
    start("after the upgrade")
    (upgraded,) = runtime_dir.glob("env-*")
    assert upgraded != first


class _ScriptedRuntime:
    """Stands in for Runtime in the window: reports lines, then fails or waits for Cancel."""

    def __init__(self, payload: runtime.Payload, fail: bool) -> None:
        import threading

        self.payload, self.fail, self.cancelled = payload, fail, threading.Event()

    def build(self, report) -> None:
        report("Resolved 4 packages in 1ms")
        report("Downloaded torch")
        if self.fail:
            raise runtime.SetupError(
                "Downloading the libraries failed. The disk is full.", details="uv sync ..."
            )
        self.cancelled.wait(30)
        raise runtime.Cancelled

    def cancel(self) -> None:
        self.cancelled.set()


def test_the_setup_window_shows_progress_and_a_failure_with_its_details(qtbot, tmp_path: Path) -> None:
    from setup_window import SetupWindow

    fake = _ScriptedRuntime(_payload(tmp_path / "p", lock=(ROOT / "uv.lock").read_text()), fail=True)
    window = SetupWindow(fake, upgrade=False)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    assert "GB to download" in window.headline.text()
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.outcome is not None, timeout=10_000)
    assert isinstance(window.outcome, runtime.SetupError)
    assert "disk is full" in window.status.text() and window.copy.isVisible()
    assert not window.bar.isVisible() and "uv sync" in window.details.toPlainText()
    assert "Resolved 4 packages" in window.details.toPlainText()


def test_cancel_stops_the_setup_and_closes_the_window(qtbot, tmp_path: Path) -> None:
    from setup_window import SetupWindow

    fake = _ScriptedRuntime(_payload(tmp_path / "p", lock=(ROOT / "uv.lock").read_text()), fail=False)
    window = SetupWindow(fake, upgrade=True)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    assert window.windowTitle() == "Updating DocRetriever"
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.bar.maximum() == 4 and window.bar.value() == 1, timeout=10_000)
    with qtbot.waitSignal(window.rejected, timeout=10_000):
        window.cancel_button.click()
    assert isinstance(window.outcome, runtime.Cancelled) and fake.cancelled.is_set() and not window.succeeded


def test_closing_the_window_during_the_setup_cancels_it_first(qtbot, tmp_path: Path) -> None:
    from setup_window import SetupWindow

    fake = _ScriptedRuntime(_payload(tmp_path / "p", lock=(ROOT / "uv.lock").read_text()), fail=False)
    window = SetupWindow(fake, upgrade=False)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.bar.value() == 1, timeout=10_000)
    with qtbot.waitSignal(window.rejected, timeout=10_000):
        window.close()  # ignored while running: it asks the build to stop, then closes
    assert fake.cancelled.is_set() and not window.succeeded and not window.running
