"""The local library: SQLite catalog, memory-mapped float16 vectors and a USearch index in one
folder on this computer."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from docretriever.documents.pdf import PageInfo, open_pdf_or_none
from docretriever.documents.render import RenderedPage, render_page
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding import Embedder, ModelSpec
from docretriever.embedding.base import ModelIdentity, PageEmbedding, QueryEmbedding, page_cells
from docretriever.embedding.token_pooling import check_pool_factor, pool_pages
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.library.base import AddReport, EmbeddingLibrary, LibraryInfo, single_match
from docretriever.library.hits import Hit
from docretriever.library.ingest import add_paths
from docretriever.library.lock import WriterLock
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
from docretriever.search.candidates import CandidateIndex
from docretriever.search.maxsim import similarity_map
from docretriever.search.ranking import exact_top_k, two_stage_top_k
from docretriever.storage.catalog import INDEXED, Catalog, DocumentRecord, PageRecord
from docretriever.storage.vectors import VectorStore


class LocalLibrary(EmbeddingLibrary):
    """A library in ``folder`` (created if missing, unless ``create`` is False). The model in
    ``model`` is loaded on first use (``add`` or ``search``), or pass a ready ``embedder``
    (tests, the GUI's shared model). ``renderer`` replaces the default render workers.

    ``token_pooling`` pools each page's cell vectors by that factor at ingest (see
    :mod:`~docretriever.embedding.token_pooling`). It is chosen when a library is created and
    recorded in it; None keeps what the library recorded, and asking an existing library for
    another factor is an error. ``token_pooling_for_new`` is a preference instead (the GUI's):
    it applies to a library that holds no pages and records no factor, and is otherwise ignored."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        model: ModelSpec | None = None,
        *,
        embedder: Embedder | None = None,
        renderer: RenderPool | None = None,
        progress: ProgressCallback | None = None,
        create: bool = True,
        token_pooling: int | None = None,
        token_pooling_for_new: int = 1,
    ) -> None:
        self.folder = Path(os.path.abspath(Path(folder).expanduser()))
        if not create and not (self.folder / "catalog.sqlite3").exists():
            raise LibraryError(
                f"There is no library at {self.folder} yet; add documents to it first "
                "(`docretriever add`), or check the --library folder."
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"Cannot create the library folder {self.folder}: {exc.strerror}.") from exc
        self.catalog = Catalog(self.folder / "catalog.sqlite3")
        self._set_up_model(model, embedder, renderer, progress)
        self._writer = WriterLock(self.folder)
        self._store: VectorStore | None = None
        self._candidates: CandidateIndex | None = None
        self._page_cache: tuple[tuple[int, int], dict[int, PageRecord]] | None = None
        self._candidates_version: tuple[int, int] | None = None
        self.token_pool_factor = self._pool_factor(token_pooling, token_pooling_for_new)
        if embedder is not None:
            self._check_identity(embedder.identity)

    # --- model -------------------------------------------------------------------------------

    @property
    def max_pixels(self) -> int:
        return self.embedder.max_pixels

    def _check_identity(self, identity: ModelIdentity) -> None:
        self.catalog.record_model(
            {
                "model_id": identity.model_id,
                "model_revision": identity.revision,
                "model_fingerprint": identity.fingerprint,
                "dim": str(identity.dim),
            }
        )
        if self._recorded_model_is_legacy(self.catalog.get_meta, identity, "another library folder"):
            # Built before fingerprints named the weights only: record the new form. Best effort,
            # never a wait: skipped while another task writes (an ingest holds the writer lock) or
            # on read-only storage (OSError: no lock file); the library opens all the same.
            with contextlib.suppress(LibraryError, OSError), self._writer:
                old, new = identity.legacy_fingerprint or "", identity.fingerprint
                self.catalog.replace_meta("model_fingerprint", old, new)

    def identity(self) -> ModelIdentity | None:
        """The model recorded in the library, if any."""
        meta = self.catalog.get_meta
        fingerprint, dim = meta("model_fingerprint"), self._dim()
        if fingerprint is None or dim is None:
            return None
        return ModelIdentity(meta("model_id") or "", meta("model_revision") or "", fingerprint, dim)

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

    def _dim(self) -> int | None:
        value = self.catalog.get_meta("dim")
        return int(value) if value else None

    # --- storage -----------------------------------------------------------------------------

    @property
    def store(self) -> VectorStore:
        with self._load_lock:
            if self._store is None:
                dim = self._dim() or self.embedder.identity.dim
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
            index.add_page(page.id, self._cells(page), page.grid or (0, 0))
        if missing or extra:
            self._save_if_no_writer(index)

    def _save_if_no_writer(self, index: CandidateIndex) -> None:
        """Save a rebuilt index unless someone else is writing: a reader must never wait for or
        fail on a running ingest, which saves the index itself when it finishes."""
        try:
            with self._writer:
                index.save()
        except LibraryError:
            pass

    def _rows(self, page: PageRecord) -> np.ndarray:
        location = _location(page)
        if location is None:
            raise LibraryError(f"Page {page.index + 1} has no stored vectors.")
        return self.store.rows(*location)

    def _prefetch(self, pages: Sequence[PageRecord]) -> None:
        self.store.prefetch(location for location in map(_location, pages) if location is not None)

    def _cells(self, page: PageRecord) -> np.ndarray:
        n_x, n_y = page.grid or (0, 0)
        cell_rows = None if page.cell_rows is None else np.frombuffer(page.cell_rows, dtype="<i2")
        return page_cells(self._rows(page), n_x * n_y, cell_rows)

    def _store_pages(
        self, pages: Sequence[PageRecord], embeddings: Sequence[PageEmbedding], renderers: Sequence[str]
    ) -> None:
        """Vectors first (durable), then the catalog commit, then the index (writer lock held)."""
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
                    _packed(embedding),
                )
                for page, embedding, (segment, offset), renderer in zip(
                    pages, embeddings, placed, renderers, strict=True
                )
            ]
        )
        for page, embedding in zip(pages, embeddings, strict=True):
            # Pooled from the vectors as stored, so that an index rebuilt from the store later
            # holds the very same centroids.
            cells = self.store.as_stored(embedding.cells())
            candidates.add_page(page.id, cells, embedding.grid)

    def add_embedded_pages(
        self,
        sha256: str,
        path: str,
        pages: Sequence[tuple[PageInfo, PageEmbedding]],
        *,
        save_index: bool = True,
    ) -> DocumentRecord:
        """Store a document whose pages were embedded elsewhere (an import, a benchmark).

        The embeddings must come from this library's model (``dim`` rows, cells first as in
        :class:`PageEmbedding`). ``save_index=False`` leaves the index unsaved for bulk loads;
        call ``candidates.save()`` at the end.
        """
        with self._writer:
            document_id, _ = self.catalog.attach_file(sha256, 0, path, 0.0)
            self.catalog.set_pages(document_id, [info for info, _ in pages])
            records = self.catalog.pages(document_id)
            self._store_pages(records, [embedding for _, embedding in pages], ["imported"] * len(pages))
            self.catalog.set_document_status(document_id, INDEXED)
            if save_index:
                self.candidates.save()
            return self.catalog.document(document_id)

    # --- the Library interface ---------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        with self._writer:
            self.candidates.remove_leftovers()
            return add_paths(self, paths, progress or ignore_progress, cancel or CancelToken())

    def search(self, query: str, k: int = 10, *, exact: bool = False) -> list[Hit]:
        if not query.strip():
            raise InvalidInputError("Type something to search for.")
        if k < 1:
            raise InvalidInputError("The number of results must be at least 1.")
        if not self.indexed_pages():
            return []
        return self.search_embedding(self.embedder.embed_queries([query])[0], k, exact=exact)

    def search_embedding(
        self, query: QueryEmbedding, k: int = 10, *, exact: bool = False, rerank: int | None = None
    ) -> list[Hit]:
        """Search with an already embedded query (benchmarks, saved queries); see search()."""
        pages = self.indexed_pages()
        rows_of = self._rows_of(pages)
        if exact:
            ranked = exact_top_k(query.vectors, list(pages), rows_of, k)
        else:
            ranked = two_stage_top_k(
                query.vectors,
                pages.keys(),
                self.candidates,
                rows_of,
                k,
                rerank=rerank,
                prefetch=lambda page_ids: self._prefetch([pages[p] for p in page_ids]),
            )
        hits: list[Hit] = []
        for page_id, score in ranked:
            try:
                hits.append(self._hit(len(hits) + 1, score, pages[page_id], query))
            except LibraryError:  # its document was removed while this search ran
                continue
        return hits

    def indexed_pages(self) -> dict[int, PageRecord]:
        """Every indexed page by id, cached until the catalog changes (in any process)."""
        version = self.catalog.version()
        if self._page_cache is None or self._page_cache[0] != version:
            self._page_cache = (version, {page.id: page for page in self.catalog.pages(status=INDEXED)})
        return self._page_cache[1]

    def _rows_of(self, pages: dict[int, PageRecord]) -> Callable[[int], np.ndarray]:
        return lambda page_id: self._rows(pages[page_id])

    def _hit(self, rank: int, score: float, page: PageRecord, query: QueryEmbedding) -> Hit:
        document = self.catalog.document(page.document_id)
        grid = page.grid or (0, 0)
        return Hit(
            rank=rank,
            score=score,
            doc_id=document.doc_id,
            path=_existing_path(document),
            page=page.index + 1,
            page_size=(page.width_pt, page.height_pt),
            rotation=page.rotation,
            grid=grid,
            similarity=similarity_map(query.vectors, self._cells(page), grid),
            query=query,
        )

    def documents(self) -> list[DocumentRecord]:
        return self.catalog.documents()

    def find_document(self, reference: str) -> DocumentRecord:
        matches = self.catalog.find_documents(reference)
        if not matches:
            absolute = os.path.abspath(Path(reference).expanduser())
            matches = self.catalog.find_documents(absolute) if absolute != reference else []
        return single_match(reference, matches, self.catalog.documents)

    def remove(self, reference: str) -> DocumentRecord:
        with self._writer:
            document = self.find_document(reference)
            self.forget(document)
            return document

    def forget(self, document: DocumentRecord, *, keep_document: bool = False) -> None:
        """Delete a document's pages from the catalog and the index (writer lock held), and the
        document itself unless ``keep_document`` (then it stays, pending, with its paths)."""
        pages = self.catalog.pages(document.id, INDEXED)
        # Load the index before the catalog changes, so that it is reconciled against the
        # catalog as it was and the pages removed below are really in it.
        candidates = self.candidates if pages else None
        if keep_document:
            self.catalog.reset_pages(document.id)
        else:
            self.catalog.remove_document(document.id)
        if candidates is not None:
            for page in pages:
                candidates.remove_page(page.id)
            candidates.save()

    def reindex(
        self,
        reference: str,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        cancel = cancel or CancelToken()
        with self._writer:
            cancel.raise_if_cancelled()
            document = self.find_document(reference)
            paths = [path for path in document.paths if os.path.exists(path)]
            if not paths:
                raise LibraryError(
                    f"The file of document {document.doc_id} is no longer at {document.paths[0]}; "
                    "add it again from where it is now."
                )
            # The document stays (pending) while it is re-indexed: a cancelled re-index leaves it
            # for the next add to finish instead of losing it.
            self.forget(document, keep_document=True)
            return add_paths(self, paths, progress or ignore_progress, cancel)

    def info(self) -> LibraryInfo:
        meta = self.catalog.get_meta
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return LibraryInfo(
            location=str(self.folder),
            model_id=meta("model_id"),
            model_revision=meta("model_revision"),
            model_fingerprint=meta("model_fingerprint"),
            dim=self._dim(),
            counts=self.catalog.counts(),
            bytes_on_disk=size,
            token_pool_factor=self.token_pool_factor,
        )

    def render_page(self, doc_id: str, page: int, max_pixels: int) -> RenderedPage:
        document = self.find_document(doc_id)
        records = [p for p in self.catalog.pages(document.id) if p.index == page - 1]
        if not records:
            raise InvalidInputError(f"{doc_id} has no page {page}.")
        path = Path(_existing_path(document))
        if not path.exists():
            raise LibraryError(f"The file of document {document.doc_id} is no longer at {path}.")
        with open_pdf_or_none(path) as opened:  # rotations as a viewer shows them
            return render_page(path, opened, records[0].info, max_pixels)

    def close(self) -> None:
        self._close_renderer()
        if self._store is not None:
            self._store.close()
        self.catalog.close()


def _existing_path(document: DocumentRecord) -> str:
    for path in document.paths:
        if os.path.exists(path):
            return path
    return document.paths[0] if document.paths else ""


def _packed(embedding: PageEmbedding) -> bytes | None:
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


def _location(page: PageRecord) -> tuple[int, int, int] | None:
    """Where a page's rows are stored: (segment, first row, row count); None if nowhere yet."""
    if page.segment is None or page.row_offset is None or page.n_rows is None:
        return None
    return page.segment, page.row_offset, page.n_rows
