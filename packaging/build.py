"""Build DocRetriever's Linux installers: a ``.deb`` and a ``.tar.gz``.

    make installers            (= uv run --frozen --group packaging python packaging/build.py)

Both hold the same small program, not the app's 3 GB of libraries:

    launcher/       the launcher, frozen with PyInstaller (PySide6 and the standard library)
    payload/        uv (the binary from the locked ``uv`` wheel), the app's wheel,
                    pyproject.toml, uv.lock and requirements.txt (the lock, exported)

At first start the launcher builds the per-user environment from the payload with uv (see
``launcher/runtime.py``). The ``.deb`` installs under ``/opt/docretriever`` with
``/usr/bin/docretriever-gui``, a desktop entry that opens PDFs ("Open with DocRetriever") and an
icon; the ``.tar.gz`` unpacks anywhere and ``install-desktop-entry.sh`` adds the same entry for one
user. Windows and macOS are built on those systems (``--stage-only``, then ``windows/`` or
``macos/``): see ``packaging/README.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
# Libraries the frozen launcher's Qt needs from the system (Debian package names).
DEB_DEPENDS = [
    "python3 (>= 3.11)",
    "libgl1",
    "libegl1",
    "libfontconfig1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libdbus-1-3",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-image0",
]
# Qt modules and standard-library parts the launcher never uses: kept out of the bundle.
EXCLUDED_MODULES = [
    "tkinter",
    "unittest",
    "pydoc",
    "PySide6.QtNetwork",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtOpenGL",
    "PySide6.QtPdf",
    "PySide6.QtSvg",
    "PySide6.QtDBus",
    "PySide6.QtConcurrent",
    "PySide6.QtPrintSupport",
    "PySide6.QtXml",
    "PySide6.QtMultimedia",
]


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def uv_binary() -> Path:
    """The uv binary of the locked ``uv`` wheel (the packaging group), not whatever is on PATH."""
    from uv import find_uv_bin

    return Path(find_uv_bin())


def run(command: list[str | os.PathLike[str]], **kwargs: object) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def build_payload(work: Path) -> Path:
    payload = work / "payload"
    shutil.rmtree(payload, ignore_errors=True)
    payload.mkdir(parents=True)
    uv = uv_binary()
    run([uv, "build", "--wheel", "--out-dir", payload])
    (payload / ".gitignore").unlink(missing_ok=True)  # uv marks its output folder
    run([
        uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--format", "requirements-txt",
        "--output-file", payload / "requirements.txt", "--quiet",
    ])  # fmt: skip
    shutil.copy2(ROOT / "pyproject.toml", payload / "pyproject.toml")
    shutil.copy2(ROOT / "uv.lock", payload / "uv.lock")
    shutil.copy2(uv, payload / uv.name)
    return payload


def freeze_launcher(work: Path) -> Path:
    """The launcher as a PyInstaller one-folder program: ``<work>/launcher/docretriever``."""
    excluded = [argument for module in EXCLUDED_MODULES for argument in ("--exclude-module", module)]
    # macOS hands "Open with" files over as Apple Events: PyInstaller turns them into arguments.
    extra = ["--argv-emulation"] if sys.platform == "darwin" else []
    run([
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--onedir", "--windowed",
        "--log-level", "WARN", "--name", "docretriever", "--distpath", work / "frozen",
        "--workpath", work / "pyinstaller", "--specpath", work, "--paths", PACKAGING / "launcher",
        *excluded, *extra, PACKAGING / "launcher" / "docretriever_launcher.py",
    ])  # fmt: skip
    launcher = work / "launcher"
    shutil.rmtree(launcher, ignore_errors=True)
    shutil.move(work / "frozen" / "docretriever", launcher)
    return launcher


def stage_tree(work: Path, launcher: Path, payload: Path) -> Path:
    """The installed tree: ``<stage>/opt/docretriever``, the command, desktop entry, icon, docs."""
    stage = work / "deb-root"
    shutil.rmtree(stage, ignore_errors=True)
    app = stage / "opt" / "docretriever"
    shutil.copytree(launcher, app / "launcher", symlinks=True)
    shutil.copytree(payload, app / "payload")
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink("/opt/docretriever/launcher/docretriever", stage / "usr" / "bin" / "docretriever-gui")
    applications = stage / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    shutil.copy2(PACKAGING / "linux" / "docretriever.desktop", applications / "docretriever.desktop")
    icons = stage / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps"
    icons.mkdir(parents=True)
    shutil.copy2(PACKAGING / "docretriever.svg", icons / "docretriever.svg")
    docs = stage / "usr" / "share" / "doc" / "docretriever"
    docs.mkdir(parents=True)
    shutil.copy2(ROOT / "LICENSE", docs / "copyright")
    shutil.copy2(ROOT / "THIRD-PARTY-NOTICES.md", docs / "THIRD-PARTY-NOTICES.md")
    return stage


def stage_portable(work: Path, launcher: Path, payload: Path) -> Path:
    """``<work>/stage``: launcher, payload and licences, as the Windows installer takes them."""
    stage = work / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(launcher, stage / "launcher", symlinks=True)
    shutil.copytree(payload, stage / "payload")
    shutil.copy2(ROOT / "LICENSE", stage / "LICENSE")
    shutil.copy2(ROOT / "THIRD-PARTY-NOTICES.md", stage / "THIRD-PARTY-NOTICES.md")
    return stage


def build_deb(work: Path, stage: Path, out: Path) -> Path:
    size_kib = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    control = stage / "DEBIAN"
    control.mkdir(exist_ok=True)
    (control / "control").write_text(
        (PACKAGING / "linux" / "control.in")
        .read_text()
        .format(version=version(), depends=", ".join(DEB_DEPENDS), installed_size=size_kib)
    )
    for script in ("postinst", "postrm"):
        shutil.copy2(PACKAGING / "linux" / script, control / script)
        (control / script).chmod(0o755)
    deb = out / f"docretriever_{version()}_amd64.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, deb])
    return deb


def build_tarball(work: Path, launcher: Path, payload: Path, out: Path) -> Path:
    name = f"docretriever-{version()}-linux-x86_64"
    tree = work / name
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(launcher, tree / "launcher", symlinks=True)
    shutil.copytree(payload, tree / "payload")
    shutil.copy2(PACKAGING / "docretriever.svg", tree / "docretriever.svg")
    shutil.copy2(PACKAGING / "linux" / "install-desktop-entry.sh", tree / "install-desktop-entry.sh")
    shutil.copy2(ROOT / "LICENSE", tree / "LICENSE")
    shutil.copy2(ROOT / "THIRD-PARTY-NOTICES.md", tree / "THIRD-PARTY-NOTICES.md")
    os.symlink("launcher/docretriever", tree / "docretriever")
    tarball = out / f"{name}.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=9) as archive:
        archive.add(tree, arcname=name)
    return tarball


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist" / "installers", help="where the installers go"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "installers", help="scratch folder")
    parser.add_argument(
        "--stage-only",
        action="store_true",
        help="only freeze the launcher and stage it with the payload in <work>/stage (any OS: the "
        "input of the Windows installer script)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.stage_only and not sys.platform.startswith("linux"):
        print("This builds the Linux installers; elsewhere use --stage-only (see packaging/README.md).")
        return 2
    payload = build_payload(args.work)
    launcher = freeze_launcher(args.work)
    if args.stage_only:
        print(stage_portable(args.work, launcher, payload))
        return 0
    stage = stage_tree(args.work, launcher, payload)
    deb = build_deb(args.work, stage, args.out)
    tarball = build_tarball(args.work, launcher, payload, args.out)
    for product in (deb, tarball):
        print(f"{product}  {product.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
