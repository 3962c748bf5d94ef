"""A model's identity from its weights alone: a digest of the tensors in its safetensors files.

A library records the fingerprint of the model that built it and refuses another model, since
the vectors of two models cannot be compared. The fingerprint must therefore name the weights,
not the way they sit on disk: the same tensors reached by Hub id, from a full or a partial Hugging
Face cache, from a copied folder, with an adapter_config.json edited to point at a local base
model, or re-saved with another shard size give one fingerprint. README, results.json, configs,
tokenizer files, training checkpoints and safetensors header metadata never count.

What is hashed (SHA-256 throughout): for each tensor of each weight file, its dtype, its shape and
a digest of its bytes. A folder's digest is taken over the sorted list of those entries (a
multiset), so tensor names, file names, sharding, tensor order and ``__metadata__`` do not
matter while any changed value does. The fingerprint hashes the folders' digests in order.

Cost: hashing ran at 1.56 GB/s with one thread and 3.0 GB/s with two (a 1.07 GB file in the
page cache, 2-core x86 with SHA extensions); the 8.8 GB of a ColQwen2 base model and adapter
would cost about 3 s of CPU, or the disk's read time when cold, on every load. So each file's
tensor digests are cached in a small JSON file, keyed by the file's resolved path, size, mtime
and inode, and a later load reads only the headers (well under a millisecond for one file).
No torch here: the headers are parsed by this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import struct
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import platformdirs

from docretriever.config import APP_NAME
from docretriever.errors import ModelError

CACHE_ENV = "DOCRETRIEVER_CACHE_DIR"
CACHE_NAME = "weight-digests.json"
_CACHE_VERSION = 1
_FORMAT = b"docretriever-weights-v1\n"
_INDEX = "model.safetensors.index.json"
# safetensors itself refuses headers over 100 MB: a larger length means a damaged file.
_MAX_HEADER = 100_000_000
# Bytes per element of the safetensors dtypes, to check that each tensor's byte range fits its
# shape (a damaged header would otherwise hash the wrong bytes quietly). Others skip the check.
_ITEM_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8,
}  # fmt: skip
# Reads of 16 MiB: large enough for hashlib to release the GIL and for the kernel to read
# ahead, small enough to keep memory flat. Plain reads rather than mmap: 15 % slower from the
# page cache (3.0 against 3.5 GB/s with two threads), but a file truncated while it is hashed
# raises an error here instead of killing the process with SIGBUS.
_CHUNK = 16 << 20
# Work is cut into runs of consecutive tensors so that two threads share even one large file:
# two threads hashed 1.9x faster than one on a 2-core machine; more were not measured, and a
# disk is usually the limit beyond that.
_RUN_BYTES = 256 << 20
_THREADS = 2


def weights_fingerprint(folders: Sequence[Path], *, cache_file: Path | None = None) -> str:
    """The fingerprint (64 hex digits) of the weights in ``folders``.

    ``folders`` in a fixed order: the base model first, then the LoRA adapter; one folder for a
    full model. The weight files of a folder are listed by :func:`weight_files`.

    Each file's tensor digests are cached in ``cache_file`` (default: :func:`default_cache_file`);
    a damaged, missing or unwritable cache only costs hashing again, never an error. Raises
    :class:`ModelError` when a folder holds no safetensors weights or a weight file is damaged
    or incomplete.
    """
    cache = _DigestCache(cache_file or default_cache_file())
    files = [weight_files(Path(folder)) for folder in folders]
    entries = _entries_of([path for paths in files for path in paths], cache)
    cache.save()
    digest = hashlib.sha256(_FORMAT)
    for paths in files:
        folder_entries = sorted(entry for path in paths for entry in entries[path])
        digest.update(hashlib.sha256(json.dumps(folder_entries).encode()).digest())
    return digest.hexdigest()


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of the model in ``folder``: the shards ``model.safetensors.index
    .json`` names if it exists, else the top-level ``*.safetensors`` (never sub-folders such as
    ``checkpoint-2310/``, never ``.bin``/``.pt`` files). Raises :class:`ModelError` if none."""
    index = folder / _INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted({str(name) for name in weight_map.values()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"The weight index {index} is damaged; download or copy the model again.", details=repr(exc)
            ) from exc
        for name in names:
            # The index names files beside it: never an absolute path, nor one outside the folder.
            if Path(name).is_absolute() or ".." in Path(name).parts or not (folder / name).is_file():
                raise ModelError(
                    f"The model folder {folder} lacks {name}, a weight file its {_INDEX} names; "
                    "download or copy the model again."
                )
        paths = [folder / name for name in names]
    else:
        paths = sorted(path for path in folder.glob("*.safetensors") if path.is_file())
    if not paths:
        raise ModelError(
            f"The model folder {folder} holds no weights in safetensors format (*.safetensors), which "
            "DocRetriever needs to recognise the model. Download the model again, or convert it."
        )
    return paths


def default_cache_file() -> Path:
    """Where tensor digests are cached: ``weight-digests.json`` in ``$DOCRETRIEVER_CACHE_DIR``,
    else in the per-user cache folder."""
    override = os.environ.get(CACHE_ENV)
    folder = Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP_NAME, False))
    return folder / CACHE_NAME


