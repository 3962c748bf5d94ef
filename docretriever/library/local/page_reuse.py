"""Unchanged pages keep their vectors: an edited file costs only the pages that changed.

A page is known by the SHA-256 of its picture exactly as rendered for the model (image mode,
width, height and raw pixel bytes). The same picture at the same size is the same model input,
so the vectors stored for it are what embedding it again would give: a metadata-only save, a
file renamed, restored or removed and added back re-embeds nothing. A hash of the PDF's content
streams would miss edits that change nothing in them (a font or image resource swapped) and
would differ for pages that draw the same (rewritten streams); the pixels are what the model
sees. Hashing a page of 768 cells takes about 3 ms on a CPU core, rendering it about 16 ms
(measured on GeoTopo's pages), embedding it far more.

Vectors are found on any indexed page of the library (another document, another version of
the same file) or in the catalog's spare_vectors, where the rows of pages that left the
library wait for the next compaction (see :meth:`Catalog.remove_document`). A reused page
points at the very same rows: nothing is copied, so several pages may share a row range.

Rows found stay where they are for the whole ingest: the writer lock is held throughout, and
only a compaction (which takes it too) moves or drops rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docretriever.embedding.base import page_cells
from docretriever.errors import LibraryError
from docretriever.library.ingest import ReusedPage
from docretriever.library.local.store import LocalPageStore
from docretriever.storage.catalog import Catalog, PageRecord


class ReuseFinder:
    """Decides, on the rendering thread, which rendered pages need no embedding.

    A page needs none when its content hash is stored already, or when a page with the same
    hash was sent for embedding earlier in this ingest (in this batch or an earlier one):
    batches are stored in order, so that page's rows are committed by the time this one is
    stored. Two identical pages are thus embedded once, whatever the batch boundaries.

    With ``enabled`` False (a re-index, which is asked to embed again) nothing is reused.
    """

    def __init__(self, catalog: Catalog, enabled: bool = True) -> None:
        self.catalog = catalog
        self.enabled = enabled
        self._sent: set[str] = set()  # hashes of pages sent for embedding in this ingest

    def plan(self, contents: Sequence[str | None]) -> list[bool]:
        """For each page's hash (None: the page did not render), whether to reuse stored rows
        (True) rather than embed it (False)."""
        if not self.enabled:
            return [False] * len(contents)
        unseen = {content for content in contents if content is not None and content not in self._sent}
        stored = self.catalog.vectors_by_content(unseen).keys() if unseen else set()
        reuse = []
        for content in contents:
            if content is None:
                reuse.append(False)
            elif content in self._sent or content in stored:
                reuse.append(True)
            else:
                self._sent.add(content)
                reuse.append(False)
        return reuse


def store_reused(library: LocalPageStore, reused: Sequence[tuple[PageRecord, ReusedPage]]) -> None:
    """Mark pages indexed on the rows stored for their content, in one catalog commit, and add
    them to the search index from those rows as stored (writer lock held). ``reused``: each
    page's catalog record with what the ingest found (its content hash and renderer).

    Raises :class:`LibraryError` if a hash is no longer found: the rows were moved under a
    running ingest, which the writer lock rules out.
    """
    if not reused:
        return
    # Load (or rebuild) the index before the commit, as LocalPageStore.store_pages does, or a
    # rebuild would already hold these pages and they would be added twice.
    candidates = library.candidates
    found = library.catalog.vectors_by_content(page.content for _, page in reused)
    lost = [record.index + 1 for record, page in reused if page.content not in found]
    if lost:
        raise LibraryError(
            "The stored vectors of unchanged pages moved while they were being reused; add the files again.",
            details=f"pages {lost} of document {reused[0][0].document_id}",
        )
    library.catalog.store_pages(
        [
            (record.id, *found[page.content][:4], page.renderer, found[page.content][4])
            for record, page in reused
        ],
        [page.content for _, page in reused],
    )
    for record, page in reused:
        grid, n_rows, segment, offset, packed = found[page.content]
        cell_rows = None if packed is None else np.frombuffer(packed, dtype="<i2")
        # The rows as stored (float16), as LocalPageStore._reconcile would add them.
        cells = page_cells(library.store.rows(segment, offset, n_rows), grid[0] * grid[1], cell_rows)
        candidates.add_page(record.id, cells, grid)
