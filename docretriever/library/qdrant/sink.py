"""A Qdrant library as the ingest's sink (see :mod:`~docretriever.library.ingest.sink`).

A document is recorded (pending) before its pages are embedded and marked indexed after its
last page is uploaded. Page ids come from the file's SHA-256, so a run cut short (a crash, a
cancel, a lost connection) resumes by embedding only the pages the server does not hold yet;
an upload returns once the server has acknowledged it (``wait=True``). Failed pages are not
kept on the server, only counted in the document's note; a document indexed with some pages
failed is skipped by the next ``add`` (a re-index tries them again). Pages are keyed by document
and index, not by picture, so no vectors are reused either.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from docretriever.documents import find_documents
from docretriever.documents.passwords import PasswordStore
from docretriever.documents.pdf import PageInfo
from docretriever.embedding.base import PageEmbedding
from docretriever.errors import DocumentError
from docretriever.library.ingest.sink import FoundFiles, RecordedFile, ReusedPage, document_note
from docretriever.library.qdrant.schema import multivector_too_large
from docretriever.library.qdrant.store import QdrantStore
from docretriever.vocabulary import FAILED, INDEXED, PENDING, AddReport, Document, FileOutcome


class QdrantSink:
    """The ingest sink of the Qdrant collection ``store`` whose rows have ``dim`` dimensions."""

    def __init__(self, store: QdrantStore, dim: int, passwords: PasswordStore) -> None:
        self.store = store
        self.dim = dim
        self._passwords = passwords
        self._documents: dict[str, Document] = {}  # SHA-256 -> the document as last written
        self._pages: dict[str, list[PageInfo]] = {}  # SHA-256 -> every page of its file
        self._failures: dict[str, list[tuple[int, str]]] = {}  # SHA-256 -> (page index, reason)

    @property
    def passwords(self) -> PasswordStore:
        return self._passwords

    def find_files(self, paths: Sequence[str]) -> FoundFiles:
        discovery = find_documents(paths)
        return FoundFiles(
            discovery.files, problems=[(str(path), reason) for path, reason in discovery.problems]
        )

    def needs_indexing(self, sha256: str) -> bool:
        known = self.store.document(sha256)
        return known is None or known.status != INDEXED

    def record_file(self, path: Path, sha256: str, size: int, mtime: float) -> RecordedFile:
        store = self.store
        absolute = str(path)  # absolute, links not resolved: the path the person gave, as locally
        # The file at this path changed: its old version leaves the path, and the library when it
        # has no other path left (as in a local library).
        for previous in store.documents_where("paths", absolute):
            if previous.sha256 != sha256:
                rest = tuple(p for p in previous.paths if p != absolute)
                if rest:
                    store.put_document(previous.replaced(paths=rest), previous.page_count or 0)
                else:
                    store.delete_document(previous.sha256)
        known = store.document(sha256)
        paths = tuple(sorted({*(known.paths if known else ()), absolute}))
        if known is not None and known.status == INDEXED:
            if paths != known.paths:  # the same file somewhere else (or on another desktop)
                known = known.replaced(paths=paths)
                store.put_document(known, known.page_count or 0)
            return RecordedFile(known, to_index=False)
        document = Document(
            sha256=sha256,
            paths=paths,
            size=size,
            page_count=None,
            status=PENDING,
            error=None,
            error_details=None,
            added_at=known.added_at if known else time.time(),
        )
        self._documents[sha256] = document
        return RecordedFile(document, to_index=True)

    def files_recorded(self, report: AddReport) -> None:
        """Nothing to settle: a Qdrant library follows no folders (``sync`` re-adds known paths)."""

    def mark_pending(self, document: Document) -> None:
        """Written with its page count by :meth:`set_pages` or as failed by :meth:`fail_document`."""

    def set_pages(self, document: Document, pages: Sequence[PageInfo]) -> None:
        self._pages[document.sha256] = list(pages)
        self._failures[document.sha256] = []
        recorded = self._documents[document.sha256].replaced(page_count=len(pages))
        self._documents[document.sha256] = recorded
        self.store.put_document(recorded, 0)

    def fail_document(self, document: Document, error: DocumentError) -> None:
        failed = self._documents[document.sha256].replaced(
            status=FAILED, error=str(error), error_details=error.details
        )
        self.store.put_document(failed, 0)

    def pending_pages(self, document: Document) -> list[PageInfo]:
        stored = self.store.stored_page_indexes(document.sha256)
        return [page for page in self._pages[document.sha256] if page.index not in stored]

    def reuse_plan(self, contents: Sequence[str | None]) -> list[bool]:
        return [False] * len(contents)  # pages are keyed by document and index, not by picture

    def store_pages(
        self,
        document: Document,
        pages: Sequence[PageInfo],
        embeddings: Sequence[PageEmbedding],
        renderers: Sequence[str],
        contents: Sequence[str | None],
    ) -> list[tuple[PageInfo, str]]:
        upload = []
        refused: list[tuple[PageInfo, str]] = []
        for info, embedding, renderer in zip(pages, embeddings, renderers, strict=True):
            # Checked before uploading: a server would refuse the whole request.
            reason = multivector_too_large(len(embedding.vectors), self.dim)
            if reason is None:
                upload.append((info, embedding, renderer))
            else:
                refused.append((info, reason))
        self.store.put_pages(document.sha256, upload, self.dim)
        return refused

    def store_reused(self, document: Document, pages: Sequence[ReusedPage]) -> None:
        raise AssertionError("a Qdrant sink plans no reuse")  # reuse_plan is all False

    def fail_pages(self, document: Document, failures: Sequence[tuple[PageInfo, str]]) -> None:
        self._failures[document.sha256].extend((page.index, reason) for page, reason in failures)

    def finish_document(self, document: Document, path: Path, missing: str | None) -> FileOutcome:
        sha256 = document.sha256
        indexed = len(self.store.stored_page_indexes(sha256))
        status, error = _status(indexed, len(self._pages[sha256]), self._failures[sha256], missing)
        if indexed:
            self.store.mark_ready(sha256)
        final = self._documents[sha256].replaced(status=status, error=error)
        self.store.put_document(final, indexed)
        return FileOutcome(str(path), status, document.doc_id, indexed, error)

    def end(self) -> None:
        """Nothing is saved once a run: every upload was acknowledged when it returned."""


def _status(
    indexed: int, pages: int, failures: list[tuple[int, str]], missing: str | None
) -> tuple[str, str | None]:
    if indexed == 0:
        reason = min(failures)[1] if failures else "No page could be indexed."
        return FAILED, " ".join(filter(None, [missing, reason]))
    if indexed < pages and not failures:  # failed in an earlier run, or cut short
        lost = f"{pages - indexed} of {pages} pages could not be indexed and are not searchable."
        return INDEXED, " ".join(filter(None, [missing, lost]))
    return INDEXED, document_note(pages, failures, missing)
