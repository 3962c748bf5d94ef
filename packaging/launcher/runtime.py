"""The launcher's runtime: the per-user Python environment the app runs in, built with uv.

Standard library only (the frozen launcher carries nothing else but PySide6). The installer
ships a *payload* folder: the ``uv`` binary, the app's wheel, ``pyproject.toml`` and ``uv.lock``
(plus ``requirements.txt``, the same lock exported, for an offline pack in ``wheels/``). At first
start :meth:`Runtime.build` turns it into an environment under the per-user data folder:

    <data>/runtime/env-<id>/     the environment (``id`` hashes the lock, the wheel and the
                                 torch variant, so an upgrade gets a new folder)
    <data>/runtime/current       which environment the app runs from (JSON)

A new environment is switched to only after ``import docretriever, docretriever_ui, torch,
colpali_engine`` succeeds in it; older ones are removed at a later start, so that an app still
running from one keeps its files. One launcher builds at a time (a lock file in
``<data>/runtime``); another one started meanwhile (a second "Open with") waits for it. The
library (``<data>/library``) is never touched here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from payload import (
    Payload,
    SetupError,
    download_bytes,
    find_payload,
    locked_version,
    torch_variant,
    user_data_dir,
)

__all__ = [
    "Cancelled",
    "Payload",
    "Runtime",
    "SetupError",
    "download_bytes",
    "explain_failure",
    "find_payload",
]

IMPORT_CHECK = "import docretriever, docretriever_ui, torch, colpali_engine"
# The Python the offline pack's wheels are for (its requirements were downloaded for it).
OFFLINE_PYTHON = "3.11"
# Windows: the launcher has no console, and the programs it starts must not open one either.
_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)
# Disk needed, as a multiple of the download: the wheels in uv's cache, then unpacked into the
# environment (torch's CUDA libraries roughly double in size when unpacked).
DISK_FACTOR = 3.5
GB = 1e9  # sizes are shown in decimal gigabytes, as download pages and disks state them


class Cancelled(Exception):
    """The person cancelled the set-up."""


# uv's messages, mapped to what the person can do about them.
_NO_NETWORK = re.compile(
    r"dns error|failed to lookup address|tcp connect error|network is unreachable|connection refused|"
    r"could not connect|error sending request|timed out|operation timed out|no route to host",
    re.IGNORECASE,
)
_TLS = re.compile(
    r"invalid peer certificate|unknownissuer|certificate verify failed|self[- ]signed", re.IGNORECASE
)
_NO_SPACE = re.compile(r"no space left on device|os error 28|not enough space", re.IGNORECASE)


def explain_failure(output: str) -> str:
    """A sentence for the person from uv's error output."""
    if "network connectivity is disabled" in output.lower():
        return (
            "uv is set to work offline (UV_OFFLINE) and the libraries are not in its cache: "
            "connect to the internet, or install the offline pack."
        )
    if _NO_SPACE.search(output):
        return "The disk is full. Free some space (about 10 GB), then start DocRetriever again."
    if _TLS.search(output):
        return (
            "A secure connection to the Python package index failed: a proxy or security program "
            "re-signs TLS traffic with a certificate this computer does not trust. Ask your IT "
            "department to add its certificate to the system store, or use the offline pack."
        )
    if _NO_NETWORK.search(output):
        return (
            "The first start downloads about 3 GB of libraries, and the package index could not be "
            "reached. Check the internet connection (and any proxy: set HTTPS_PROXY), then start "
            "DocRetriever again, or install the offline pack."
        )
    return "Setting up DocRetriever's libraries failed. The details below say where."


