"""What the installer ships beside the launcher (the payload), and what its lock says.

Standard library only: the launcher is frozen with PySide6 and nothing else.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "DocRetriever"


class SetupError(Exception):
    """A failure the person can act on: ``message`` says what happened and what to do."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


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
