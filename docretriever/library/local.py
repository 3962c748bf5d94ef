"""The local library: SQLite catalog, memory-mapped float16 vectors and a USearch index in one
folder on this computer."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docretriever.documents.render import RenderedPage, render_page
from docretriever.embedding import Embedder, ModelSpec, load_embedder
from docretriever.embedding.base import ModelIdentity, QueryEmbedding
from docretriever.errors import InvalidInputError, LibraryError, ModelMismatchError
from docretriever.library.base import AddReport, Library, LibraryInfo
from docretriever.library.hits import Hit
from docretriever.library.ingest import add_paths
from docretriever.library.lock import WriterLock
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
from docretriever.search.candidates import CandidateIndex, pooled_count
from docretriever.search.maxsim import maxsim_scores, similarity_map
from docretriever.storage.catalog import INDEXED, Catalog, DocumentRecord, PageRecord
from docretriever.storage.vectors import VectorStore

# The exact rerank scores at least this many candidate pages (or RERANK_PER_HIT per requested
# hit); a library no larger than that is searched exhaustively.
RERANK_PAGES = 100
RERANK_PER_HIT = 10
# Nearest pooled vectors fetched per query token in the first stage.
CANDIDATES_PER_TOKEN = 64


class LocalLibrary(Library):
    """A library in ``folder`` (created if missing, unless ``create`` is False). The model in
    ``model`` is loaded on first use (``add`` or ``search``), or pass a ready ``embedder``
    (tests, the GUI's shared model)."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        model: ModelSpec | None = None,
        *,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        create: bool = True,
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
        self._spec = model or ModelSpec()
        self._embedder = embedder
        self._load_progress = progress or ignore_progress
        self._identity_checked = False
        self._writer = WriterLock(self.folder)
        self._store: VectorStore | None = None
        self._candidates: CandidateIndex | None = None
        # The GUI calls one library from its writer thread and its reader threads: loading the
        # model and the index happens once, under this lock.
        self._load_lock = threading.RLock()
        if embedder is not None:
            self._check_identity(embedder.identity)

    # --- model -------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._load_lock:
            if self._embedder is None:
                embedder = load_embedder(self._spec, self._load_progress)
                self._check_identity(embedder.identity)
                self._embedder = embedder
            return self._embedder

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
        if self.catalog.get_meta("model_fingerprint") != identity.fingerprint or self._dim() != identity.dim:
            raise ModelMismatchError(
                f"This library was built with the model {self.catalog.get_meta('model_id')} "
                f"(revision {self.catalog.get_meta('model_revision')}), not {identity.model_id}. "
                "Choose that model again, or use another library folder for this one."
            )

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
        """The first-stage index, rebuilt from stored vectors when it disagrees with the catalog."""
        with self._load_lock:
            if self._candidates is None:
                index = CandidateIndex(self.folder / "index.usearch", self.store.dim)
                indexed = self.catalog.pages(status=INDEXED)
                expected = sum(pooled_count(p.grid) for p in indexed if p.grid)
                if not index.load() or len(index) != expected:
                    index.clear()
                    for page in indexed:
                        index.add_page(page.id, self._cells(page), page.grid or (0, 0))
                    self._save_if_no_writer(index)
                self._candidates = index
            return self._candidates

    def _save_if_no_writer(self, index: CandidateIndex) -> None:
        """Save a rebuilt index unless someone else is writing: a reader must never wait for or
        fail on a running ingest, which saves the index itself when it finishes."""
        try:
            with self._writer:
                index.save()
        except LibraryError:
            pass

    def _rows(self, page: PageRecord) -> np.ndarray:
        if page.segment is None or page.row_offset is None or page.n_rows is None:
            raise LibraryError(f"Page {page.index + 1} has no stored vectors.")
        return self.store.rows(page.segment, page.row_offset, page.n_rows)

    def _cells(self, page: PageRecord) -> np.ndarray:
        n_x, n_y = page.grid or (0, 0)
        return self._rows(page)[: n_x * n_y]

    def store_embeddings(
        self, rendered: Sequence[tuple[PageRecord, RenderedPage]], cancel: CancelToken
    ) -> int:
        """Embed rendered pages, append their vectors, then commit them and index them.

        Returns the number of pages stored."""
        # Load (or rebuild) the index before the commit, or the rebuild would already hold
        # the pages added below.
        candidates = self.candidates
        embeddings = self.embedder.embed_pages([image.image for _, image in rendered], cancel)
        stored = []
        for (page, image), embedding in zip(rendered, embeddings, strict=True):
            segment, offset = self.store.append(embedding.vectors)
            stored.append((page.id, embedding.grid, len(embedding.vectors), segment, offset, image.renderer))
        self.catalog.store_pages(stored)
        for (page, _), embedding in zip(rendered, embeddings, strict=True):
            candidates.add_page(page.id, embedding.vectors[: embedding.n_cells], embedding.grid)
        return len(stored)

    # --- the Library interface ---------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        with self._writer:
            return add_paths(self, paths, progress or ignore_progress, cancel or CancelToken())

    def search(self, query: str, k: int = 10, *, exact: bool = False) -> list[Hit]:
        if not query.strip():
            raise InvalidInputError("Type something to search for.")
        if k < 1:
            raise InvalidInputError("The number of results must be at least 1.")
        pages = {page.id: page for page in self.catalog.pages(status=INDEXED)}
        if not pages:
            return []
        embedded = self.embedder.embed_queries([query])[0]
        rerank = max(RERANK_PAGES, RERANK_PER_HIT * k)
        if exact or len(pages) <= rerank:
            candidate_ids = list(pages)
        else:
            candidate_ids = self._candidate_pages(embedded.vectors, pages, rerank, k)
        scores = maxsim_scores(embedded.vectors, [self._rows(pages[i]) for i in candidate_ids])
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            self._hit(rank, float(scores[i]), pages[candidate_ids[i]], embedded)
            for rank, i in enumerate(order, start=1)
        ]

    def _candidate_pages(
        self, query: np.ndarray, pages: dict[int, PageRecord], rerank: int, k: int
    ) -> list[int]:
        """Up to ``rerank`` page ids, best approximate score first. Query tokens' neighbours
        cluster on few pages, so the lookup widens until enough distinct pages come back; if
        fewer than ``k`` exist in the index, every page is a candidate."""
        per_token = CANDIDATES_PER_TOKEN
        index = self.candidates
        while True:
            approximate = index.approximate_scores(query, per_token)
            ranked = [
                page_id
                for page_id in sorted(approximate, key=approximate.__getitem__, reverse=True)
                if page_id in pages
            ]
            if len(ranked) >= rerank or per_token >= len(index):
                break
            per_token *= 4
        return ranked[:rerank] if len(ranked) >= k else list(pages)

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
        if not matches:
            raise InvalidInputError(f"No document in the library matches {reference!r}.")
        if len(matches) > 1:
            raise InvalidInputError(
                f"{reference!r} matches {len(matches)} documents; type more of the doc id."
            )
        return matches[0]

    def remove(self, reference: str) -> DocumentRecord:
        with self._writer:
            document = self.find_document(reference)
            self.forget(document)
            return document

    def forget(self, document: DocumentRecord) -> None:
        """Delete a document and its pages from the catalog and the index (writer lock held)."""
        pages = self.catalog.pages(document.id, INDEXED)
        # Load the index before the catalog changes, or loading would see a mismatch and rebuild.
        candidates = self.candidates if pages else None
        self.catalog.remove_document(document.id)
        if candidates is not None:
            for page in pages:
                candidates.remove_page(page.id, page.grid or (0, 0))
            candidates.save()

    def reindex(
        self,
        reference: str,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        with self._writer:
            document = self.find_document(reference)
            paths = [path for path in document.paths if os.path.exists(path)]
            if not paths:
                raise LibraryError(
                    f"The file of document {document.doc_id} is no longer at {document.paths[0]}; "
                    "add it again from where it is now."
                )
            self.forget(document)
            return add_paths(self, paths, progress or ignore_progress, cancel or CancelToken())

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
        )

    def render_page(self, doc_id: str, page: int, max_pixels: int) -> RenderedPage:
        document = self.find_document(doc_id)
        records = [p for p in self.catalog.pages(document.id) if p.index == page - 1]
        if not records:
            raise InvalidInputError(f"{doc_id} has no page {page}.")
        path = Path(_existing_path(document))
        if not path.exists():
            raise LibraryError(f"The file of document {document.doc_id} is no longer at {path}.")
        return render_page(path, None, records[0].info, max_pixels)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self.catalog.close()


def _existing_path(document: DocumentRecord) -> str:
    for path in document.paths:
        if os.path.exists(path):
            return path
    return document.paths[0] if document.paths else ""