class Runtime:
    """Builds, checks, switches and starts the per-user environment; see the module docstring."""

    def __init__(self, payload: Payload, data_dir: Path | None = None, variant: str | None = None) -> None:
        self.payload = payload
        self.root = (data_dir or user_data_dir()) / "runtime"
        self._payload_hash = self._hash_payload()
        # The torch variant is detected once per payload (nvidia-smi can take seconds) and then
        # read back: a driver that fails to answer once must not switch a GPU install to CPU.
        record = self._record()
        if variant is None and record.get("payload") == self._payload_hash:
            variant = str(record.get("variant") or "")
        self.variant = variant or torch_variant()
        self._process: subprocess.Popen[str] | None = None
        self._process_lock = threading.Lock()
        self._cancelled = threading.Event()

    # --- identity ---------------------------------------------------------------------------

    def _hash_payload(self) -> str:
        digest = hashlib.sha256()
        for part in (self.payload.lock, self.payload.wheel):
            digest.update(part.name.encode() + b"\0" + part.read_bytes())
        return digest.hexdigest()

    def environment_id(self) -> str:
        return hashlib.sha256(f"{self._payload_hash}:{self.variant}".encode()).hexdigest()[:12]

    def environment(self, env_id: str | None = None) -> Path:
        return self.root / f"env-{env_id or self.environment_id()}"

    def _record(self) -> dict[str, object]:
        try:
            record = json.loads((self.root / "current").read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def current(self) -> Path | None:
        """The environment the app runs from, if one was switched to and still exists."""
        folder = self.root / str(self._record().get("environment", ""))
        return folder if _python(folder).exists() else None

    def is_ready(self) -> bool:
        """True when the current environment is the one this installation wants."""
        current = self.current()
        return current is not None and current == self.environment()

    # --- building ---------------------------------------------------------------------------

    def needed_disk_bytes(self) -> int:
        return int(download_bytes(self.payload.lock.read_text()) * DISK_FACTOR)

    def build(self, report: Callable[[str], None]) -> Path:
        """Create the environment, check it imports, and switch to it.

        ``report`` receives uv's progress lines. Raises :class:`SetupError` with a message for
        the person, or :class:`Cancelled`; a half-built environment is removed either way. If
        another launcher is building, waits for it and uses what it built.
        """
        self.payload.check()
        self.root.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.root / "build.lock", report):
            if self.is_ready():  # another launcher built it while this one waited
                return self.environment()
            need = self.needed_disk_bytes() if self.payload.offline_wheels is None else 0
            free = shutil.disk_usage(self.root).free
            if free < need:
                raise SetupError(
                    f"DocRetriever needs about {need / GB:.1f} GB of free disk space for its libraries; "
                    f"{free / GB:.1f} GB are free on the disk of {self.root}. Free some space, then "
                    "start it again."
                )
            target = self.environment()
            shutil.rmtree(target, ignore_errors=True)
            try:
                if self.payload.offline_wheels is not None:
                    self._install_offline(target, report)
                else:
                    self._install_online(target, report)
                    if self.variant == "cuda":
                        self._install_cuda_torch(target, report)
                report("Checking the new environment…")
                self._run(
                    [str(_python(target)), "-c", IMPORT_CHECK], report, "The new environment does not start"
                )
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            self._switch(target)
        return target

    def remove_old_environments(self) -> None:
        """Delete environments other than the current one (left by an upgrade, at a start after
        it: an app still running from one would lose its lazily imported modules)."""
        current = self.current()
        if current is None:
            return
        with contextlib.suppress(OSError), _exclusive(self.root / "build.lock", None, wait=False):
            for old in self.root.glob("env-*"):
                if old != current:
                    shutil.rmtree(old, ignore_errors=True)

    def cancel(self) -> None:
        """Stop a build in progress (from another thread)."""
        with self._process_lock:
            self._cancelled.set()
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()

    def _uv(self, *arguments: str) -> list[str]:
        # --no-config: the person's own uv.toml must not change what the lock installs.
        return [str(self.payload.uv), *arguments[:1], "--no-config", *arguments[1:]]

    def _install_online(self, target: Path, report: Callable[[str], None]) -> None:
        project = self.root / "project"
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        shutil.copy2(self.payload.pyproject, project / "pyproject.toml")
        shutil.copy2(self.payload.lock, project / "uv.lock")
        try:
            self._run(
                self._uv("sync", "--frozen", "--no-dev", "--no-install-project", "--project", str(project)),
                report,
                "Downloading the libraries failed",
                target,
            )
            self._run(
                self._uv(
                    "pip", "install", "--no-deps", "--python", str(_python(target)), str(self.payload.wheel)
                ),
                report,
                "Installing the app failed",
                target,
            )
        finally:
            shutil.rmtree(project, ignore_errors=True)

    def _install_offline(self, target: Path, report: Callable[[str], None]) -> None:
        # Measured: `uv pip sync --offline --no-index --find-links` works from an empty cache,
        # `uv sync --frozen --offline --find-links` does not. The pack's wheels are for
        # OFFLINE_PYTHON, and for the torch build it was made with (CUDA or not): no download.
        wheels = str(self.payload.offline_wheels)
        self._run(
            self._uv("venv", "--offline", "--python", OFFLINE_PYTHON, str(target)),
            report,
            "Creating the environment failed (the offline pack needs Python "
            f"{OFFLINE_PYTHON} on this computer)",
            target,
        )
        offline = ["--offline", "--no-index", "--find-links", wheels, "--python", str(_python(target))]
        self._run(
            self._uv("pip", "sync", *offline, str(self.payload.requirements)),
            report,
            "Installing the libraries from the offline pack failed",
            target,
        )
        self._run(
            self._uv("pip", "install", "--no-deps", *offline, str(self.payload.wheel)),
            report,
            "Installing the app failed",
            target,
        )

    def _install_cuda_torch(self, target: Path, report: Callable[[str], None]) -> None:
        # Windows only: PyPI's torch there is CPU-only. The same locked versions, CUDA builds,
        # from PyTorch's index as uv's --torch-backend picks it for the installed driver.
        lock = self.payload.lock.read_text()
        pins = [
            f"{name}=={version}"
            for name in ("torch", "torchvision")
            if (version := locked_version(lock, name))
        ]
        self._run(
            self._uv(
                "pip", "install", "--python", str(_python(target)), "--torch-backend", "auto",
                "--reinstall-package", "torch", "--reinstall-package", "torchvision", *pins,
            ),
            report,
            "Installing the GPU build of torch failed",
            target,
        )  # fmt: skip

    def _run(
        self, command: list[str], report: Callable[[str], None], what: str, target: Path | None = None
    ) -> None:
        environment = clean_environment()
        environment.setdefault("UV_SYSTEM_CERTS", "1")  # proxies that re-sign TLS use system roots
        environment.setdefault("UV_NO_PROGRESS", "1")
        environment.pop("VIRTUAL_ENV", None)
        if target is not None:
            environment["UV_PROJECT_ENVIRONMENT"] = str(target)
        with self._process_lock:
            if self._cancelled.is_set():
                raise Cancelled
            try:
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                    env=environment,
                    bufsize=1,
                    creationflags=_NO_WINDOW,
                )
            except OSError as exc:
                raise SetupError(f"{what}: {exc.strerror}.", details=" ".join(command)) from exc
            self._process = process
        output: list[str] = []
        assert process.stdout is not None
        for line in _lines(process.stdout):
            output.append(line)
            report(line)
        status = process.wait()
        with self._process_lock:
            self._process = None
        if self._cancelled.is_set():
            raise Cancelled
        if status != 0:
            text = "\n".join(output[-200:])
            raise SetupError(f"{what}. {explain_failure(text)}", details=" ".join(command) + "\n\n" + text)

    def _switch(self, target: Path) -> None:
        record = self.root / "current.tmp"
        record.write_text(
            json.dumps({"environment": target.name, "payload": self._payload_hash, "variant": self.variant})
        )
        os.replace(record, self.root / "current")

    # --- starting ---------------------------------------------------------------------------

    def app_command(self, arguments: list[str]) -> list[str]:
        current = self.current()
        if current is None:
            raise SetupError("DocRetriever's libraries are not set up yet.")
        python = _python(current)
        if sys.platform == "win32":
            python = python.with_name("pythonw.exe")  # no console window behind the app
        return [str(python), "-m", "docretriever_ui.app", *arguments]


