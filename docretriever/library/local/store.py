"""The pages of a local library on disk: the catalog, the float16 vector store and the search
index, kept in step; what :class:`~docretriever.library.local.LocalLibrary` is built on.

Writes go vectors first (durable), then the catalog commit, then the index, under the writer
lock; the index is reconciled with the catalog whenever the catalog changed (here, in another
process, or before a crash).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from docretriever.documents.pdf import PageInfo
from docretriever.embedding.base import PageEmbedding, page_cells
from docretriever.embedding.token_pooling import check_pool_factor, pool_pages
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.library.embedding_library import EmbeddingLibrary
from docretriever.library.like import PageQuery, cell_query_rows, check_page_number, not_indexed, page_query
from docretriever.library.local.lock import WriterLock
from docretriever.library.references import single_match
from docretriever.search.candidates import CandidateIndex
from docretriever.storage.catalog import INDEXED, Catalog, DocumentRecord, PageRecord
from docretriever.storage.vectors import VectorStore


class LocalPageStore(EmbeddingLibrary):
    """A local library's pages in ``folder``: :meth:`open_pages` first (the library's
    constructor calls it). ``writer`` is the lock every change holds."""

    def open_pages(self, folder: Path, token_pooling: int | None, token_pooling_for_new: int) -> None:
        """Open (or create) the catalog in ``folder`` and settle the token-pooling factor (see
        :class:`~docretriever.library.local.LocalLibrary`)."""
        self.folder = folder
        self.catalog = Catalog(folder / "catalog.sqlite3")
        self.writer = WriterLock(folder)
        self._store: VectorStore | None = None
        self._candidates: CandidateIndex | None = None
        self._page_cache: tuple[tuple[int, int], dict[int, PageRecord]] | None = None
        self._candidates_version: tuple[int, int] | None = None
        self.token_pool_factor = self._pool_factor(token_pooling, token_pooling_for_new)

    def close_pages(self) -> None:
        if self._store is not None:
            self._store.close()
        self.catalog.close()

    def _pool_factor(self, requested: int | None, for_new: int) -> int:
        """The factor asked for, checked against what the library holds. Recorded only when
        pages are first stored (:meth:`_settled_pool_factor`), under the writer lock."""
        recorded = self.catalog.get_meta("token_pool_factor")
        if requested is not None:
            check_pool_factor(requested)
        elif recorded is None and check_pool_factor(for_new) > 1:
            requested = 1 if self._holds_pages() else for_new
        if recorded is not None:
            if requested is not None and requested != int(recorded):
                raise InvalidInputError(
                    f"This library pools page vectors by {recorded}, not {requested}: the factor is "
                    "chosen when a library is created. Use another library folder for this one."
                )
            return int(recorded)
        if requested is None or requested == 1:
            return 1
        if self._holds_pages():
            raise InvalidInputError(
                "This library already holds pages without token pooling; the factor is chosen "
                "when a library is created. Use a new library folder for a pooled library."
            )
        return requested

    def _holds_pages(self) -> bool:
        return bool(self.catalog.counts().get("pages_indexed", 0))

    def _settled_pool_factor(self) -> int:
        """The library's factor, recorded by the first write (writer lock held): another
        process may have opened the same new library with another factor and stored first."""
        recorded = self.catalog.get_meta("token_pool_factor")
        if recorded is None:
            self.catalog.set_meta("token_pool_factor", str(self.token_pool_factor))
        elif int(recorded) != self.token_pool_factor:
            raise InvalidInputError(
                f"This library pools page vectors by {recorded}, not {self.token_pool_factor}: "
                "another program set it up first. Open the library again."
            )
        return self.token_pool_factor

    def stored_dim(self) -> int | None:
        value = self.catalog.get_meta("dim")
        return int(value) if value else None

    # --- storage -----------------------------------------------------------------------------

    @property
    def store(self) -> VectorStore:
        with self._load_lock:
            if self._store is None:
                dim = self.stored_dim() or self.embedder.identity.dim
                self._store = VectorStore(self.folder / "vectors", dim)
            return self._store

    @property
    def candidates(self) -> CandidateIndex:
        """The search index, in step with the catalog.

        Loaded from disk once, then reconciled whenever the catalog has changed since (here or
        in another process, or before a crash): pages it lacks are added from their stored
        vectors, pages no longer indexed are removed. A missing or unreadable file is rebuilt
        the same way.
        """
        with self._load_lock:
            if self._candidates is None:
                self._candidates = CandidateIndex(self.folder / "index.usearch", self.store.dim)
                if self._candidates.load() and self._candidates.dirty:
                    self._save_if_no_writer(self._candidates)  # converted from an older layout
                self._candidates_version = None
            version = self.catalog.version()
            if version != self._candidates_version:
                self._reconcile(self._candidates)
                self._candidates_version = version
            return self._candidates

    def _reconcile(self, index: CandidateIndex) -> None:
        pages = self.indexed_pages()
        held = index.page_ids()
        missing = [page for page_id, page in pages.items() if page_id not in held]
        extra = held - pages.keys()
        for page_id in extra:
            index.remove_page(page_id)
        for page in missing:
            index.add_page(page.id, self.page_cells(page), page.grid or (0, 0))
        if missing or extra:
            self._save_if_no_writer(index)

    def retrain_codebook(self) -> bool:
        """Train the search codebook again on every page held now (see
        :meth:`CandidateIndex.retrain`: searches go on meanwhile) and save the index unless
        someone is writing (a running ingest saves it when it finishes). False when the library
        is too small for a codebook."""
        index = self.candidates
        if not index.retrain():
            return False
        self._save_if_no_writer(index)
        return True

    def _save_if_no_writer(self, index: CandidateIndex) -> None:
        """Save a rebuilt index unless someone else is writing: a reader must never wait for or
        fail on a running ingest, which saves the index itself when it finishes."""
        try:
            with self.writer:
                index.save()
        except LibraryError:
            pass

    def page_rows(self, page: PageRecord) -> np.ndarray:
        location = stored_location(page)
        if location is None:
            raise LibraryError(f"Page {page.index + 1} has no stored vectors.")
        return self.store.rows(*location)

    def prefetch_pages(self, pages: Sequence[PageRecord]) -> None:
        self.store.prefetch(location for location in map(stored_location, pages) if location is not None)

    def page_cells(self, page: PageRecord) -> np.ndarray:
        n_x, n_y = page.grid or (0, 0)
        cell_rows = None if page.cell_rows is None else np.frombuffer(page.cell_rows, dtype="<i2")
        return page_cells(self.page_rows(page), n_x * n_y, cell_rows)

    def store_pages(
        self,
        pages: Sequence[PageRecord],
        embeddings: Sequence[PageEmbedding],
        renderers: Sequence[str],
        contents: Sequence[str | None] | None = None,
    ) -> None:
        """Vectors first (durable), then the catalog commit, then the index (writer lock held).
        ``contents``: each page's content hash, so that its vectors can serve that picture
        again (see :mod:`~docretriever.library.local.page_reuse`); None where unknown (imports)."""
        # Load (or rebuild) the index before the commit, or the rebuild would already hold the
        # pages added below and they would be added twice.
        candidates = self.candidates
        embeddings = pool_pages(embeddings, self._settled_pool_factor())
        placed = self.store.append_batch([embedding.vectors for embedding in embeddings])
        self.catalog.store_pages(
            [
                (
                    page.id,
                    embedding.grid,
                    len(embedding.vectors),
                    segment,
                    offset,
                    renderer,
                    packed_cell_rows(embedding),
                )
                for page, embedding, (segment, offset), renderer in zip(
                    pages, embeddings, placed, renderers, strict=True
                )
            ],
            contents,
        )
        for page, embedding in zip(pages, embeddings, strict=True):
            # Pooled from the vectors as stored, so that an index rebuilt from the store later
            # holds the very same centroids.
            cells = self.store.as_stored(embedding.cells())
            candidates.add_page(page.id, cells, embedding.grid)

    def forget(self, document: DocumentRecord, *, keep_document: bool = False) -> None:
        """Delete a document's pages from the catalog and the index (writer lock held), and the
        document itself unless ``keep_document`` (then it stays, pending, with its paths).

        Where their vectors are stays known (spare vectors, until the next compaction), in the
        same commit: the same pages coming back are not embedded again (see
        :mod:`~docretriever.library.local.page_reuse`)."""
        pages = self.catalog.pages(document.id, INDEXED)
        # Load the index before the catalog changes, so that it is reconciled against the
        # catalog as it was and the pages removed below are really in it.
        candidates = self.candidates if pages else None
        if keep_document:
            self.catalog.reset_pages(document.id, keep_vectors=True)
        else:
            self.catalog.remove_document(document.id, keep_vectors=True)
        if candidates is not None:
            for page in pages:
                candidates.remove_page(page.id)
            candidates.save()

    def save_index_if_changed(self) -> None:
        """Save the search index if it was loaded and changed since it was last saved (writer
        lock held); never loads it (which would need the model for a library still empty)."""
        if self._candidates is not None and self._candidates.dirty:
            self._candidates.save()

    def add_embedded_pages(
        self,
        sha256: str,
        path: str,
        pages: Sequence[tuple[PageInfo, PageEmbedding]],
        *,
        save_index: bool = True,
        also_at: Sequence[str] = (),
        size: int = 0,
        note: str | None = None,
    ) -> DocumentRecord:
        """Store a document whose pages were embedded elsewhere (an import, a benchmark).

        The embeddings must come from this library's model (``dim`` rows, cells first as in
        :class:`PageEmbedding`). ``also_at``: the document's other paths; ``size``: its file's
        size in bytes; ``note``: what its status note said there (pages that could not be
        indexed). ``save_index=False`` leaves the index unsaved for bulk loads; call
        ``candidates.save()`` at the end.
        """
        with self.writer:
            for place in (path, *also_at):
                document_id, _ = self.catalog.attach_file(sha256, size, place, 0.0)
            self.catalog.set_pages(document_id, [info for info, _ in pages])
            records = self.catalog.pages(document_id)
            self.store_pages(records, [embedding for _, embedding in pages], ["imported"] * len(pages))
            self.catalog.set_document_status(document_id, INDEXED, note)
            if save_index:
                self.candidates.save()
            return self.catalog.document(document_id)

    def find_document(self, reference: str) -> DocumentRecord:
        """The document whose doc id starts with ``reference`` or that has this path; an
        InvalidInputError that says why when none or several do."""
        matches = self.catalog.find_documents(reference)
        if not matches:
            absolute = os.path.abspath(Path(reference).expanduser())
            matches = self.catalog.find_documents(absolute) if absolute != reference else []
        return single_match(reference, matches, self.catalog.documents)

    def page_query(self, reference: str, page: int) -> PageQuery:
        document = self.find_document(reference)
        check_page_number(document, page)
        found = [record for record in self.catalog.pages(document.id) if record.index == page - 1]
        if not found or found[0].status != INDEXED or found[0].n_rows is None:
            raise not_indexed(document, page, found[0].error if found else None)
        record = found[0]
        n_x, n_y = record.grid or (0, 0)
        cell_rows = None if record.cell_rows is None else np.frombuffer(record.cell_rows, dtype="<i2")
        cells = cell_query_rows(self.page_rows(record), n_x * n_y, cell_rows)
        # Stages one and two read the centroids the index keeps for the page (pooled from these
        # very cells when it was stored).
        return page_query(document, page, record.label, cells, self.candidates.centroids(record.id))

    def indexed_pages(self) -> dict[int, PageRecord]:
        """Every indexed page by id, cached until the catalog changes (in any process)."""
        version = self.catalog.version()
        if self._page_cache is None or self._page_cache[0] != version:
            pages = {page.id: page for page in self.catalog.pages(status=INDEXED)}
            self._page_cache = (version, pages)
            if self._store is not None:
                # A compaction elsewhere may have deleted files mapped here: unmapped, they free
                # their disk space (and on Windows can be deleted by the next compaction).
                self._store.release_maps({p.segment for p in pages.values() if p.segment is not None})
        return self._page_cache[1]

    def rows_reader(self, pages: dict[int, PageRecord]) -> Callable[[int], np.ndarray]:
        return lambda page_id: self.page_rows(pages[page_id])


def packed_cell_rows(embedding: PageEmbedding) -> bytes | None:
    """A pooled page's ``cell_rows`` as the catalog keeps them: int16, half the bytes of int32
    for the 768 cells of a default page."""
    if embedding.cell_rows is None:
        return None
    if len(embedding.vectors) > np.iinfo(np.int16).max:
        raise InvalidInputError(
            f"A page has {len(embedding.vectors)} pooled vectors; pooled pages can hold at most 32,767. "
            "Use a smaller visual-token budget."
        )
    return embedding.cell_rows.astype("<i2").tobytes()


def stored_location(page: PageRecord) -> tuple[int, int, int] | None:
    """Where a page's rows are stored: (segment, first row, row count); None if nowhere yet."""
    if page.segment is None or page.row_offset is None or page.n_rows is None:
        return None
    return page.segment, page.row_offset, page.n_rows
