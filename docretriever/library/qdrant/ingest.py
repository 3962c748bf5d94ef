"""Adding files to a Qdrant library: hash, inspect, render, embed, upload, one document at a time.

A document is recorded (pending) before its pages are embedded and marked indexed after the last
one is uploaded. Page ids come from the file's SHA-256, so a run cut short (a crash, a cancel,
a lost connection) resumes by embedding only the pages the server does not hold yet.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from docretriever.documents import UNDECODABLE_NAME, find_pdfs, is_text_path, sha256_of_file, shown_path
from docretriever.documents.passwords import GivenPasswords, inspect_with_password
from docretriever.documents.pdf import PageInfo
from docretriever.documents.render import RenderedPage
from docretriever.embedding.base import PageEmbedding, render_sizes
from docretriever.errors import Cancelled, DocRetrieverError, DocumentError, EncryptedDocumentError
from docretriever.library.base import AddReport, FileOutcome, document_note
from docretriever.library.qdrant.schema import multivector_too_large
from docretriever.progress import CancelToken, Progress, ProgressCallback, RateMeter
from docretriever.storage.catalog import FAILED, INDEXED, PENDING, DocumentRecord

if TYPE_CHECKING:
    from docretriever.library.qdrant.library import QdrantLibrary


# A file to index: where it is, its document, its pages, and the password that opens it.
_Job = tuple[Path, DocumentRecord, list[PageInfo], str | None]


def add_to_qdrant(
    library: QdrantLibrary,
    paths: Sequence[str | os.PathLike[str]],
    progress: ProgressCallback,
    cancel: CancelToken,
    passwords: GivenPasswords | None = None,
) -> AddReport:
    """Implementation of :meth:`QdrantLibrary.add`."""
    report = AddReport()
    try:
        return _add(library, paths, progress, cancel, report, passwords or GivenPasswords())
    except Cancelled as stop:
        stop.report = report  # so that the caller can say what was kept
        raise


def _add(
    library: QdrantLibrary,
    paths: Sequence[str | os.PathLike[str]],
    progress: ProgressCallback,
    cancel: CancelToken,
    report: AddReport,
    given: GivenPasswords,
) -> AddReport:
    discovery = find_pdfs(paths)
    report.problems = [(str(path), reason) for path, reason in discovery.problems]
    jobs: list[_Job] = []
    for number, path in enumerate(discovery.files, start=1):
        cancel.raise_if_cancelled()
        progress(Progress("Reading files", number, len(discovery.files), "files", shown_path(path.name)))
        try:
            job = _record_file(library, path, report, given)
        except DocRetrieverError:
            raise
        except OSError as exc:
            report.outcomes.append(
                FileOutcome(str(path), FAILED, error=f"Cannot read the file: {exc.strerror}.")
            )
            continue
        if job is not None:
            jobs.append(job)
    if not jobs:
        return report
    progress(Progress("Loading the model", 0, None))
    embedder = library.embedder
    store = library.store
    todo = {job[1].sha256: store.stored_page_indexes(job[1].sha256) for job in jobs}
    total = sum(len([p for p in pages if p.index not in todo[record.sha256]]) for _, record, pages, _ in jobs)
    meter = RateMeter("Indexing", total, progress)
    meter.report(0)
    done = 0
    batch_size = max(1, int(getattr(embedder, "batch_size", 4)))
    for path, record, pages, password in jobs:
        missing = [page for page in pages if page.index not in todo[record.sha256]]
        failures: list[tuple[int, str]] = []
        for start in range(0, len(missing), batch_size):
            cancel.raise_if_cancelled()
            batch = missing[start : start + batch_size]
            rendered = library.renderer.render(path, batch, render_sizes(embedder, batch), password)
            ok = [
                (info, page)
                for info, page in zip(batch, rendered, strict=True)
                if isinstance(page, RenderedPage)
            ]
            failures += [
                (info.index, str(page))
                for info, page in zip(batch, rendered, strict=True)
                if not isinstance(page, RenderedPage)
            ]
            if ok:
                embeddings: list[PageEmbedding] = embedder.embed_pages([page.image for _, page in ok], cancel)
                upload = []
                for (info, page), embedding in zip(ok, embeddings, strict=True):
                    # Checked before uploading: a server would refuse the whole request.
                    refused = multivector_too_large(len(embedding.vectors), library.dim)
                    if refused is None:
                        upload.append((info, embedding, page.renderer))
                    else:
                        failures.append((info.index, refused))
                store.put_pages(record.sha256, upload, library.dim)
                report.pages_embedded += len(upload)
                if upload:
                    report.embedded_in.add(record.doc_id)
            done += len(batch)
            meter.report(done, path.name)
        indexed = len(store.stored_page_indexes(record.sha256))
        status, error = _status(indexed, len(pages), failures, getattr(pages, "note", None))
        if indexed:
            store.mark_ready(record.sha256)
        final = DocumentRecord(**{**record.__dict__, "status": status, "error": error})
        store.put_document(final, indexed)
        report.outcomes.append(FileOutcome(str(path), status, record.doc_id, indexed, error))
    return report


def _record_file(library: QdrantLibrary, path: Path, report: AddReport, given: GivenPasswords) -> _Job | None:
    store = library.store
    if not is_text_path(path):  # paths are stored as text, as in a local library
        report.outcomes.append(FileOutcome(str(path), FAILED, error=UNDECODABLE_NAME))
        return None
    stat = path.stat()
    digest = sha256_of_file(path)
    absolute = str(path.resolve())
    # The file at this path changed: its old version leaves the path, and the library when it
    # has no other path left (as in a local library).
    for previous in store.documents_where("paths", absolute):
        if previous.sha256 != digest:
            rest = tuple(p for p in previous.paths if p != absolute)
            if rest:
                store.put_document(
                    DocumentRecord(**{**previous.__dict__, "paths": rest}), previous.page_count or 0
                )
            else:
                store.delete_document(previous.sha256)
    known = store.document(digest)
    paths = tuple(sorted({*(known.paths if known else ()), absolute}))
    if known is not None and known.status == INDEXED:
        if paths != known.paths:  # the same file somewhere else (or on another desktop)
            store.put_document(DocumentRecord(**{**known.__dict__, "paths": paths}), known.page_count or 0)
        report.outcomes.append(FileOutcome(str(path), "skipped", known.doc_id, known.page_count or 0))
        return None
    record = DocumentRecord(
        id=int(digest[:15], 16),
        sha256=digest,
        paths=paths,
        size=stat.st_size,
        page_count=None,
        status=PENDING,
        error=None,
        error_details=None,
        added_at=known.added_at if known else time.time(),
    )
    try:
        pages, password = inspect_with_password(library.renderer, library.passwords, path, digest, given)
    except DocumentError as exc:
        failed = DocumentRecord(
            **{**record.__dict__, "status": FAILED, "error": str(exc), "error_details": exc.details}
        )
        store.put_document(failed, 0)
        locked = isinstance(exc, EncryptedDocumentError)
        report.outcomes.append(
            FileOutcome(str(path), FAILED, record.doc_id, error=str(exc), needs_password=locked)
        )
        return None
    record = DocumentRecord(**{**record.__dict__, "page_count": len(pages)})
    store.put_document(record, 0)
    return path, record, pages, password


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
