"""A library on Qdrant: the same interface as the local one, the pages on a Qdrant collection.

Search is one ``query_points`` call: a prefetch on the pooled row and column vectors (HNSW on a
server), then MaxSim on every row of the prefetched pages, computed by the server; the hits come
back with their rows, and the similarity maps for highlights are computed here with the same
code as locally. Several desktops can use one library: documents are keyed by their SHA-256 and
pages by (SHA-256, page), so the same file added twice, or again after a crash, is stored once.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from docretriever.documents.opening import render_for_display
from docretriever.documents.passwords import GivenPasswords, PasswordStore
from docretriever.documents.pdf import PageInfo
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding import Embedder, ModelSpec
from docretriever.embedding.base import ModelIdentity, PageEmbedding, QueryEmbedding, page_cells
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.library.base import single_match
from docretriever.library.embedding_library import EmbeddingLibrary
from docretriever.library.hits import Hit, existing_path, make_hit
from docretriever.library.ingest import add_files
from docretriever.library.like import PageQuery, cell_query_rows, check_page_number, not_indexed, page_query
from docretriever.library.qdrant.follow import document_folders, remove_named, sync_changed_paths
from docretriever.library.qdrant.location import QdrantLocation
from docretriever.library.qdrant.schema import ORIGINAL, POOLED
from docretriever.library.qdrant.sink import QdrantSink
from docretriever.library.qdrant.store import QdrantStore, page_from_point
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
from docretriever.vocabulary import PENDING, AddReport, CompactReport, Document, LibraryInfo, Removal

# Pages the first stage hands to the exact MaxSim rerank: at least this many, or 20 per hit.
# Local mode scores every page whatever this is; on a server it trades speed for recall.
PREFETCH_PAGES = 200


class QdrantLibrary(EmbeddingLibrary):
    """A library in the Qdrant collection at ``location`` (a ``qdrant://`` URL, see
    :mod:`~docretriever.library.qdrant.location`). Created on first ``add`` unless ``create``
    is False; the model is loaded on first use, or pass a ready ``embedder``."""

    def __init__(
        self,
        location: str | QdrantLocation,
        model: ModelSpec | None = None,
        *,
        embedder: Embedder | None = None,
        renderer: RenderPool | None = None,
        progress: ProgressCallback | None = None,
        create: bool = True,
        api_key: str | None = None,
        passwords: PasswordStore | None = None,
    ) -> None:
        self.location = location if isinstance(location, QdrantLocation) else QdrantLocation.parse(location)
        folder = self.location.path
        if not create and folder not in (None, ":memory:") and not os.path.isdir(folder):
            # Checked before the client exists: local mode would create the folder it opens.
            raise LibraryError(f"There is no library at {self.location.text}; check the address.")
        try:
            client = self.location.client(api_key)
        except RuntimeError as exc:  # local mode: the folder is open in another program
            raise LibraryError(f"The Qdrant library {self.location.text} cannot be opened: {exc}") from exc
        except (OSError, ValueError) as exc:  # local mode: a file in the way, an unreadable meta.json
            reason = (
                exc.strerror
                if isinstance(exc, OSError) and exc.strerror
                else "its folder is not a Qdrant library"
            )
            raise LibraryError(
                f"The Qdrant library {self.location.text} cannot be opened: {reason}.", details=repr(exc)
            ) from exc
        self.store = QdrantStore(self.location, client)
        self._set_up_model(model, embedder, renderer, progress, passwords)
        self._dim: int | None = None
        self.prefetch_pages = PREFETCH_PAGES
        if not create and not self.store.exists():
            client.close()
            raise LibraryError(
                f"There is no library at {self.location.text} yet; add documents to it first, "
                "or check the address."
            )
        if embedder is not None:
            try:
                self._check_identity(embedder.identity)
            except BaseException:  # another model: release the collection (local mode locks it)
                client.close()
                raise

    # --- model ------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        if self._dim is None:
            meta = self.store.meta()
            self._dim = int(meta["dim"]) if meta else self.embedder.identity.dim
        return self._dim

    def _check_identity(self, identity: ModelIdentity) -> None:
        meta = self.store.meta()
        if meta is None:
            self.store.ensure(identity.dim)
            self.store.write_meta(
                {
                    "model_id": identity.model_id,
                    "model_revision": identity.revision,
                    "model_fingerprint": identity.fingerprint,
                    "dim": identity.dim,
                    "model_family": identity.family,
                    "model_source": self.model_source_to_record(),
                }
            )
            return
        if self._recorded_model_is_legacy(meta.get, identity, "another collection"):
            # Built before fingerprints named the weights only: record the new form, best effort
            # (an API key that may only read leaves the old one, still accepted next time).
            with contextlib.suppress(LibraryError):
                self.store.write_meta({**meta, "model_fingerprint": identity.fingerprint})

    def recorded_model_source(self) -> str | None:
        meta = self.store.meta() or {}
        return str(meta.get("model_source") or "") or None

    def identity(self) -> ModelIdentity | None:
        """The model recorded in the library, if any."""
        meta = self.store.meta()
        if meta is None:
            return None
        return ModelIdentity(
            str(meta["model_id"]),
            str(meta["model_revision"]),
            str(meta["model_fingerprint"]),
            int(meta["dim"]),
            # Collections from before there was a second family hold ColQwen2 rows.
            family=str(meta.get("model_family") or "ColQwen2"),
        )

    # --- the Library interface --------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        *,
        passwords: Mapping[str, str] | None = None,
        remember_passwords: bool = False,
    ) -> AddReport:
        if self.store.meta() is None:
            self.embedder  # noqa: B018  (a new library records its model before anything else)
        given = GivenPasswords.of(passwords, remember_passwords)
        return add_files(
            QdrantSink(self.store, self.dim, self.passwords),
            self.renderer,
            lambda: self.embedder,
            paths,
            progress or ignore_progress,
            cancel or CancelToken(),
            given,
        )

    def search(
        self, query: str, k: int = 10, *, exact: bool = False, within: Collection[str] | None = None
    ) -> list[Hit]:
        """The ``k`` best pages by MaxSim over every row, computed by the server. Unless
        ``exact``, only the pages a first stage on the pooled vectors prefetches are scored.
        ``within``: see :meth:`Library.search`; a filter on the pages' SHA-256 (indexed)."""
        if not query.strip():
            raise InvalidInputError("Type something to search for.")
        if k < 1:
            raise InvalidInputError("The number of results must be at least 1.")
        if not self.store.exists():
            return []
        (embedded,) = self.embedder.embed_queries([query])
        return self.search_embedding(embedded, k, exact=exact, within=within)

    def search_embedding(
        self,
        query: QueryEmbedding,
        k: int = 10,
        *,
        exact: bool = False,
        within: Collection[str] | None = None,
    ) -> list[Hit]:
        """See :meth:`search`; the prefetch scores ``query.coarse`` when it is given."""
        from qdrant_client import models

        if not self.store.exists():
            return []
        chosen: list[str] | None = None
        if within is not None:
            chosen = self._sha256s_within(within)
            if not chosen:
                return []
        vectors = query.vectors.tolist()
        # Pages of a document still being uploaded (here, or on another desktop) wait.
        # must_not False rather than must True: pages written before the flag existed count as ready.
        ready = models.Filter(
            must_not=[models.FieldCondition(key="ready", match=models.MatchValue(value=False))],
            must=[models.FieldCondition(key="sha256", match=models.MatchAny(any=chosen))] if chosen else None,
        )
        prefetch = None
        if not exact:
            limit = max(self.prefetch_pages, 20 * k)
            first = vectors if query.coarse is None else query.coarse.tolist()
            prefetch = models.Prefetch(query=first, using=POOLED, limit=limit, filter=ready)
        result = self.store.call(
            self.store.client.query_points,
            self.store.pages,
            prefetch=prefetch,
            query=vectors,
            using=ORIGINAL,
            query_filter=ready,
            limit=k,
            with_payload=True,
            with_vectors=[ORIGINAL],
        )
        documents = self.store.documents_of([str(point.payload["sha256"]) for point in result.points])
        hits = []
        for rank, point in enumerate(result.points, start=1):
            info, embedding, _ = page_from_point(point)
            sha256 = str(point.payload["sha256"])
            record = documents.get(sha256)
            cells = page_cells(embedding.vectors, embedding.n_cells, embedding.cell_rows)
            hits.append(
                make_hit(
                    rank,
                    float(point.score),
                    doc_id=sha256[:12],
                    paths=record.paths if record else [],
                    page=info,
                    page_count=record.page_count if record else None,
                    grid=embedding.grid,
                    geometry=self.geometry,
                    cells=cells,
                    query=query,
                )
            )
        return hits

    def page_query(self, reference: str, page: int) -> PageQuery:
        document = self.find_document(reference)
        check_page_number(document, page)
        point = self.store.page_point(document.sha256, page - 1)
        if point is None or point.payload.get("ready") is False:  # absent, or still being uploaded
            raise not_indexed(document, page)
        info, embedding, _ = page_from_point(point)
        cells = cell_query_rows(embedding.vectors, embedding.n_cells, embedding.cell_rows)
        # The prefetch compares the page's pooled row and column means with the others' own.
        coarse = np.asarray(point.vector[POOLED], dtype=np.float32)
        return page_query(document, page, info.label, cells, coarse)

    def _sha256s_within(self, within: Collection[str]) -> list[str]:
        """The SHA-256s of the documents ``within`` names (see LocalLibrary._documents_within)."""
        prefixes = tuple({p.strip().lower() for p in within if len(p.strip()) >= 4})
        if not prefixes:
            return []
        return [document.sha256 for document in self.documents() if document.sha256.startswith(prefixes)]

    def documents(self) -> list[Document]:
        return self.store.all_documents() if self.store.exists() else []

    def find_document(self, reference: str) -> Document:
        prefix = reference.strip().lower()
        if len(prefix) == 12 and all(c in "0123456789abcdef" for c in prefix):  # a whole doc id
            found = self.store.documents_where("doc_id", prefix)
            if found:
                return single_match(reference, found)
        absolute = os.path.abspath(os.path.expanduser(reference))
        documents = self.documents()
        matches = [d for d in documents if reference in d.paths or absolute in d.paths]
        if not matches and len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
            matches = [d for d in documents if d.sha256.startswith(prefix)]
        return single_match(reference, matches)

    def remove(self, reference: str) -> Removal:
        return remove_named(self.store, self.find_document(reference), reference)

    def reindex(
        self,
        reference: str,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        document = self.find_document(reference)
        paths = [path for path in document.paths if os.path.exists(path)]
        if not paths:
            where = document.paths[0] if document.paths else "?"
            raise LibraryError(
                f"The file of document {document.doc_id} is not at {where} on this computer; "
                "add it again from where it is now."
            )
        self.store.delete_document(document.sha256)
        self.store.put_document(document.replaced(status=PENDING), 0)
        return self.add(paths, progress, cancel)

    def sync(self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> AddReport:
        """Re-add the known paths that exist on this computer, so changed files are indexed
        again. Documents whose files are missing here stay: another desktop may have them."""
        paths = sorted(
            {path for document in self.documents() for path in document.paths if os.path.exists(path)}
        )
        return self.add(paths, progress, cancel)

    def followed_folders(self) -> list[str]:
        """The folders that hold the library's documents (a Qdrant library records no followed
        folders: see :mod:`~docretriever.library.qdrant.follow`)."""
        return document_folders(self.documents())

    def sync_paths(
        self,
        paths: Sequence[str],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        """See :meth:`Library.sync_paths` and :mod:`~docretriever.library.qdrant.follow`."""
        return sync_changed_paths(self.documents(), lambda here: self.add(here, progress, cancel), paths)

    def compact(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> CompactReport:
        """Nothing to do from here: the server reclaims the space of deleted points itself."""
        return CompactReport(
            0,
            0,
            note="Nothing to do: the Qdrant server reclaims the space of removed pages itself "
            "(its optimizer vacuums segments with deleted points).",
        )

    def info(self) -> LibraryInfo:
        meta = self.store.meta() or {}
        counts: dict[str, int] = {}
        for document in self.documents():
            key = f"documents_{document.status}"
            counts[key] = counts.get(key, 0) + 1
        counts["pages_indexed"] = self.store.count_pages()
        size = 0
        if self.location.path and self.location.path != ":memory:":
            size = sum(p.stat().st_size for p in _files(self.location.path))
        return LibraryInfo(
            location=self.location.text,
            model_id=meta.get("model_id"),
            model_revision=meta.get("model_revision"),
            model_fingerprint=meta.get("model_fingerprint"),
            dim=int(meta["dim"]) if "dim" in meta else None,
            counts=counts,
            bytes_on_disk=size,
        )

    def render_page(self, doc_id: str, page: int, max_pixels: int) -> RenderedPage:
        document = self.find_document(doc_id)
        path = existing_path(document.paths)
        if not path or not os.path.exists(path):
            raise LibraryError(f"The file of document {document.doc_id} is not on this computer ({path}).")
        for info in self.store.page_infos(document.sha256):
            if info.index == page - 1:
                password = functools.partial(self.passwords.get, document.sha256)  # asked only if needed
                return render_for_display(Path(path), info, max_pixels, password, document.sha256)
        raise InvalidInputError(f"{doc_id} has no page {page}.")

    def page_infos(self, doc_id: str) -> list[PageInfo]:
        return self.store.page_infos(self.find_document(doc_id).sha256)

    def close(self) -> None:
        self._close_renderer()
        self.store.client.close()

    # --- moving libraries -------------------------------------------------------------------

    def add_embedded_document(
        self, record: Document, pages: Sequence[tuple[PageInfo, PageEmbedding, str]]
    ) -> None:
        """Store a document embedded elsewhere (an export from a local library) as it was."""
        self.store.put_document(record.replaced(status=PENDING), 0)
        self.store.put_pages(record.sha256, pages, self.dim)
        self.store.mark_ready(record.sha256)
        self.store.put_document(record, len(pages))

    def document_pages(self, record: Document) -> list[tuple[PageInfo, PageEmbedding, str]]:
        """A document's pages with their rows (for an import into a local library)."""
        return self.store.document_pages(record.sha256)


def _files(folder: str) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if p.is_file()]
