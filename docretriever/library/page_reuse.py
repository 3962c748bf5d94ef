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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from docretriever.embedding.base import page_cells
from docretriever.errors import LibraryError
from docretriever.storage.catalog import Catalog, PageRecord

if TYPE_CHECKING:
    from docretriever.library.local import LocalLibrary


def content_hash(image: Image.Image) -> str:
    """The SHA-256 (64 lowercase hex digits) of ``image`` as the model would be given it: its
    mode, its size in pixels and its raw pixel bytes. The same pixels at another size or in
    another mode hash differently (they are another model input)."""
    digest = hashlib.sha256()
    width, height = image.size
    # Separators: the header can never run into the pixel bytes and read as another header.
    digest.update(f"{image.mode}\0{width}\0{height}\0".encode("ascii"))
    digest.update(image.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ReusedPage:
    """A rendered page that is not embedded: ``content`` (its hash) names rows already stored
    for the same picture, or rows a page embedded earlier in the same ingest will have."""

    page: PageRecord
    renderer: str  # what drew it this time ("mupdf" or "poppler")
    content: str


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


def store_reused(library: LocalLibrary, pages: Sequence[ReusedPage]) -> None:
    """Mark ``pages`` indexed on the rows stored for their content, in one catalog commit, and
    add them to the search index from those rows as stored (writer lock held).

    Raises :class:`LibraryError` if a hash is no longer found: the rows were moved under a
    running ingest, which the writer lock rules out.
    """
    if not pages:
        return
    # Load (or rebuild) the index before the commit, as LocalPageStore.store_pages does, or a
    # rebuild would already hold these pages and they would be added twice.
    candidates = library.candidates
    found = library.catalog.vectors_by_content(page.content for page in pages)
    lost = [page.page.index + 1 for page in pages if page.content not in found]
    if lost:
        raise LibraryError(
            "The stored vectors of unchanged pages moved while they were being reused; add the files again.",
            details=f"pages {lost} of document {pages[0].page.document_id}",
        )
    library.catalog.store_pages(
        [(page.page.id, *found[page.content][:4], page.renderer, found[page.content][4]) for page in pages],
        [page.content for page in pages],
    )
    for page in pages:
        grid, n_rows, segment, offset, packed = found[page.content]
        cell_rows = None if packed is None else np.frombuffer(packed, dtype="<i2")
        # The rows as stored (float16), as LocalPageStore._reconcile would add them.
        cells = page_cells(library.store.rows(segment, offset, n_rows), grid[0] * grid[1], cell_rows)
        candidates.add_page(page.page.id, cells, grid)