@dataclass(frozen=True)
class _Tensor:
    dtype: str
    shape: tuple[int, ...]
    start: int  # offset in the file of the first byte
    end: int  # offset past the last byte


def _entries_of(paths: Sequence[Path], cache: _DigestCache) -> dict[Path, list[str]]:
    """Each file's tensor entries ("dtype:shape:sha256"), from the cache or hashed now."""
    entries: dict[Path, list[str]] = {}
    keys: dict[Path, _FileKey] = {}
    runs: list[tuple[Path, list[_Tensor]]] = []
    for path in dict.fromkeys(paths):
        try:
            key = _FileKey.of(path)
        except OSError as exc:
            raise ModelError(f"The weight file {path} cannot be read: {exc.strerror or exc}.") from exc
        cached = cache.get(key)
        if cached is not None:
            entries[path] = cached
            continue
        keys[path], entries[path] = key, []
        runs.extend((path, run) for run in _runs(_read_header(path, key.size)))
    if len(runs) > 1:
        with ThreadPoolExecutor(_THREADS, thread_name_prefix="weights-fingerprint") as pool:
            results = list(pool.map(lambda run: _hash_run(*run), runs))
    else:
        results = [_hash_run(*run) for run in runs]
    for (path, _), run_entries in zip(runs, results, strict=True):
        entries[path].extend(run_entries)
    for path, key in keys.items():
        if _FileKey.of(path) == key:  # a file that changed while it was read is not cached
            cache.put(key, entries[path])
    return entries


def _read_header(path: Path, size: int) -> list[_Tensor]:
    """The tensors of a safetensors file of ``size`` bytes, by offset; ``__metadata__`` left out.

    The layout: an 8-byte little-endian header length N, N bytes of JSON giving each tensor's
    dtype, shape and data_offsets (relative to the end of the header), then the tensor data.
    """
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise _damaged(path, "it is shorter than a safetensors header")
            (length,) = struct.unpack("<Q", prefix)
            if length > _MAX_HEADER or 8 + length > size:
                raise _damaged(path, "its header length is impossible")
            header = json.loads(handle.read(length))
    except OSError as exc:
        raise ModelError(f"The weight file {path} cannot be read: {exc.strerror or exc}.") from exc
    except ValueError as exc:  # not JSON, not UTF-8
        raise _damaged(path, "its header is not valid JSON") from exc
    if not isinstance(header, dict):
        raise _damaged(path, "its header is not a table of tensors")
    start, data_bytes = 8 + length, size - 8 - length
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            continue  # free-form strings (format, training notes), not weights
        tensor = _tensor(path, name, info, start)
        if tensor.end - start > data_bytes:
            raise _damaged(path, f"it ends before the data of tensor {name}, so it is incomplete")
        tensors.append(tensor)
    return sorted(tensors, key=lambda tensor: (tensor.start, tensor.end))


def _tensor(path: Path, name: str, info: Any, data_start: int) -> _Tensor:
    fields = info if isinstance(info, dict) else {}
    dtype, shape, offsets = fields.get("dtype"), fields.get("shape"), fields.get("data_offsets")
    if not (
        isinstance(dtype, str)
        and isinstance(shape, list)
        and isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(n) is int and n >= 0 for n in (*shape, *offsets))
        and offsets[0] <= offsets[1]
    ):
        raise _damaged(path, f"the header entry of tensor {name} is malformed")
    item = _ITEM_BYTES.get(dtype)
    if item is not None and math.prod(shape) * item != offsets[1] - offsets[0]:
        raise _damaged(path, f"tensor {name} does not hold as many bytes as its shape needs")
    return _Tensor(dtype, tuple(shape), data_start + offsets[0], data_start + offsets[1])


def _runs(tensors: list[_Tensor]) -> list[list[_Tensor]]:
    """Consecutive tensors grouped into runs of about :data:`_RUN_BYTES`, one task each."""
    runs: list[list[_Tensor]] = []
    size = _RUN_BYTES
    for tensor in tensors:
        if size >= _RUN_BYTES:
            runs.append([])
            size = 0
        runs[-1].append(tensor)
        size += tensor.end - tensor.start
    return runs


