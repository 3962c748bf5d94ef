"""The launcher's runtime: the per-user Python environment the app runs in, built with uv.

Standard library only (the frozen launcher carries nothing else but PySide6). The installer
ships a *payload* folder: the ``uv`` binary, the app's wheel, ``pyproject.toml`` and ``uv.lock``
(plus ``requirements.txt``, the same lock exported, for an offline pack in ``wheels/``). At first
start :meth:`Runtime.build` turns it into an environment under the per-user data folder:

    <data>/runtime/env-<id>/     the environment (``id`` hashes the lock, the wheel and the
                                 torch variant, so an upgrade gets a new folder)
    <data>/runtime/current       which environment the app runs from (JSON)

A new environment is switched to only after ``import docretriever, docretriever_ui, torch,
colpali_engine`` succeeds in it; the previous one is removed after the switch. The library
(``<data>/library``) is never touched here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "DocRetriever"
IMPORT_CHECK = "import docretriever, docretriever_ui, torch, colpali_engine"
# Disk needed, as a multiple of the download: the wheels in uv's cache, then unpacked into the
# environment (torch's CUDA libraries roughly double in size when unpacked).
DISK_FACTOR = 3.5
GB = 1e9  # sizes are shown in decimal gigabytes, as download pages and disks state them


class SetupError(Exception):
    """A failure the person can act on: ``message`` says what happened and what to do."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Cancelled(Exception):
    """The person cancelled the set-up."""


