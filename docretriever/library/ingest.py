"""Adding files to a local library: discover, record, render, embed, store, index.

A file is recorded before its pages are embedded, and every batch of pages is committed as soon
as its vectors are durable, so an interrupted ``add`` resumes where it stopped and never embeds
a committed page twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from docretriever.documents import UNDECODABLE_NAME, find_pdfs, is_text_path, sha256_of_file, shown_path
from docretriever.documents.passwords import GivenPasswords, inspect_with_password
from docretriever.errors import Cancelled, DocRetrieverError, DocumentError, EncryptedDocumentError
from docretriever.library.base import AddReport, FileOutcome, document_note
from docretriever.library.follow import (
    check_reach,
    drop_empty_roots,
    remember_roots,
    settle_paths,
    without_excluded,
)
from docretriever.library.pipeline import EmbeddedBatch, Pipeline
from docretriever.progress import CancelToken, Progress, ProgressCallback, RateMeter
from docretriever.storage.catalog import FAILED, INDEXED, PENDING, DocumentRecord

if TYPE_CHECKING:
    from docretriever.library.local import LocalLibrary

# Save the candidate index after this many new pages, so a crash loses little index work
# (the index is rebuilt from stored vectors anyway when it disagrees with the catalog).
_SAVE_EVERY_PAGES = 256


@dataclass
class Job:
    """A file to index, and the document it holds."""

    path: Path
    document: DocumentRecord
    note: str | None = None  # what the file promises but lacks (pages its page tree declares)
    password: str | None = field(default=None, repr=False)  # what opens it, when it needs one


def add_paths(
    library: LocalLibrary,
    paths: Sequence[str | os.PathLike[str]],
    progress: ProgressCallback,
    cancel: CancelToken,
    *,
    syncing: bool = False,
    reuse: bool = True,
    passwords: GivenPasswords | None = None,
) -> AddReport:
    """Implementation of :meth:`LocalLibrary.add` (and of its sync, which walks the folders it
    follows, see :mod:`~docretriever.library.follow`); the caller holds the writer lock. The
    given paths that exist are followed from now on unless ``remember_roots_given`` is False.
    Pages whose picture is stored already reuse its vectors unless ``reuse`` is False (see
    :mod:`~docretriever.library.page_reuse`). A file that needs a password is opened with the one
    ``passwords`` gives for its path, else the one the library's password store knows."""
    catalog = library.catalog
    opening = passwords or GivenPasswords()
    given = [os.path.abspath(Path(path).expanduser()) for path in paths]
    if not syncing:
        for folder in given:
            catalog.include(folder)
    reach = check_reach(catalog, given)
    discovery = find_pdfs(reach.walk)
    discovery.files = without_excluded(catalog, discovery.files)
    recorded_before = {path: [known for known, _ in catalog.paths_under(path)] for path in reach.walk}
    known = {path for path, under in recorded_before.items() if under}
    report = AddReport(
        # A known file or folder that is gone is reported as missing, not as a wrong path.
        problems=[
            (str(path), reason) for path, reason in discovery.problems if os.path.abspath(path) not in known
        ],
        unreachable=[(state.path, state.reason) for state in reach.unreachable],
    )
    jobs: dict[int, Job] = {}  # one job per document, however many of its paths were given
    recorded = Recorded()
    try:
        for number, path in enumerate(discovery.files, start=1):
            cancel.raise_if_cancelled()
            progress(Progress("Reading files", number, len(discovery.files), "files", shown_path(path.name)))
            job = _record_file(library, path, report, recorded, opening)
            if job is not None:
                jobs.setdefault(job.document.id, job)
    finally:  # after recording, so that a file moved within this run keeps its document
        was_known = {path for under in recorded_before.values() for path in under}
        settle_paths(catalog, reach.walk, recorded.found, report, was_known)
        for document_id in sorted(recorded.replaced):
            if not catalog.has_paths(document_id):  # its bytes are nowhere now: an old version
                library.forget(catalog.document(document_id))
        remember_roots(catalog, reach.walk)
        drop_empty_roots(catalog)  # a renamed folder added under its new name: the old one goes
    if not jobs:
        return report

    total = sum(len(catalog.pages(job.document.id, PENDING)) for job in jobs.values())
    progress(Progress("Loading the model", 0, None))
    embedder = library.embedder  # loads the model only when there is something to embed
    # The rate is measured from here, so the model's loading time does not count as pages/s.
    meter = RateMeter("Indexing", total, progress)
    meter.report(0)
    done = since_save = 0

    def stored(batch: EmbeddedBatch) -> None:
        nonlocal done, since_save
        done += len(batch.pages) + len(batch.reused) + len(batch.failures)
        report.pages_embedded += len(batch.pages)
        report.pages_reused += len(batch.reused)
        if batch.pages:
            report.embedded_in.add(batch.job.document.doc_id)
        since_save += len(batch.pages) + len(batch.reused)  # both are new in the index
        rates = " · ".join(f"{stage} {rate:.1f}/s" for stage, rate in pipeline.stage_rates().items())
        meter.report(done, f"{batch.job.path.name} ({rates})" if rates else batch.job.path.name)
        if since_save >= _SAVE_EVERY_PAGES:
            library.candidates.save()
            since_save = 0

    def document_done(job: Job) -> None:
        _finish_document(library, job.document.id, job.note)
        report.outcomes.append(_outcome(library, job))

    batch_size = max(1, int(getattr(embedder, "batch_size", 4)))
    pipeline = Pipeline(library, embedder, batch_size, stored, document_done, reuse=reuse)
    try:
        pipeline.run(list(jobs.values()), cancel)
    except Cancelled as stop:
        stop.report = report  # so that the caller can say what was kept
        raise
    finally:
        if library.candidates.dirty:
            library.candidates.save()
    return report


