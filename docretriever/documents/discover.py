"""Turning the paths a person gives (files and folders) into the document files to index."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from docretriever.documents.formats import is_document_name

# File names are kept in the catalog as text (SQLite TEXT, UTF-8). A name that is not valid
# UTF-8 reaches Python as "surrogate-escaped" text (PEP 383); such a name is refused, file by
# file, with this sentence, and never stored. On screen and in logs it is shown escaped
# (``sample\xf0.pdf``, see :func:`shown_path`), so that printing it can never fail.
UNDECODABLE_NAME = "The file name is not valid text (UTF-8); rename the file and add it again."


def is_text_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is valid Unicode text that SQLite can store (no surrogate escapes)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` for a person (a terminal, a log, a label): bytes that are not valid UTF-8 are
    written as ``\\xf0``; other text is returned unchanged. Never raises."""
    text = os.fspath(path)
    if is_text_path(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeError:  # a lone surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def is_document_file(path: str | os.PathLike[str]) -> bool:
    """Whether a folder walk takes the file at ``path``, by its name: an extension of a format
    the library reads (:func:`~docretriever.documents.formats.is_document_name`). What a folder
    watch turns into changes (a file given explicitly is taken whatever its name)."""
    return is_document_name(os.path.basename(os.fspath(path)))


@dataclass
class Discovery:
    """Document files found, in a stable order, and the given paths that could not be used."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def find_documents(paths: Iterable[str | os.PathLike[str]]) -> Discovery:
    """Expand files and folders (recursively, following links once) into document files.

    A file given explicitly is taken whatever its extension (its content is checked when it
    is opened, :func:`~docretriever.documents.formats.detect_format`); in folders only names
    with a supported extension (``.pdf``, ``.png``, ``.docx``..., any case:
    :data:`~docretriever.documents.formats.DOCUMENT_EXTENSIONS`) are taken. Symlink loops and folders
    reached twice are walked once. Missing paths are reported in ``problems``, not raised, so
    that one typo does not stop a batch.
    """
    found = Discovery()
    seen_files: set[Path] = set()
    seen_dirs: set[Path] = set()

    def take(file: Path) -> None:
        key = file.resolve()
        if key not in seen_files:
            seen_files.add(key)
            found.files.append(Path(os.path.abspath(file)))

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            take(path)
        elif path.is_dir():
            for file in _walk(path, seen_dirs):
                take(file)
        elif path.exists():
            found.problems.append((path, "is neither a file nor a folder"))
        else:
            found.problems.append((path, "does not exist"))
    return found


def _walk(root: Path, seen_dirs: set[Path]) -> list[Path]:
    files: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            real = folder.resolve(strict=True)
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop on older Pythons
            continue
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        subfolders: list[Path] = []
        for entry in entries:
            try:
                if entry.is_dir():
                    subfolders.append(Path(entry.path))
                elif entry.is_file() and is_document_file(entry.name):
                    files.append(Path(entry.path))
            except OSError:
                continue
        stack.extend(reversed(subfolders))
    return files
