"""Turning the paths a person gives (files and folders) into the PDF files to index."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Discovery:
    """PDF files found, in a stable order, and the given paths that could not be used."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def find_pdfs(paths: Iterable[str | os.PathLike[str]]) -> Discovery:
    """Expand files and folders (recursively, following links once) into ``.pdf`` files.

    A file given explicitly is taken whatever its extension (the PDF check comes later); in
    folders only names ending in ``.pdf`` (any case) are taken. Symlink loops and folders
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
                elif entry.is_file() and entry.name.lower().endswith(".pdf"):
                    files.append(Path(entry.path))
            except OSError:
                continue
        stack.extend(reversed(subfolders))
    return files