def user_data_dir() -> Path:
    """Where DocRetriever keeps per-user data (the same folder as the app's platformdirs)."""
    override = os.environ.get("DOCRETRIEVER_DATA_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP_NAME


@dataclass(frozen=True)
class Payload:
    """What the installer ships next to the launcher."""

    folder: Path

    @property
    def uv(self) -> Path:
        return self.folder / ("uv.exe" if sys.platform == "win32" else "uv")

    @property
    def lock(self) -> Path:
        return self.folder / "uv.lock"

    @property
    def pyproject(self) -> Path:
        return self.folder / "pyproject.toml"

    @property
    def requirements(self) -> Path:
        return self.folder / "requirements.txt"

    @property
    def offline_wheels(self) -> Path | None:
        wheels = self.folder / "wheels"
        return wheels if wheels.is_dir() and any(wheels.glob("*.whl")) else None

    @property
    def wheel(self) -> Path:
        wheels = sorted(self.folder.glob("docretriever-*.whl"))
        if not wheels:
            raise SetupError(f"The installation is incomplete: no app wheel in {self.folder}.")
        return wheels[-1]

    def check(self) -> None:
        missing = [p.name for p in (self.uv, self.lock, self.pyproject) if not p.exists()]
        if missing:
            raise SetupError(
                f"The installation is incomplete ({', '.join(missing)} missing in {self.folder}). "
                "Reinstall DocRetriever."
            )
        self.wheel  # noqa: B018  (raises when missing)


def find_payload(executable: Path) -> Payload:
    """The payload beside the launcher: ``$DOCRETRIEVER_PAYLOAD``, else ``payload/`` next to the
    launcher's folder or inside it (Linux and Windows layouts), else the macOS bundle's
    ``Contents/Resources/payload``."""
    override = os.environ.get("DOCRETRIEVER_PAYLOAD")
    candidates = [Path(override)] if override else []
    here = executable.resolve().parent
    candidates += [here / "payload", here.parent / "payload", here.parent / "Resources" / "payload"]
    for candidate in candidates:
        if (candidate / "uv.lock").exists():
            return Payload(candidate)
    raise SetupError(
        "The installation is incomplete: the payload folder was not found. Reinstall DocRetriever."
    )


def nvidia_gpu_present() -> bool:
    """True when an NVIDIA driver answers (``nvidia-smi`` lists a GPU)."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return False
    try:
        done = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "GPU" in done.stdout


def torch_variant() -> str:
    """Which torch build the environment gets: PyPI's own everywhere but on Windows with an
    NVIDIA GPU, where PyPI's wheel is CPU-only and the CUDA build is installed over it."""
    if sys.platform == "win32" and nvidia_gpu_present():
        return "cuda"
    return "pypi"


def locked_version(lock_text: str, name: str) -> str | None:
    """The version ``uv.lock`` pins for package ``name`` (the first one, if several)."""
    for package in tomllib.loads(lock_text).get("package", []):
        if package.get("name") == name:
            return str(package.get("version"))
    return None


def _wheel_fits_here(filename: str, python: str) -> bool:
    """True for a binary wheel of this OS and machine that CPython ``python`` (``cp311``) can
    load: ``{name}-{version}(-{build})?-{python tag}-{abi tag}-{platform tag}.whl``."""
    parts = filename[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    python_tags, abi_tags, platform_tags = parts[-3].split("."), parts[-2].split("."), parts[-1]
    if not ({python, "py3", f"py{python[2:]}"} & set(python_tags)):
        return False
    if not ({python, "abi3", "none"} & set(abi_tags)):
        return False
    machine = platform.machine().lower()
    if sys.platform == "win32":
        return "win_arm64" in platform_tags if machine == "arm64" else "win_amd64" in platform_tags
    if sys.platform == "darwin":
        return "macosx" in platform_tags and ("universal2" in platform_tags or machine in platform_tags)
    arch = "aarch64" if machine in ("aarch64", "arm64") else "x86_64"
    return arch in platform_tags and "linux" in platform_tags and "musllinux" not in platform_tags


def download_bytes(lock_text: str, python: str = "cp311") -> int:
    """About how many bytes a first start downloads: for each locked package, the size of the
    wheel uv would pick here (this platform's, else a pure-Python one). An estimate for the
    progress window, not a promise: markers that exclude a package on this platform are not
    evaluated."""
    total = 0
    seen: set[str] = set()
    for package in tomllib.loads(lock_text).get("package", []):
        name = package.get("name", "")
        if name in seen or ("source" in package and "registry" not in package["source"]):
            continue
        best: tuple[int, int] | None = None
        for wheel in package.get("wheels", []):
            filename = wheel.get("url", "").rsplit("/", 1)[-1]
            if filename.endswith("-none-any.whl"):
                rank = 1
            elif _wheel_fits_here(filename, python):
                rank = 2
            else:
                continue
            if best is None or rank > best[0]:
                best = (rank, int(wheel.get("size", 0)))
        if best is not None:
            seen.add(name)
            total += best[1]
    return total


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
        self.variant = variant or torch_variant()
        self._process: subprocess.Popen[str] | None = None
        self._cancelled = threading.Event()

    # --- identity ---------------------------------------------------------------------------

    def environment_id(self) -> str:
        digest = hashlib.sha256()
        for part in (self.payload.lock, self.payload.wheel):
            digest.update(part.name.encode() + b"\0" + part.read_bytes())
        digest.update(self.variant.encode())
        return digest.hexdigest()[:12]

    def environment(self, env_id: str | None = None) -> Path:
        return self.root / f"env-{env_id or self.environment_id()}"

    def current(self) -> Path | None:
        """The environment the app runs from, if one was switched to and still exists."""
        try:
            record = json.loads((self.root / "current").read_text())
        except (OSError, ValueError):
            return None
        folder = self.root / str(record.get("environment", ""))
        return folder if _python(folder).exists() else None

    def is_ready(self) -> bool:
        """True when the current environment is the one this installation wants."""
        current = self.current()
        return current is not None and current == self.environment()

    # --- building ---------------------------------------------------------------------------

    def needed_disk_bytes(self) -> int:
        return int(download_bytes(self.payload.lock.read_text()) * DISK_FACTOR)

    def build(self, report: Callable[[str], None]) -> Path:
        """Create the environment, check it imports, switch to it and remove the previous one.

        ``report`` receives uv's progress lines. Raises :class:`SetupError` with a message
        for the person, or :class:`Cancelled`; a half-built environment is removed either way.
        """
        self.payload.check()
        self.root.mkdir(parents=True, exist_ok=True)
        need = self.needed_disk_bytes()
        free = shutil.disk_usage(self.root).free
        if free < need:
            raise SetupError(
                f"DocRetriever needs about {need / GB:.1f} GB of free disk space for its libraries; "
                f"{free / GB:.1f} GB are free on the disk of {self.root}. Free some space, then start "
                "it again."
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

    def cancel(self) -> None:
        """Stop a build in progress (from another thread)."""
        self._cancelled.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def _uv_environment(self, target: Path) -> dict[str, str]:
        environment = dict(os.environ)
        # Trust the system's certificates too: corporate proxies re-sign TLS with their own.
        environment.setdefault("UV_SYSTEM_CERTS", "1")
        environment["UV_PROJECT_ENVIRONMENT"] = str(target)
        environment.pop("VIRTUAL_ENV", None)
        environment.setdefault("UV_NO_PROGRESS", "1")
        return environment

    def _install_online(self, target: Path, report: Callable[[str], None]) -> None:
        project = self.root / "project"
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        shutil.copy2(self.payload.pyproject, project / "pyproject.toml")
        shutil.copy2(self.payload.lock, project / "uv.lock")
        uv = str(self.payload.uv)
        try:
            self._run(
                [uv, "sync", "--frozen", "--no-dev", "--no-install-project", "--project", str(project)],
                report,
                "Downloading the libraries failed",
                env=self._uv_environment(target),
            )
            self._run(
                [
                    uv,
                    "pip",
                    "install",
                    "--no-deps",
                    "--python",
                    str(_python(target)),
                    str(self.payload.wheel),
                ],
                report,
                "Installing the app failed",
                env=self._uv_environment(target),
            )
        finally:
            shutil.rmtree(project, ignore_errors=True)

    def _install_offline(self, target: Path, report: Callable[[str], None]) -> None:
        # Measured: `uv pip sync --offline --no-index --find-links` works from an empty cache,
        # `uv sync --frozen --offline --find-links` does not.
        wheels = str(self.payload.offline_wheels)
        uv = str(self.payload.uv)
        environment = self._uv_environment(target)
        self._run([uv, "venv", str(target)], report, "Creating the environment failed", env=environment)
        python = str(_python(target))
        offline = ["--offline", "--no-index", "--find-links", wheels, "--python", python]
        self._run(
            [uv, "pip", "sync", *offline, str(self.payload.requirements)],
            report,
            "Installing the libraries from the offline pack failed",
            env=environment,
        )
        self._run(
            [uv, "pip", "install", "--no-deps", *offline, str(self.payload.wheel)],
            report,
            "Installing the app failed",
            env=environment,
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
            [
                str(self.payload.uv),
                "pip",
                "install",
                "--python",
                str(_python(target)),
                "--torch-backend",
                "auto",
                "--reinstall-package",
                "torch",
                "--reinstall-package",
                "torchvision",
                *pins,
            ],
            report,
            "Installing the GPU build of torch failed",
            env=self._uv_environment(target),
        )

    def _run(
        self, command: list[str], report: Callable[[str], None], what: str, env: dict[str, str] | None = None
    ) -> None:
        if self._cancelled.is_set():
            raise Cancelled
        output: list[str] = []
        try:
            self._process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
            )
        except OSError as exc:
            raise SetupError(f"{what}: {exc.strerror}.", details=" ".join(command)) from exc
        assert self._process.stdout is not None
        for line in _lines(self._process.stdout):
            output.append(line)
            report(line)
        status = self._process.wait()
        self._process = None
        if self._cancelled.is_set():
            raise Cancelled
        if status != 0:
            text = "\n".join(output[-200:])
            raise SetupError(f"{what}. {explain_failure(text)}", details=" ".join(command) + "\n\n" + text)

    def _switch(self, target: Path) -> None:
        record = self.root / "current.tmp"
        record.write_text(json.dumps({"environment": target.name}))
        os.replace(record, self.root / "current")
        for old in self.root.glob("env-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    # --- starting ---------------------------------------------------------------------------

    def app_command(self, arguments: list[str]) -> list[str]:
        current = self.current()
        if current is None:
            raise SetupError("DocRetriever's libraries are not set up yet.")
        return [str(_python(current)), "-m", "docretriever_ui.app", *arguments]


def _python(environment: Path) -> Path:
    if sys.platform == "win32":
        return environment / "Scripts" / "python.exe"
    return environment / "bin" / "python"


def _lines(stream: object) -> Iterator[str]:
    for line in stream:  # type: ignore[attr-defined]
        line = line.rstrip()
        if line:
            yield line
