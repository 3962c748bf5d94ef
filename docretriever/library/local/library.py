"""The local library: SQLite catalog, memory-mapped float16 vectors and a USearch index in one
folder on this computer."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from docretriever.documents.discover import shown_path
from docretriever.documents.opening import render_for_display
from docretriever.documents.passwords import GivenPasswords, PasswordStore
from docretriever.documents.pdf import PageInfo
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding import Embedder, ModelSpec
from docretriever.embedding.base import ModelIdentity, QueryEmbedding
from docretriever.errors import Cancelled, InvalidInputError, LibraryError
from docretriever.library.hits import Hit, existing_path, make_hit
from docretriever.library.ingest import add_files
from docretriever.library.local import compaction
from docretriever.library.local.follow import (
    documents_under,
    drop_empty_roots,
    is_under,
    leave_out,
    paths_to_sync,
    prune_documents,
    remove_named,
    stop_following,
)
from docretriever.library.local.recall_record import last_recall, stage_widening
from docretriever.library.local.sink import LocalSink
from docretriever.library.local.watched import WatchedPages
from docretriever.library.recent_searches import RecentSearches
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
from docretriever.search.ranking import exact_top_k, two_stage_top_k
from docretriever.storage.catalog import PageRecord
from docretriever.storage.vectors import MissingVectorsError
from docretriever.vocabulary import (
    MISSING,
    UNAVAILABLE,
    AddReport,
    CompactReport,
    Document,
    LibraryInfo,
    Removal,
)


class LocalLibrary(WatchedPages):
    """A library in ``folder`` (created if missing, unless ``create`` is False). The model in
    ``model`` is loaded on first use (``add`` or ``search``), or pass a ready ``embedder``
    (tests, the GUI's shared model). ``renderer`` replaces the default render workers.

    ``token_pooling`` pools each page's cell vectors by that factor at ingest (see
    :mod:`~docretriever.embedding.token_pooling`). It is chosen when a library is created and
    recorded in it; None keeps what the library recorded, and asking an existing library for
    another factor is an error. ``token_pooling_for_new`` is a preference instead (the GUI's):
    it applies to a library that holds no pages and records no factor, and is otherwise ignored.
    ``passwords`` holds the passwords of files that need one (default: this session's, and the
    system keyring's)."""

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
        passwords: PasswordStore | None = None,
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
        self.open_pages(self.folder, token_pooling, token_pooling_for_new)
        self._set_up_model(model, embedder, renderer, progress, passwords)
        # compact_if_worthwhile leaves fewer unused vector bytes than this alone (tests lower it).
        self.auto_compact_min_bytes = compaction.AUTO_COMPACT_MIN_BYTES
        if embedder is not None:
            self._check_identity(embedder.identity)

    # --- model -------------------------------------------------------------------------------

    def _check_identity(self, identity: ModelIdentity) -> None:
        self.catalog.record_model(
            {
                "model_id": identity.model_id,
                "model_revision": identity.revision,
                "model_fingerprint": identity.fingerprint,
                "dim": str(identity.dim),
                "model_family": identity.family,
                "model_source": self.model_source_to_record(),
            }
        )
        if self._recorded_model_is_legacy(self.catalog.get_meta, identity, "another library folder"):
            # Built before fingerprints named the weights only: record the new form. Best effort,
            # never a wait: skipped while another task writes (an ingest holds the writer lock) or
            # on read-only storage (OSError: no lock file); the library opens all the same.
            with contextlib.suppress(LibraryError, OSError), self.writer:
                old, new = identity.legacy_fingerprint or "", identity.fingerprint
                self.catalog.replace_meta("model_fingerprint", old, new)

    def recorded_model_source(self) -> str | None:
        return self.catalog.get_meta("model_source") or None

    def identity(self) -> ModelIdentity | None:
        """The model recorded in the library, if any."""
        meta = self.catalog.get_meta
        fingerprint, dim = meta("model_fingerprint"), self.stored_dim()
        if fingerprint is None or dim is None:
            return None
        # Libraries from before there was a second family hold ColQwen2 rows.
        family = meta("model_family") or "ColQwen2"
        return ModelIdentity(
            meta("model_id") or "", meta("model_revision") or "", fingerprint, dim, family=family
        )

    # --- the Library interface ---------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        *,
        passwords: Mapping[str, str] | None = None,
        remember_passwords: bool = False,
    ) -> AddReport:
        given = GivenPasswords.of(passwords, remember_passwords)
        return self._add(paths, progress, cancel, syncing=False, passwords=given)

    def _add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        *,
        syncing: bool,
        passwords: GivenPasswords | None = None,
    ) -> AddReport:
        with self.writer:
            if self.stored_dim() is not None:  # else nothing was stored (and no model is loaded yet)
                self.candidates.remove_leftovers()
            report = add_files(
                LocalSink(self, syncing=syncing),
                self.renderer,
                lambda: self.embedder,  # loaded only when there is something to embed
                paths,
                progress or ignore_progress,
                cancel or CancelToken(),
                passwords,
            )
            self._auto_compact(progress, cancel)  # changed and removed files leave vectors unused
            return report

    def search(
        self, query: str, k: int = 10, *, exact: bool = False, within: Collection[str] | None = None
    ) -> list[Hit]:
        if not query.strip():
            raise InvalidInputError("Type something to search for.")
        if k < 1:
            raise InvalidInputError("The number of results must be at least 1.")
        if not self.indexed_pages():
            return []
        hits = self.search_embedding(self.embedder.embed_queries([query])[0], k, exact=exact, within=within)
        RecentSearches(self.folder).remember(query)  # unless turned off (bench, the recall watch)
        return hits

    def search_embedding(
        self,
        query: QueryEmbedding,
        k: int = 10,
        *,
        exact: bool = False,
        rerank: int | None = None,
        within: Collection[str] | None = None,
        widen: int | None = None,
    ) -> list[Hit]:
        """Search with an already embedded query (benchmarks, saved queries); see search().
        ``widen``: the fast path's widening (see ``ranking.two_stage_top_k``); None, the one
        the library's recall watch chose (:mod:`~docretriever.library.local.recall_watch`)."""
        version = self.catalog.version()
        widen = stage_widening(self.folder) if widen is None else widen
        try:
            return self._search_once(query, k, exact, rerank, within, widen)
        except MissingVectorsError:
            if self.catalog.version() == version:
                raise
            # A compaction committed while this search ran and deleted the files the page records
            # it had read point into: once more, with the records as they are now.
            return self._search_once(query, k, exact, rerank, within, widen)

    def _documents_within(self, within: Collection[str]) -> set[int]:
        """The catalog ids of the documents ``within`` names (doc ids or longer SHA-256 prefixes;
        shorter ones, which could name many documents by accident, name none)."""
        prefixes = tuple({p.strip().lower() for p in within if len(p.strip()) >= 4})
        if not prefixes:
            return set()
        rows = self.catalog.query("SELECT id, sha256 FROM documents")  # not documents(): 1 ms, not 50
        return {int(row[0]) for row in rows if str(row[1]).startswith(prefixes)}

    def _search_once(
        self,
        query: QueryEmbedding,
        k: int,
        exact: bool,
        rerank: int | None,
        within: Collection[str] | None,
        widen: int = 1,
    ) -> list[Hit]:
        pages = self.indexed_pages()
        if within is not None:  # both stages, and the exact path, only ever see these pages
            chosen = self._documents_within(within)
            pages = {page_id: page for page_id, page in pages.items() if page.document_id in chosen}
        rows_of = self.rows_reader(pages)
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
                prefetch=lambda page_ids: self.prefetch_pages([pages[p] for p in page_ids]),
                widen=widen,
                rows_in=lambda page_id: pages[page_id].n_rows,
                coarse=query.coarse,
            )
        hits: list[Hit] = []
        for page_id, score in ranked:
            try:
                hits.append(self._hit(len(hits) + 1, score, pages[page_id], query))
            except MissingVectorsError:
                raise  # moved by a compaction, not removed: search_embedding searches again
            except LibraryError:  # its document was removed while this search ran
                continue
        return hits

    def _hit(self, rank: int, score: float, page: PageRecord, query: QueryEmbedding) -> Hit:
        document = self.catalog.document(page.document_id)
        info = PageInfo(page.index, page.width_pt, page.height_pt, page.rotation, page.label)
        return make_hit(
            rank,
            score,
            doc_id=document.doc_id,
            paths=document.paths,
            page=info,
            page_count=document.page_count,
            grid=page.grid or (0, 0),
            geometry=self.geometry,
            cells=self.page_cells(page),
            query=query,
            unavailable=document.unavailable,
        )

    def documents(self) -> list[Document]:
        return list(self.catalog.documents())

    def remove(self, reference: str) -> Removal:
        with self.writer:
            removal = remove_named(self, reference)
            self._auto_compact(None, None)
            return removal

    def documents_under(self, folder: str) -> list[Document]:
        return list(documents_under(self.catalog, os.path.abspath(Path(folder).expanduser())))

    def remove_folder(self, folder: str) -> list[Document]:
        """See :meth:`Library.remove_folder`. Also stops following the folder (and the folders
        in it), and drops its paths from documents that have others; one followed but holding
        no document (a drive since mounted elsewhere) is simply no longer followed."""
        absolute = os.path.abspath(Path(folder).expanduser())
        with self.writer:
            documents = documents_under(self.catalog, absolute)
            inside = [path for path, _ in self.catalog.paths_under(absolute)]
            followed = [root for root, _ in self.catalog.roots() if is_under(root, absolute)]
            if not documents and not inside and not followed:
                raise InvalidInputError(f"No document in the library is in {shown_path(absolute)}.")
            for document in documents:
                self.forget(document)
            for path in inside:
                self.catalog.detach_path(path)
            stop_following(self.catalog, absolute)
            leave_out(self.catalog, [absolute])
            self._auto_compact(None, None)
            return list(documents)

    def reindex(
        self,
        reference: str,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        cancel = cancel or CancelToken()
        with self.writer:
            cancel.raise_if_cancelled()
            document = self.find_document(reference)
            paths = [path for path in document.paths if os.path.exists(path)]
            if not paths:
                raise LibraryError(
                    f"The file of document {document.doc_id} is no longer at {document.paths[0]}; "
                    "add it again from where it is now."
                )
            # The document stays (pending) while it is re-indexed: a cancelled re-index leaves it
            # for the next add to finish instead of losing it (reusing the kept vectors). A
            # re-index is asked to embed again, so it reuses no stored vectors itself.
            self.forget(document, keep_document=True)
            sink = LocalSink(self, reuse=False)
            return add_files(
                sink, self.renderer, lambda: self.embedder, paths, progress or ignore_progress, cancel
            )

    def sync(self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> AddReport:
        """See :meth:`Library.sync`; the rules are in :mod:`~docretriever.library.local.follow`."""
        with self.writer:
            report = self._add(paths_to_sync(self.catalog), progress, cancel, syncing=True)
            drop_empty_roots(self.catalog)
            return report

    def prune(
        self,
        documents: Sequence[Document] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Document]:
        """See :meth:`Library.prune`."""
        with self.writer:
            chosen = self.missing_documents() if documents is None else documents
            forgotten = prune_documents(self, chosen, cancel or CancelToken())
            if forgotten:
                self._auto_compact(progress, cancel)
            return list(forgotten)

    def compact(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> CompactReport:
        """See :meth:`Library.compact`; how it stays crash-safe: :mod:`.compaction`."""
        with self.writer:
            if self.stored_dim() is None:  # nothing was ever stored (and no model is loaded to ask)
                return CompactReport(0, 0, note=compaction.NOTHING_TO_RECLAIM)
            return compaction.compact(
                self.catalog, self.store, progress or ignore_progress, cancel or CancelToken()
            )

    def compact_if_worthwhile(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> CompactReport | None:
        """Delete vector files nothing points into (a crashed compaction's), then compact if the
        unused vectors are at least AUTO_COMPACT_SHARE of the store and ``auto_compact_min_bytes``.
        Returns the compaction's report, None when there was none. Raises as :meth:`compact`."""
        with self.writer:
            if self.stored_dim() is None:
                return None
            compaction.remove_leftovers(self.catalog, self.store)
            if not compaction.usage(self.catalog, self.store).worth_compacting(self.auto_compact_min_bytes):
                return None
            return self.compact(progress, cancel)

    def _auto_compact(self, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        """:meth:`compact_if_worthwhile` after a change that may leave vectors unused. The change
        is committed by then: a compaction that fails (a full disk) or is cancelled changes
        nothing and must not undo its success; it is tried again after the next change, and
        `docretriever compact` says why it fails."""
        with contextlib.suppress(LibraryError, Cancelled):
            self.compact_if_worthwhile(progress, cancel)

    def info(self) -> LibraryInfo:
        meta = self.catalog.get_meta
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        documents = self.catalog.documents()
        return LibraryInfo(
            location=str(self.folder),
            model_id=meta("model_id"),
            model_revision=meta("model_revision"),
            model_fingerprint=meta("model_fingerprint"),
            dim=self.stored_dim(),
            counts=self.catalog.counts(),
            bytes_on_disk=size,
            token_pool_factor=self.token_pool_factor,
            followed=tuple(root for root, _ in self.catalog.roots()),
            documents_missing=sum(1 for d in documents if d.availability == MISSING),
            documents_unavailable=sum(1 for d in documents if d.availability == UNAVAILABLE),
            search_quality=record.as_dict() if (record := last_recall(self.folder)) else None,
        )

    def render_page(self, doc_id: str, page: int, max_pixels: int) -> RenderedPage:
        document = self.find_document(doc_id)
        records = [p for p in self.catalog.pages(document.id) if p.index == page - 1]
        if not records:
            raise InvalidInputError(f"{doc_id} has no page {page}.")
        path = Path(existing_path(document.paths))
        if not path.exists():
            raise LibraryError(f"The file of document {document.doc_id} is no longer at {path}.")
        password = functools.partial(self.passwords.get, document.sha256)  # asked only if needed
        return render_for_display(path, records[0].info, max_pixels, password, document.sha256)

    def page_infos(self, doc_id: str) -> list[PageInfo]:
        return [page.info for page in self.catalog.pages(self.find_document(doc_id).id)]

    def close(self) -> None:
        self._close_renderer()
        self.close_pages()
