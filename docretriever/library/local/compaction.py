"""Compaction: reclaiming the disk space of vectors no page uses any more.

Vectors are only ever appended (see :mod:`docretriever.storage.vectors`), so the rows of removed
documents, of old versions of changed files and of spare vectors (kept for reuse until now) stay
in the segment files until a compaction, in three steps:

1. copy every distinct row range an indexed page points into (several pages may share one) into
   new segment files, numbered above every existing one, and make them durable;
2. one catalog transaction points every page at its copy and forgets the spare vectors;
3. delete the old segment files.

A crash before the commit leaves new files nothing points into; after it, old ones. Either way
every page's vectors are where the catalog says, bit for bit, so searches are unchanged, and the
leftovers are deleted by the next compaction (or by :func:`remove_leftovers`, which runs after
every add and remove). A search elsewhere that read its page records before the commit and
opens an old file after step 3 reads its records again (``LocalLibrary.search_embedding``).

Everything here runs under the writer lock: a file that looks unused may be where an append is
going. The search index is untouched: it is keyed by page id and holds pooled centroids, which
a move does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docretriever.progress import CancelToken, ProgressCallback, RateMeter
from docretriever.storage.catalog import Catalog
from docretriever.storage.vectors import VectorStore
from docretriever.vocabulary import CompactReport

# compact_if_worthwhile compacts once unused bytes are this share of the store, and at least
# LocalLibrary.auto_compact_min_bytes: rewriting the store is then paid back by the space it
# frees, and a small library is not rewritten after every removal.
AUTO_COMPACT_SHARE = 0.5
AUTO_COMPACT_MIN_BYTES = 64 * 1024 * 1024

NOTHING_TO_RECLAIM = "Nothing to reclaim: every stored vector belongs to a page in the library."


@dataclass(frozen=True)
class StoreUsage:
    """The vector store's size on disk, and how much of it indexed pages use, in bytes."""

    store_bytes: int
    live_bytes: int

    @property
    def unused_bytes(self) -> int:
        return max(0, self.store_bytes - self.live_bytes)

    def worth_compacting(self, min_bytes: int) -> bool:
        """Whether the unused bytes are at least AUTO_COMPACT_SHARE of the store and ``min_bytes``."""
        unused = self.unused_bytes
        return unused > 0 and unused >= min_bytes and unused >= AUTO_COMPACT_SHARE * self.store_bytes


def usage(catalog: Catalog, store: VectorStore) -> StoreUsage:
    """How much of the store indexed pages use; each shared row range counts once."""
    return StoreUsage(sum(store.segment_sizes().values()), catalog.live_rows() * store.row_bytes)


def compact(
    catalog: Catalog, store: VectorStore, progress: ProgressCallback, cancel: CancelToken
) -> CompactReport:
    """Copy the vectors in use into new files, commit, delete the old files (see the module).

    Reports ``Progress("Compacting", bytes copied, bytes to copy, "bytes")``. ``cancel`` is
    honoured until the commit: :class:`~docretriever.errors.Cancelled` then leaves the library
    as it was, the new files deleted. A failed write raises LibraryError, also changing nothing.
    The writer lock must be held.
    """
    cancel.raise_if_cancelled()
    locations = catalog.vector_locations()
    ranges = _live_ranges(locations)
    sizes = store.segment_sizes()
    before, live = sum(sizes.values()), _bytes(ranges, store)
    if before <= live:
        return CompactReport(before, before, note=NOTHING_TO_RECLAIM)
    meter = RateMeter("Compacting", live, progress, "bytes")
    meter.report(0)

    def copied(done: int) -> None:
        meter.report(done)
        cancel.raise_if_cancelled()

    new, placed = store.copy_to_new_segments(ranges, copied)
    copies = dict(zip(ranges, placed, strict=True))
    moves = [(page, segment, row, *copies[segment, row, count]) for page, segment, row, count in locations]
    try:
        cancel.raise_if_cancelled()
        catalog.relocate_vectors(moves, new.start)
    except BaseException:
        # Not committed, so nothing points into the new files: delete them. (Checked all the
        # same: deleting files a commit that did go through points into would lose pages.)
        if not catalog.referenced_segments() & set(new):
            store.delete_segments(new)
        raise
    # Committed: nothing points into any older file now, leftovers of earlier crashes included.
    kept = store.delete_segments(sorted(sizes))
    note = None
    if kept:
        note = (
            f"{len(kept)} old vector file{'s are' if len(kept) > 1 else ' is'} still open in another "
            "program and could not be deleted yet; the next compaction deletes "
            f"{'them' if len(kept) > 1 else 'it'}."
        )
    return CompactReport(before, sum(store.segment_sizes().values()), len(moves), note)


def remove_leftovers(catalog: Catalog, store: VectorStore) -> int:
    """Delete the segment files that neither a page nor a spare vector points into: those a
    crashed compaction left, or whose pages were all removed. Returns the bytes freed.

    The newest file always stays, used or not: appends go to it, and deleting it would let the
    next one take its number again (see VectorStore.copy_to_new_segments). The writer lock
    must be held.
    """
    sizes = store.segment_sizes()
    if not sizes:
        return 0
    referenced = catalog.referenced_segments()
    unused = [segment for segment in sorted(sizes)[:-1] if segment not in referenced]
    kept = set(store.delete_segments(unused))
    return sum(sizes[segment] for segment in unused if segment not in kept)


def _live_ranges(locations: Sequence[tuple[int, int, int, int]]) -> list[tuple[int, int, int]]:
    """The distinct (segment, first row, count) of pages' (page id, segment, first row, count),
    in file order, so that the copy reads each old file front to back."""
    return sorted({(segment, row, count) for _, segment, row, count in locations})


def _bytes(ranges: Sequence[tuple[int, int, int]], store: VectorStore) -> int:
    return sum(count for _, _, count in ranges) * store.row_bytes
