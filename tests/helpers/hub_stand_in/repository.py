"""The repositories the Hub stand-in serves: a folder at one commit, with the ids git and Git LFS give it.

:class:`HubRepo` hashes a folder once: every file gets its git blob id (of the file itself, or of its LFS
pointer) and, for LFS files, the sha256 object id; every folder gets its git tree id, and the repository a
commit sha derived from its root tree, so the same files always get the same commit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_LFS_PATTERNS", "HubRepo", "RepoEntry"]

# Used when a repository has no .gitattributes: what the real repositories' .gitattributes send to LFS.
DEFAULT_LFS_PATTERNS = ("*.safetensors", "*.pt", "*.pth", "*.bin", "tokenizer.json")


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class RepoEntry:
    """One file of a served repository, with the identities the Hub reports for it."""

    path: str  # relative, "/"-separated
    local: Path
    size: int  # the real size (for an LFS file, of the object, not of its pointer)
    blob_id: str  # git oid of what git stores: the file itself, or its LFS pointer
    sha256: str | None  # the LFS object id; None for a regular file
    pointer_size: int | None

    @property
    def is_lfs(self) -> bool:
        return self.sha256 is not None


class HubRepo:
    """A folder served as one model repository at one commit.

    Files are hashed once, here: a later change to the folder is not seen. LFS membership follows the
    repository's own ``.gitattributes`` (``filter=lfs`` lines), as on the Hub; without one,
    :data:`DEFAULT_LFS_PATTERNS`. The commit sha is derived from the content, so the same files always get the
    same commit.
    """

    def __init__(self, repo_id: str, folder: Path) -> None:
        self.repo_id = repo_id
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"repository folder {self.folder} does not exist")
        lfs_patterns = self._lfs_patterns()
        self.files: dict[str, RepoEntry] = {}
        for local in sorted(self.folder.rglob("*")):
            rel = local.relative_to(self.folder).as_posix()
            # Not part of a repository: git's own folder and huggingface_hub's local_dir metadata.
            if not local.is_file() or rel.split("/")[0] in {".git", ".cache"}:
                continue
            data = local.read_bytes()
            if _matches_any(rel, lfs_patterns):
                sha256 = hashlib.sha256(data).hexdigest()
                pointer = _lfs_pointer(sha256, len(data))
                entry = RepoEntry(rel, local, len(data), _git_blob_id(pointer), sha256, len(pointer))
            else:
                entry = RepoEntry(rel, local, len(data), _git_blob_id(data), None, None)
            self.files[rel] = entry
        self.dirs: dict[str, str] = {}
        root = self._tree_id("")
        self.sha = hashlib.sha1(f"commit {repo_id}\ntree {root}\n".encode()).hexdigest()
        self.by_sha256 = {e.sha256: e for e in self.files.values() if e.sha256 is not None}
        self.cdn_prefix = hashlib.sha256(repo_id.encode()).hexdigest()

    def _lfs_patterns(self) -> list[str]:
        attributes = self.folder / ".gitattributes"
        if not attributes.is_file():
            return list(DEFAULT_LFS_PATTERNS)
        patterns = []
        for line in attributes.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
                patterns.append(parts[0])
        return patterns

    def _tree_id(self, directory: str) -> str:
        """The git tree oid of ``directory`` (recording every sub-directory's oid in :attr:`dirs`)."""
        entries: list[tuple[str, str, str]] = []  # (sort key, mode + name, oid)
        for name, is_dir in self.children(directory):
            path = f"{directory}/{name}" if directory else name
            if is_dir:
                entries.append((name + "/", f"40000 {name}", self._tree_id(path)))
            else:
                entries.append((name, f"100644 {name}", self.files[path].blob_id))
        body = b"".join(head.encode() + b"\0" + bytes.fromhex(oid) for _, head, oid in sorted(entries))
        oid = hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()
        self.dirs[directory] = oid
        return oid

    def children(self, directory: str) -> list[tuple[str, bool]]:
        """(name, is directory) of the direct children of ``directory``, sorted by name."""
        prefix = f"{directory}/" if directory else ""
        found: dict[str, bool] = {}
        for path in self.files:
            if path.startswith(prefix):
                head, sep, _ = path[len(prefix) :].partition("/")
                found[head] = found.get(head, False) or bool(sep)
        return sorted(found.items())

    def walk(self, directory: str, recursive: bool) -> Iterator[tuple[str, bool]]:
        """(path, is directory) under ``directory``: depth first, a folder before its content."""
        for name, is_dir in self.children(directory):
            path = f"{directory}/{name}" if directory else name
            yield path, is_dir
            if is_dir and recursive:
                yield from self.walk(path, recursive)

    def card(self) -> dict[str, Any]:
        """The YAML front matter of README.md (the Hub's cardData), or {}."""
        readme = self.files.get("README.md")
        if readme is None:
            return {}
        match = re.match(r"^---\n(.*?)\n---\n", readme.local.read_text(encoding="utf-8"), re.DOTALL)
        data = yaml.safe_load(match.group(1)) if match else None
        return data if isinstance(data, dict) else {}

    def read_json(self, path: str) -> dict[str, Any] | None:
        entry = self.files.get(path)
        if entry is None:
            return None
        try:
            data = json.loads(entry.local.read_text(encoding="utf-8"))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def _matches_any(path: str, patterns: Iterable[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        # gitattributes: a pattern without a slash matches the name at any depth, one with a slash the path.
        if "/" in pattern.rstrip("/"):
            if fnmatch.fnmatchcase(path, pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False
