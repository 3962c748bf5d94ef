"""Append-only float16 vector files read through memory maps.

Rows of every page are appended to the current segment file (``segment-000001.f16``: raw
little-endian float16, ``dim`` values per row, no header). The catalog records where each page's
rows start; a row range is never rewritten, so a crash can at worst leave unreferenced bytes at a
file's end, which the next append simply follows. Space is reclaimed only by a compaction
(:mod:`docretriever.library.local.compaction`), which copies the rows still used into new files and
deletes whole old ones.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from docretriever.errors import LibraryError, describe_os_error

_DTYPE = np.dtype("<f2")
# Segments roll over at this size so no single file grows without bound (and mmaps stay modest
# on 32-bit-limited filesystems).
SEGMENT_BYTES = 1 << 30


class MissingVectorsError(LibraryError):
    """A segment file the catalog points into is gone. Most often a compaction deleted it after
    the caller read its page records: read them again (see LocalLibrary.search_embedding)."""


class VectorStore:
    """Rows of ``dim`` float16 values in numbered segment files inside ``folder``."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder = folder
        self.dim = dim
        self._row_bytes = dim * _DTYPE.itemsize
        folder.mkdir(parents=True, exist_ok=True)
        self._maps: dict[int, np.memmap] = {}

    def _path(self, segment: int) -> Path:
        return self.folder / f"segment-{segment:06d}.f16"

    def _last_segment(self) -> int:
        numbers = [int(p.stem.split("-")[1]) for p in self.folder.glob("segment-*.f16")]
        return max(numbers, default=1)

    def append(self, rows: np.ndarray) -> tuple[int, int]:
        """Append one page's ``rows`` (shape (n, dim), any float dtype); see append_batch()."""
        return self.append_batch([rows])[0]

    def append_batch(self, pages: list[np.ndarray]) -> list[tuple[int, int]]:
        """Append several pages' rows (each (n_i, dim), any float dtype) in one durable write.

        Returns (segment, first row index) per page. The data is fsync'ed before returning, so a
        catalog commit that follows never points at rows that a power cut could lose.
        """
        for rows in pages:
            if rows.ndim != 2 or rows.shape[1] != self.dim:
                raise ValueError(f"expected rows of shape (n, {self.dim}), got {rows.shape}")
        data = np.ascontiguousarray(np.concatenate(pages), dtype=_DTYPE).tobytes()
        segment = self._last_segment()
        path = self._path(segment)
        size = path.stat().st_size if path.exists() else 0
        if size and size + len(data) > SEGMENT_BYTES:
            segment += 1
            path, size = self._path(segment), 0
        # Rows start at a whole-row boundary even if an interrupted append left a partial row.
        start_row = -(-size // self._row_bytes)
        creating = not path.exists()
        try:
            with open(path, "ab") as handle:
                padding = start_row * self._row_bytes - size
                if padding:
                    handle.write(b"\0" * padding)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if creating:
                _fsync_folder(self.folder)
        except OSError as exc:
            raise LibraryError(
                f"Could not write page vectors to {self.folder}: {describe_os_error(exc)}.",
                details=repr(exc),
            ) from exc
        placed = []
        for rows in pages:
            placed.append((segment, start_row))
            start_row += len(rows)
        return placed

    @staticmethod
    def as_stored(rows: np.ndarray) -> np.ndarray:
        """``rows`` rounded as :meth:`append` stores them: float16, same shape."""
        return np.asarray(rows, dtype=_DTYPE)

    def rows(self, segment: int, start: int, count: int) -> np.ndarray:
        """A read-only float16 view, shape (count, dim), of rows stored by :meth:`append`."""
        mapped = self._map(segment, start + count)
        return mapped[start : start + count]

    def prefetch(self, ranges: Iterable[tuple[int, int, int]]) -> None:
        """Ask the OS to start reading row ranges, each (segment, start, count), all at once.

        Rows that are not in the page cache are otherwise read one page fault at a time, in
        order; a rerank of 32 pages from disk then waits for each in turn. A hint only: ignored
        where the platform has no ``madvise``.
        """
        if not hasattr(mmap, "MADV_WILLNEED"):
            return
        for segment, start, count in ranges:
            handle = getattr(self._map(segment, start + count), "_mmap", None)
            if handle is None:
                continue
            first = start * self._row_bytes // mmap.PAGESIZE * mmap.PAGESIZE
            handle.madvise(mmap.MADV_WILLNEED, first, (start + count) * self._row_bytes - first)

    def _map(self, segment: int, needed_rows: int) -> np.memmap:
        mapped = self._maps.get(segment)
        if mapped is None or mapped.shape[0] < needed_rows:
            path = self._path(segment)
            try:
                n_rows = path.stat().st_size // self._row_bytes
            except OSError as exc:
                raise MissingVectorsError(f"Page vectors are missing from {self.folder}.") from exc
            if n_rows < needed_rows:
                raise LibraryError(
                    f"Page vectors in {path.name} are shorter than the catalog says.",
                    details=f"{n_rows} rows on disk, {needed_rows} needed",
                )
            mapped = np.memmap(path, dtype=_DTYPE, mode="r", shape=(n_rows, self.dim))
            self._maps[segment] = mapped
        return mapped

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("segment-*.f16"))

    @property
    def row_bytes(self) -> int:
        """Bytes one stored row takes: ``dim`` float16 values."""
        return self._row_bytes

    def segment_sizes(self) -> dict[int, int]:
        """The size in bytes of every segment file, by segment number."""
        sizes = {}
        for path in self.folder.glob("segment-*.f16"):
            try:
                sizes[int(path.stem.split("-")[1])] = path.stat().st_size
            except (OSError, ValueError):  # deleted since the listing, or not a name we write
                continue
        return sizes

    def copy_to_new_segments(
        self, ranges: Sequence[tuple[int, int, int]], copied: Callable[[int], None] | None = None
    ) -> tuple[range, list[tuple[int, int]]]:
        """Copy row ranges, each (segment, first row, count), in order into new segment files
        numbered above every existing one; returns the new files' numbers and (segment, first
        row) of each copy.

        The new files are durable (data and directory entries fsync'ed) when this returns, and
        nothing points into them until the caller commits that. ``copied`` is called with the
        bytes copied so far after each range; whatever it raises (Cancelled) stops the copy.
        On any failure every new file is deleted before the error propagates; a failed write
        raises :class:`LibraryError`. At least one file is created, empty if ``ranges`` is, so
        that segment numbers only ever grow: a number used again for other rows would let a
        reader's cached map of the deleted file serve the wrong vectors. The writer lock must
        be held.
        """
        first = segment = max(self.segment_sizes(), default=0) + 1
        created: list[Path] = []
        placed: list[tuple[int, int]] = []
        done = 0
        handle = None
        try:
            handle, rows_in = self._create(segment, created), 0
            for source, start, count in ranges:
                data = self.rows(source, start, count).tobytes()
                if rows_in and rows_in * self._row_bytes + len(data) > SEGMENT_BYTES:
                    _close_durably(handle)
                    segment += 1
                    handle, rows_in = self._create(segment, created), 0
                handle.write(data)
                placed.append((segment, rows_in))
                rows_in += count
                done += len(data)
                if copied is not None:
                    copied(done)
            _close_durably(handle)
            handle = None
            _fsync_folder(self.folder)
        except BaseException as exc:
            if handle is not None:
                handle.close()
            for path in created:
                path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise LibraryError(
                    f"Could not copy page vectors in {self.folder}: {describe_os_error(exc)}.",
                    details=repr(exc),
                ) from exc
            raise
        return range(first, segment + 1), placed

    def _create(self, segment: int, created: list[Path]) -> BinaryIO:
        path = self._path(segment)
        handle = open(path, "xb")  # noqa: SIM115 (closed by the caller, durably)
        created.append(path)
        return handle

    def delete_segments(self, segments: Iterable[int]) -> list[int]:
        """Delete segment files that nothing in the catalog points into any more; returns those
        that could not be deleted, left for the next compaction (Windows refuses to delete a
        file another process has mapped). The writer lock must be held: a file that looks
        unused may be where an append is going.

        Readers elsewhere that still map a deleted file keep reading it (POSIX frees it when
        the last map closes); one that opens it afterwards gets :class:`MissingVectorsError`.
        """
        kept = []
        for segment in segments:
            self._maps.pop(segment, None)  # our own map would keep the file (on Windows, refuse it)
            try:
                self._path(segment).unlink(missing_ok=True)
            except OSError:
                kept.append(segment)
        # Not fsync'ed: a deletion a power cut undoes only brings back a file nothing points to.
        return kept

    def release_maps(self, keep: Collection[int]) -> None:
        """Forget the maps of segments other than ``keep`` (the ones the catalog points into):
        a compaction elsewhere may have deleted them, and a map holds a deleted file's disk
        space (on Windows, the file itself) until it is closed. Rows already handed out stay
        readable: they hold their own reference to the map."""
        for segment in list(self._maps):
            if segment not in keep:
                self._maps.pop(segment, None)

    def close(self) -> None:
        self._maps.clear()


def _close_durably(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _fsync_folder(folder: Path) -> None:
    """Make a new file's directory entry durable (POSIX); Windows has no directory fsync."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
