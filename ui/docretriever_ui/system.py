"""Handing files to the rest of the desktop: a PDF viewer at a given page, the file manager.

The choice of command is a pure function of the platform and of what is on PATH, so it can be
tested without launching anything; the launching itself is a thin layer over QProcess and
QDesktopServices. No widgets here.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

from docretriever.errors import DocRetrieverError

Which = Callable[[str], str | None]

# Viewers that take a page on the command line, in order of preference, with how to ask for it.
# All of these count pages from 1, like Hit.page.
_UNIX_VIEWERS: tuple[tuple[str, Callable[[str, str, int], list[str]]], ...] = (
    ("evince", lambda exe, path, page: [exe, f"--page-index={page}", path]),
    ("okular", lambda exe, path, page: [exe, "-p", str(page), path]),
    ("zathura", lambda exe, path, page: [exe, f"--page={page}", path]),
    ("atril", lambda exe, path, page: [exe, f"--page-index={page}", path]),
    ("xreader", lambda exe, path, page: [exe, f"--page-index={page}", path]),
    ("qpdfview", lambda exe, path, page: [exe, "--unique", f"{path}#{page}"]),
)


def viewer_command(
    path: str, page: int, which: Which = shutil.which, platform: str = sys.platform
) -> list[str] | None:
    """The command that opens ``path`` at 1-based ``page`` in a viewer found on PATH, or None.

    None means no page-aware viewer was found: the caller then falls back to the system's
    default application, which opens the file at its first page. macOS has no common viewer
    that takes a page on the command line (Preview does not), so it always gets None. A file
    that is not a PDF (an image, an Office file, an e-book) gets None too: the application the
    person chose for its type opens it, not a PDF viewer that may not read it.
    """
    if os.path.splitext(path)[1].lower() != ".pdf":
        return None
    if platform.startswith("win"):
        sumatra = which("SumatraPDF")
        return [sumatra, "-page", str(page), path] if sumatra else None
    if platform == "darwin":
        return None
    for name, build in _UNIX_VIEWERS:
        executable = which(name)
        if executable:
            return build(executable, path, page)
    return None


def reveal_command(path: str, platform: str = sys.platform) -> list[str] | None:
    """The command that shows ``path`` selected in the file manager, or None where there is none.

    Elsewhere than Windows and macOS there is no portable "select this file" request, so the
    caller opens the containing folder instead.
    """
    if platform.startswith("win"):
        # explorer parses "/select," and the path as separate arguments reliably, whatever
        # quoting QProcess applies to a path with spaces.
        return ["explorer.exe", "/select,", os.path.normpath(path)]
    if platform == "darwin":
        return ["open", "-R", path]
    return None


def open_in_pdf_viewer(path: str, page: int) -> None:
    """Open the PDF at ``path`` at 1-based ``page``, or at least open it.

    Raises:
        DocRetrieverError: the file is no longer there, or nothing on this system opens it.
    """
    if not os.path.isfile(path):
        raise DocRetrieverError(f"{path} is no longer there; it may have been moved or deleted.")
    command = viewer_command(path, page)
    if command is not None and _start_detached(command):
        return
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        raise DocRetrieverError(f"No application on this system could open {path}.")


def reveal_in_file_manager(path: str) -> None:
    """Show ``path`` in the file manager: selected where the platform allows, else its folder.

    Raises:
        DocRetrieverError: neither the file nor its folder exists any more.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(path) and not os.path.isdir(folder):
        raise DocRetrieverError(f"{path} is no longer there, nor its folder; it may have been moved.")
    command = reveal_command(path) if os.path.exists(path) else None
    if command is not None and _start_detached(command):
        return
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
        raise DocRetrieverError(f"The file manager could not be opened on {folder}.")


def _start_detached(command: list[str]) -> bool:
    """Start a program that outlives the app and is never waited for; False if it did not start."""
    started, _pid = QProcess.startDetached(command[0], command[1:])
    return bool(started)
