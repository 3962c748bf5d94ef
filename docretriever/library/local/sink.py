"""A local library as the ingest's sink: the catalog records files and pages, the vector store
and the search index take what is embedded (see :mod:`~docretriever.library.ingest.sink`).

Besides storing, the local library follows the folders people add
(:mod:`~docretriever.library.local.follow`): which files a run reads, which went missing or
moved, and which old versions to forget are settled here, around the shared ingest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from docretriever.documents import find_documents
from docretriever.documents.passwords import PasswordStore
from docretriever.documents.pdf import PageInfo
from docretriever.embedding.base import PageEmbedding
from docretriever.errors import DocumentError, LibraryError
from docretriever.library.ingest.sink import FoundFiles, RecordedFile, ReusedPage, document_note
from docretriever.library.local.follow import (
    check_reach,
    drop_empty_roots,
    remember_roots,
    settle_paths,
    without_excluded,
)
from docretriever.library.local.page_reuse import ReuseFinder, store_reused
from docretriever.library.local.store import LocalPageStore
from docretriever.storage.catalog import PageRecord
from docretriever.vocabulary import FAILED, INDEXED, PENDING, AddReport, Document, FileOutcome

# Save the candidate index after this many new pages, so a crash loses little index work
# (the index is rebuilt from stored vectors anyway when it disagrees with the catalog).
SAVE_EVERY_PAGES = 256


class LocalSink:
    """The ingest sink of the local library ``pages`` (writer lock held by the caller for the
    whole run). ``syncing``: the paths are the followed folders themselves (a sync), not new
    ones to follow. ``follow``: the paths walked are followed from now on (False for changes a
    watch saw inside followed folders: each file must not become a followed path). ``reuse``:
    pages whose picture is stored already reuse its vectors (see
    :mod:`~docretriever.library.local.page_reuse`); a re-index, asked to embed again, says no."""

    def __init__(
        self, pages: LocalPageStore, *, syncing: bool = False, follow: bool = True, reuse: bool = True
    ) -> None:
        self.library = pages
        self.catalog = pages.catalog
        self.syncing = syncing
        self.follow = follow
        self._reuse = ReuseFinder(pages.catalog, reuse)
        self._walked: list[str] = []
        self._taken_back: list[str] = []
        self._recorded_before: set[str] = set()
        self._found: dict[str, int] = {}  # path -> catalog id of the document found there
        self._replaced: set[int] = set()  # documents whose path now holds other bytes
        self._ids: dict[str, int] = {}  # SHA-256 -> catalog id
        self._pending: dict[int, dict[int, PageRecord]] = {}  # catalog id -> page index -> page
        self._since_save = 0

    @property
    def passwords(self) -> PasswordStore:
        return self.library.passwords

    def find_files(self, paths: Sequence[str]) -> FoundFiles:
        catalog = self.catalog
        # Paths given again are taken back from the exclusions (written by files_recorded).
        self._taken_back = [] if self.syncing else list(paths)
        reach = check_reach(catalog, paths)
        discovery = find_documents(reach.walk)
        self._walked = reach.walk
        recorded_before = {path: [known for known, _ in catalog.paths_under(path)] for path in reach.walk}
        self._recorded_before = {path for under in recorded_before.values() for path in under}
        known = {path for path, under in recorded_before.items() if under}
        return FoundFiles(
            without_excluded(catalog, discovery.files, self._taken_back),
            # A known file or folder that is gone is reported as missing, not as a wrong path.
            problems=[
                (str(path), reason)
                for path, reason in discovery.problems
                if os.path.abspath(path) not in known
            ],
            unreachable=[(state.path, state.reason) for state in reach.unreachable],
        )

    def needs_indexing(self, sha256: str) -> bool:
        try:
            document = self.catalog.document_with_sha256(sha256)
        except LibraryError:
            return True  # new bytes
        return document.status != INDEXED or bool(self.catalog.pages(document.id, FAILED))

    def record_file(self, path: Path, sha256: str, size: int, mtime: float) -> RecordedFile:
        document_id, previous = self.catalog.attach_file(sha256, size, str(path), mtime)
        self._found[str(path)] = document_id
        self._ids[sha256] = document_id
        if previous is not None:  # the file at this path changed: its old version left this path
            self._replaced.add(previous)
        document = self.catalog.document(document_id)
        retried = self.catalog.retry_failed_pages(document_id)
        return RecordedFile(document, to_index=document.status != INDEXED or bool(retried))

    def files_recorded(self, report: AddReport) -> None:
        catalog = self.catalog
        for given in self._taken_back:
            catalog.include(given)
        settle_paths(catalog, self._walked, self._found, report, self._recorded_before)
        for document_id in sorted(self._replaced):
            if not catalog.has_paths(document_id):  # its bytes are nowhere now: an old version
                self.library.forget(catalog.document(document_id))
        if self.follow:
            remember_roots(catalog, self._walked)
        drop_empty_roots(catalog)  # a renamed folder added under its new name: the old one goes

    def mark_pending(self, document: Document) -> None:
        self.catalog.set_document_status(self._ids[document.sha256], PENDING)

    def set_pages(self, document: Document, pages: Sequence[PageInfo]) -> None:
        self.catalog.set_pages(self._ids[document.sha256], pages)

    def fail_document(self, document: Document, error: DocumentError) -> None:
        self.catalog.set_document_status(self._ids[document.sha256], FAILED, str(error), error.details)

    def pending_pages(self, document: Document) -> list[PageInfo]:
        document_id = self._ids[document.sha256]
        pending = {page.index: page for page in self.catalog.pages(document_id, PENDING)}
        self._pending[document_id] = pending
        return [page.info for page in pending.values()]

    def _records(self, document: Document, pages: Sequence[PageInfo]) -> list[PageRecord]:
        pending = self._pending[self._ids[document.sha256]]
        return [pending[page.index] for page in pages]

    def reuse_plan(self, contents: Sequence[str | None]) -> list[bool]:
        return self._reuse.plan(contents)

    def store_pages(
        self,
        document: Document,
        pages: Sequence[PageInfo],
        embeddings: Sequence[PageEmbedding],
        renderers: Sequence[str],
        contents: Sequence[str | None],
    ) -> list[tuple[PageInfo, str]]:
        self.library.store_pages(self._records(document, pages), embeddings, renderers, contents)
        self._stored(len(pages))
        return []

    def store_reused(self, document: Document, pages: Sequence[ReusedPage]) -> None:
        records = self._records(document, [page.page for page in pages])
        store_reused(self.library, [(record, page) for record, page in zip(records, pages, strict=True)])
        self._stored(len(pages))

    def _stored(self, pages: int) -> None:
        self._since_save += pages  # embedded or reused, both are new in the index
        if self._since_save >= SAVE_EVERY_PAGES:
            self.library.candidates.save()
            self._since_save = 0

    def fail_pages(self, document: Document, failures: Sequence[tuple[PageInfo, str]]) -> None:
        for record, (_, reason) in zip(
            self._records(document, [p for p, _ in failures]), failures, strict=True
        ):
            self.catalog.fail_page(record.id, reason)

    def finish_document(self, document: Document, path: Path, missing: str | None) -> FileOutcome:
        catalog = self.catalog
        document_id = self._ids[document.sha256]
        pages = catalog.pages(document_id)
        indexed = sum(1 for page in pages if page.status == INDEXED)
        failed = [page for page in pages if page.status == FAILED]
        if indexed == 0:
            reason = failed[0].error if failed else "No page could be indexed."
            catalog.set_document_status(document_id, FAILED, " ".join(filter(None, [missing, reason])))
        else:
            failures = [(page.index, page.error or "unknown reason") for page in failed]
            catalog.set_document_status(document_id, INDEXED, document_note(len(pages), failures, missing))
        final = catalog.document(document_id)
        return FileOutcome(str(path), final.status, final.doc_id, indexed, final.error)

    def end(self) -> None:
        self.library.save_index_if_changed()
