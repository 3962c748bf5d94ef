"""Office files (Word, PowerPoint, Excel, OpenDocument, RTF) converted to PDF by LibreOffice.

LibreOffice runs headless, in its own process group with a time limit (the whole group is
killed when it is over), with a throw-away user profile so that it never meets a LibreOffice
the person has open (two instances on one profile hand the work to each other, or refuse).
It runs in the render worker (:mod:`docretriever.documents.render_worker`) during ingest.

The PDF is kept in the cache folder (:func:`docretriever.config.default_cache_dir`), named by
the SHA-256 of the file's bytes, so that showing a page later does not convert again. The cache
is bounded: after each conversion the least recently used PDFs are deleted until the folder
holds at most :data:`CACHE_MAX_BYTES` (a PDF whose page is shown is marked used); a deleted
one is made again when needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from docretriever.config import default_cache_dir
from docretriever.errors import DocumentError, describe_os_error

CACHE_MAX_BYTES = 1 << 30
# LibreOffice converts a few pages a second, and starts (with a new profile) in seconds.
DEFAULT_TIMEOUT_S = 50.0
INSTALL_HINT = (
    "Office files are converted to PDF by LibreOffice, which is not installed: install it "
    "(https://www.libreoffice.org, or your system's package manager), then add the file again."
)
_NAMES = ("soffice", "libreoffice")
# The soffice program to use instead of looking for one (a LibreOffice in an unusual place);
# a path where there is none means LibreOffice is not installed.
SOFFICE_ENV = "DOCRETRIEVER_SOFFICE"


def _usual_folders() -> list[Path]:
    """Where LibreOffice's installers put its programs, when they are not on PATH."""
    if sys.platform == "darwin":
        return [Path("/Applications/LibreOffice.app/Contents/MacOS")]
    if os.name == "nt":
        roots = {os.environ.get(v) for v in ("PROGRAMFILES", "PROGRAMFILES(X86)", "PROGRAMW6432")}
        return [Path(root) / "LibreOffice" / "program" for root in sorted(r for r in roots if r)]
    return [Path("/usr/lib/libreoffice/program"), *sorted(Path("/opt").glob("libreoffice*/program"))]


def find_soffice() -> Path | None:
    """LibreOffice's ``soffice`` program: ``$DOCRETRIEVER_SOFFICE`` when set, else on PATH
    (``soffice``, ``libreoffice``), else in its usual install folders; None when it is not
    installed (or not where ``$DOCRETRIEVER_SOFFICE`` says)."""
    override = os.environ.get(SOFFICE_ENV)
    if override:
        chosen = Path(override).expanduser()
        return chosen if chosen.is_file() and os.access(chosen, os.X_OK) else None
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    executable = "soffice.exe" if os.name == "nt" else "soffice"
    for folder in _usual_folders():
        candidate = folder / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def cache_folder() -> Path:
    """The folder of converted PDFs."""
    return default_cache_dir() / "converted"


def converted_pdf(
    path: Path, label: str, timeout_s: float = DEFAULT_TIMEOUT_S, sha256: str | None = None
) -> Path:
    """The PDF of the Office file at ``path`` (a ``label`` such as "Word document", for
    messages): from the cache when it holds one for these bytes, else converted by LibreOffice
    within ``timeout_s`` seconds and kept in the cache. ``sha256``: the file's digest when the
    caller knows it (the library, showing a page it indexed): the cache is looked up by it
    without reading the file.

    Raises :class:`DocumentError` when LibreOffice is not installed (saying how to enable it),
    when it takes longer than ``timeout_s`` (its processes are killed), and when it makes no
    PDF of the file (damaged, protected by a password, or not what its name says)."""
    if sha256 is not None and (known := cache_folder() / f"{sha256}.pdf").is_file():
        with contextlib.suppress(OSError):
            os.utime(known)  # used: the last to be pruned
        return known
    soffice = find_soffice()
    with tempfile.TemporaryDirectory(prefix="docretriever-office-") as work:
        folder = Path(work)
        # A copy of fixed name: what is converted is exactly what was hashed (the file may
        # change meanwhile), and an odd file name never reaches LibreOffice's command line.
        source = folder / f"document{path.suffix.lower()}"
        try:
            shutil.copyfile(path, source)
        except OSError as exc:
            raise DocumentError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
        cached = cache_folder() / f"{_sha256(source)}.pdf"
        if cached.is_file():
            with contextlib.suppress(OSError):
                os.utime(cached)  # used: the last to be pruned
            return cached
        if soffice is None:
            raise DocumentError(f"{path.name} is not indexed. {INSTALL_HINT}")
        made = _convert(soffice, source, folder, timeout_s, path.name, label)
        return _keep(made, cached)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _convert(soffice: Path, source: Path, folder: Path, timeout_s: float, name: str, label: str) -> Path:
    out = folder / "out"
    command = [
        os.fspath(soffice),
        f"-env:UserInstallation={(folder / 'profile').as_uri()}",
        *("--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo"),
        *("--convert-to", "pdf", "--outdir", os.fspath(out), os.fspath(source)),
    ]
    if sys.platform == "win32":
        group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        group = {"start_new_session": True}
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **group,  # type: ignore[call-overload]
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise DocumentError(
            f"LibreOffice took longer than {timeout_s:g} s to convert {name} to PDF: it is not indexed "
            "(a very large or damaged file).",
            details=" ".join(command[1:]),
        ) from None
    finally:
        _kill_group(process)  # what it left behind (a helper process) goes with it
        if process.stdout is not None:
            process.stdout.close()
    made = out / f"{source.stem}.pdf"
    if process.returncode != 0 or not made.is_file() or made.stat().st_size == 0:
        text = output.decode("utf-8", "replace").strip()[-1000:]
        raise DocumentError(
            f"LibreOffice could not convert {name} to PDF (damaged, protected by a password, "
            f"or not a {label}).",
            details=f"exit status {process.returncode}: {text}",
        )
    return made


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` and every process of its group (LibreOffice's launcher starts
    ``soffice.bin``, which may start others), and reap it."""
    if sys.platform == "win32":
        if process.poll() is None:
            subprocess.run(
                ["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, check=False
            )
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()


def _keep(made: Path, cached: Path) -> Path:
    """Move the PDF ``made`` into the cache as ``cached`` (atomically: a reader never sees half
    a file), then prune the cache; returns where the PDF is."""
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.part")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, partial)
        os.replace(partial, cached)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise DocumentError(
            f"The converted PDF cannot be kept in {cached.parent}: {describe_os_error(exc)}."
        ) from exc
    prune(cached.parent, CACHE_MAX_BYTES, keep=cached)
    return cached


def prune(folder: Path, max_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used PDFs of ``folder`` (by modification time, which a use
    updates) until it holds at most ``max_bytes``; ``keep`` is never deleted. Returns what was
    deleted."""
    entries: list[tuple[float, int, Path]] = []
    for path in folder.glob("*.pdf"):
        with contextlib.suppress(OSError):
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    deleted: list[Path] = []
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        if keep is not None and path == keep:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size
            deleted.append(path)
    return deleted
