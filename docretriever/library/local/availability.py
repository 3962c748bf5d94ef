"""Whether a folder the user added can be read now, and if not, whether its files are gone or
only out of reach.

A file that cannot be found is not a file the user deleted: a USB drive may be unplugged (its
mount point stays, empty), a network share offline (every call fails, or hangs), a folder
renamed. Only the first kind of absence, a readable folder that no longer holds the file, makes
a document *missing*; when the folder itself cannot be reached its documents are *unavailable*
and left as they are. Either way nothing is thrown away: forgetting is the user's explicit
``prune``.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass

AVAILABLE = "available"  # readable: walk it
GONE = "gone"  # its drive is there but the folder (or file) is not: renamed, moved or deleted
UNAVAILABLE = "unavailable"  # cannot be reached now: unmounted, offline, not answering

# A network share that has gone away can make a stat() hang for minutes; past this, the folder
# counts as unavailable and the sync goes on without it.
PROBE_TIMEOUT_S = 10.0

# The calls a probe makes, as names of this module, so that a test can stand in for a share that
# fails or hangs (real ones cannot be unmounted on a test machine).
_stat = os.stat
_scandir = os.scandir
_ismount = os.path.ismount


@dataclass(frozen=True)
class FolderState:
    """What a probe found at ``path``: AVAILABLE, GONE or UNAVAILABLE, and why, in words."""

    path: str
    state: str
    reason: str = ""


def volume_of(path: str) -> str | None:
    """The mount point that holds ``path`` (after following links), e.g. ``/media/alex/USB``,
    ``/`` or ``E:\\``; None if it cannot be told. Recorded when a folder is added, so that a sync
    can tell an unmounted drive from a deleted folder even when the mount point stays."""
    try:
        current = os.path.realpath(path)
        while not _ismount(current):
            parent = os.path.dirname(current)
            if parent == current:
                return None
            current = parent
        return current
    except (OSError, ValueError):
        return None


def probe_folder(
    path: str, volume: str | None, known_files: int, timeout_s: float = PROBE_TIMEOUT_S
) -> FolderState:
    """Look at an added folder (or file) ``path`` once, in a helper thread so that a hung share
    costs at most ``timeout_s`` seconds. ``volume`` is the mount point it was on when added
    (:func:`volume_of`); ``known_files`` how many files the library found under it before.
    Never raises."""
    result: list[FolderState] = []

    def run() -> None:
        result.append(_probe(path, volume, known_files))

    worker = threading.Thread(target=run, name="probe-folder", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if result:
        return result[0]
    return FolderState(
        path, UNAVAILABLE, f"it did not answer within {timeout_s:.0f} s (a network share that is offline?)"
    )


def _probe(path: str, volume: str | None, known_files: int) -> FolderState:
    if volume is not None and not _is_root(volume):
        try:
            # exists() as well: a drive letter is a mount point by its name alone, plugged in or not.
            mounted = _ismount(volume) and os.path.exists(volume)
        except OSError:
            mounted = False
        if not mounted:
            return FolderState(path, UNAVAILABLE, f"the drive or share at {volume} is not connected")
    if os.path.islink(path) and not os.path.exists(path):
        return FolderState(path, UNAVAILABLE, f"it links to {os.readlink(path)}, which cannot be reached")
    try:
        status = _stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return FolderState(path, GONE, "it is no longer there (renamed, moved or deleted)")
    except OSError as exc:
        return FolderState(path, UNAVAILABLE, _unreachable(exc))
    if not _is_dir(status):
        return FolderState(path, AVAILABLE)
    try:
        with _scandir(path) as entries:
            empty = next(iter(entries), None) is None
    except OSError as exc:
        return FolderState(path, UNAVAILABLE, _unreachable(exc))
    # Empty where files were: a drive's mount point left behind, when the folder was the drive
    # itself (a mount that the volume check above still sees, say). An ordinary folder emptied
    # by its owner (an inbox, a "to read" folder) is just that: its files are missing.
    if empty and known_files and volume is not None and _same_path(volume, path):
        files = "1 file" if known_files == 1 else f"{known_files} files"
        return FolderState(
            path,
            UNAVAILABLE,
            f"it is empty, though it held {files} before (a mount point without its drive?)",
        )
    return FolderState(path, AVAILABLE)


def _same_path(first: str, second: str) -> bool:
    return os.path.normcase(os.path.normpath(first)) == os.path.normcase(os.path.normpath(second))


def _is_root(volume: str) -> bool:
    """The system's own root (``/``), which is always there; drive letters are not: an
    unplugged ``E:\\`` is a volume that went away."""
    return os.path.dirname(volume) == volume and not os.path.splitdrive(volume)[0]


def _is_dir(status: os.stat_result) -> bool:
    import stat

    return stat.S_ISDIR(status.st_mode)


def _unreachable(exc: OSError) -> str:
    if exc.errno in (errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENOTCONN, errno.ETIMEDOUT, errno.ESTALE):
        return f"it cannot be reached ({exc.strerror}: a network share that is offline?)"
    return f"it cannot be read ({exc.strerror or exc})"