@dataclass
class Recorded:
    """What recording the found files learnt: path → document id for every file found, and the
    documents whose path now holds other bytes (forgotten at the end if no path holds them)."""

    found: dict[str, int] = field(default_factory=dict)
    replaced: set[int] = field(default_factory=set)


def _record_file(
    library: LocalLibrary, path: Path, report: AddReport, recorded: Recorded, given: GivenPasswords
) -> Job | None:
    """Hash the file, attach its path, and record its pages; None when nothing is left to do.

    Whatever goes wrong with this one file is recorded as its failure; the batch goes on.
    """
    try:
        return _record_file_or_raise(library, path, report, recorded, given)
    except DocRetrieverError:
        raise
    except OSError as exc:
        report.outcomes.append(FileOutcome(str(path), FAILED, error=f"Cannot read the file: {exc.strerror}."))
    return None


def _record_file_or_raise(
    library: LocalLibrary, path: Path, report: AddReport, recorded: Recorded, given: GivenPasswords
) -> Job | None:
    catalog = library.catalog
    if not is_text_path(path):  # SQLite stores text: refuse undecodable names before any write
        report.outcomes.append(FileOutcome(str(path), FAILED, error=UNDECODABLE_NAME))
        return None
    stat = path.stat()
    digest = sha256_of_file(path)
    document_id, previous = catalog.attach_file(digest, stat.st_size, str(path), stat.st_mtime)
    recorded.found[str(path)] = document_id
    if previous is not None:  # the file at this path changed: its old version left this path
        recorded.replaced.add(previous)
    document = catalog.document(document_id)
    retried = catalog.retry_failed_pages(document_id)
    if document.status == INDEXED and not retried:
        report.outcomes.append(FileOutcome(str(path), "skipped", document.doc_id, document.page_count or 0))
        return None
    # A new file, an interrupted one, or a retry (the failure may have been fixed since).
    catalog.set_document_status(document_id, PENDING)
    try:
        pages, password = inspect_with_password(library.renderer, library.passwords, path, digest, given)
        catalog.set_pages(document_id, pages)
    except DocumentError as exc:  # whatever MuPDF made of it, in a worker process
        catalog.set_document_status(document_id, FAILED, str(exc), exc.details)
        locked = isinstance(exc, EncryptedDocumentError)
        report.outcomes.append(
            FileOutcome(str(path), FAILED, document.doc_id, error=str(exc), needs_password=locked)
        )
        return None
    return Job(path, catalog.document(document_id), getattr(pages, "note", None), password)


def _finish_document(library: LocalLibrary, document_id: int, missing: str | None = None) -> None:
    pages = library.catalog.pages(document_id)
    indexed = sum(1 for page in pages if page.status == INDEXED)
    failed = [page for page in pages if page.status == FAILED]
    if indexed == 0:
        reason = failed[0].error if failed else "No page could be indexed."
        library.catalog.set_document_status(document_id, FAILED, " ".join(filter(None, [missing, reason])))
    else:
        failures = [(page.index, page.error or "unknown reason") for page in failed]
        note = document_note(len(pages), failures, missing)
        library.catalog.set_document_status(document_id, INDEXED, note)


def _outcome(library: LocalLibrary, job: Job) -> FileOutcome:
    document = library.catalog.document(job.document.id)
    indexed = len(library.catalog.pages(document.id, INDEXED))
    return FileOutcome(str(job.path), document.status, document.doc_id, indexed, document.error)