def clean_environment() -> dict[str, str]:
    """This process's environment without what PyInstaller's bootloader added for the frozen
    launcher (its library folder in the loader path, its Qt plugin paths): the app and uv must
    load their own libraries, not the launcher's."""
    environment = dict(os.environ)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None:
        return environment
    for name in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "LIBPATH"):
        original = environment.pop(f"{name}_ORIG", None)
        if original is not None:
            environment[name] = original
        elif name in environment:
            kept = [
                part for part in environment[name].split(os.pathsep) if part and not part.startswith(bundle)
            ]
            if kept:
                environment[name] = os.pathsep.join(kept)
            else:
                del environment[name]
    for name in (
        "QT_PLUGIN_PATH",
        "QML2_IMPORT_PATH",
        "QT_QPA_PLATFORM_PLUGIN_PATH",
        "PYTHONHOME",
        "PYTHONPATH",
    ):
        if bundle in environment.get(name, ""):
            del environment[name]
    if "PATH" in environment:
        environment["PATH"] = os.pathsep.join(
            part for part in environment["PATH"].split(os.pathsep) if not part.startswith(bundle)
        )
    return environment


@contextlib.contextmanager
def _exclusive(path: Path, report: Callable[[str], None] | None, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (another launcher's build holds it for minutes)."""
    with open(path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            mode = msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK
            while True:
                try:
                    msvcrt.locking(handle.fileno(), mode, 1)
                    break
                except OSError:
                    if not wait:
                        raise
        else:
            import fcntl

            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if not wait:
                    raise
                if report is not None:
                    report("Another DocRetriever window is setting up the libraries; waiting for it…")
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _python(environment: Path) -> Path:
    if sys.platform == "win32":
        return environment / "Scripts" / "python.exe"
    return environment / "bin" / "python"


def _lines(stream: object) -> Iterator[str]:
    for line in stream:  # type: ignore[attr-defined]
        line = line.rstrip()
        if line:
            yield line