def _hash_run(path: Path, tensors: list[_Tensor]) -> list[str]:
    """The entries of ``tensors``, read in one pass over their part of the file."""
    buffer = memoryview(bytearray(_CHUNK))
    entries = []
    try:
        with open(path, "rb", buffering=0) as handle:
            for tensor in tensors:
                handle.seek(tensor.start)
                digest = _hash_bytes(handle, tensor.end - tensor.start, buffer, path)
                entries.append(f"{tensor.dtype}:{','.join(map(str, tensor.shape))}:{digest}")
    except OSError as exc:
        raise ModelError(f"The weight file {path} cannot be read: {exc.strerror or exc}.") from exc
    return entries


def _hash_bytes(handle: io.FileIO, count: int, buffer: memoryview, path: Path) -> str:
    digest = hashlib.sha256()
    while count:
        got = handle.readinto(buffer[: min(count, len(buffer))])
        if not got:
            raise _damaged(path, "it became shorter while it was read")
        digest.update(buffer[:got])
        count -= got
    return digest.hexdigest()


def _damaged(path: Path, reason: str) -> ModelError:
    return ModelError(
        f"The weight file {path} is damaged or incomplete: {reason}. Download or copy the model again."
    )


# --- the digest cache ------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileKey:
    """What identifies a file's contents without reading them. The real path, so that a Hugging
    Face snapshot's symlink and its blob share one entry."""

    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> _FileKey:
        real = os.path.realpath(path)
        stat = os.stat(real)
        return cls(real, stat.st_size, stat.st_mtime_ns, stat.st_ino)

    def fields(self) -> dict[str, int]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "inode": self.inode}


class _DigestCache:
    """The tensor entries of weight files hashed before, in a JSON file: ``{"version": 1,
    "files": {real path: {"size", "mtime_ns", "inode", "tensors": [entry, ...]}}}``."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._files = self._load()
        self._new: dict[str, dict[str, Any]] = {}

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            if data.get("version") == _CACHE_VERSION and isinstance(data.get("files"), dict):
                return dict(data["files"])
        except (OSError, ValueError, AttributeError):
            pass  # missing or damaged: rebuilt by this load
        return {}

    def get(self, key: _FileKey) -> list[str] | None:
        entry = self._files.get(key.path)
        if not isinstance(entry, dict) or any(entry.get(k) != v for k, v in key.fields().items()):
            return None
        tensors = entry.get("tensors")
        if not isinstance(tensors, list) or not all(isinstance(t, str) for t in tensors):
            return None
        return tensors

    def put(self, key: _FileKey, tensors: list[str]) -> None:
        self._new[key.path] = {**key.fields(), "tensors": tensors}

    def save(self) -> None:
        """Write the new entries, merged with what another process may have written meanwhile,
        minus the entries of files gone or changed. Atomic (a temporary file, then a rename);
        not synced: a cache lost to a power cut is rebuilt. Failures are ignored."""
        if not self._new:
            return
        files = {**self._load(), **self._new}
        files = {path: entry for path, entry in files.items() if _current(path, entry)}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".weight-digests-", dir=self.file.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump({"version": _CACHE_VERSION, "files": files}, stream)
                os.replace(temporary, self.file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError:
            pass  # read-only or full disk: the next load hashes again


def _current(path: str, entry: Any) -> bool:
    try:
        return isinstance(entry, dict) and _FileKey.of(Path(path)).fields() == {
            k: entry.get(k) for k in ("size", "mtime_ns", "inode")
        }
    except OSError:
        return False


# --- the fingerprint of libraries built before this one -------------------------------------

# Files read whole into the legacy fingerprint; larger ones gave their size, head and tail.
_SMALL_FILE = 4 << 20
_SAMPLE = 1 << 20
_IGNORED = {"README.md", ".gitattributes", "LICENSE", "LICENSE.txt"}


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def legacy_folder_fingerprint(folders: Sequence[Path]) -> str:
    """The fingerprint DocRetriever recorded before :func:`weights_fingerprint` (64 hex digits).

    Only to recognise the libraries built then, which open and are migrated. ``folders`` in that
    version's order: the model folder first, then the base model's folder for an adapter (the
    reverse of :func:`weights_fingerprint`). It hashed every file of the folders (relative path,
    size, files up to 4 MiB whole, the first and last MiB of larger ones), so any edited or added
    file changed it; kept byte for byte.
    """
    digest = hashlib.sha256()
    for root in folders:
        _legacy_hash_folder(Path(root), digest)
    return digest.hexdigest()


def _legacy_hash_folder(root: Path, digest: _Digest) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _IGNORED):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("."):
            continue
        size = path.stat().st_size
        digest.update(f"{relative}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= _SMALL_FILE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_SAMPLE))
                handle.seek(size - _SAMPLE)
                digest.update(handle.read(_SAMPLE))
