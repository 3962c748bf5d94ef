"""Adding files to a library, whichever back end keeps it: find, hash, record, then render,
embed and store every pending page.

A file is recorded (its document pending, its pages listed) before any page is embedded, and
every batch of pages is stored durably before the next is reported, so an interrupted ``add``
resumes where it stopped and never embeds a stored page twice. Where things are stored is the
sink's (:mod:`~docretriever.library.ingest.sink`); the back ends differ in nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from docretriever.documents import UNDECODABLE_NAME, is_text_path, sha256_of_file, shown_path
from docretriever.documents.passwords import GivenPasswords, inspect_with_password
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding.base import Embedder
from docretriever.errors import Cancelled, DocRetrieverError, DocumentError, EncryptedDocumentError
from docretriever.library.ingest.pipeline import EmbeddedBatch, Job, Pipeline
from docretriever.library.ingest.sink import IngestSink
from docretriever.progress import CancelToken, Progress, ProgressCallback, RateMeter
from docretriever.vocabulary import FAILED, AddReport, FileOutcome


def add_files(
    sink: IngestSink,
    renderer: RenderPool,
    load_embedder: Callable[[], Embedder],
    paths: Sequence[str | os.PathLike[str]],
    progress: ProgressCallback,
    cancel: CancelToken,
    passwords: GivenPasswords | None = None,
) -> AddReport:
    """Add the PDFs at ``paths`` (files, or folders walked for PDFs) through ``sink``.

    ``renderer`` inspects and renders in its worker processes; ``load_embedder`` is called only
    when a page needs embedding (loading a model takes long). A file that needs a password is
    opened with the one ``passwords`` gives for its path, else the one the sink's password store
    knows. One file's failure is recorded as its outcome and the rest go on.

    Returns the report: one outcome per file, with the paths that could not be used. Raises
    :class:`~docretriever.errors.Cancelled` (its ``report`` says what was kept: everything
    stored before the cancel) and the errors of the back end (storage full, server lost).
    """
    opening = passwords or GivenPasswords()
    given = [os.path.abspath(Path(path).expanduser()) for path in paths]
    found = sink.find_files(given)
    report = AddReport(problems=found.problems, unreachable=found.unreachable)
    jobs: dict[str, Job] = {}  # one job per document, however many of its paths were given
    model = _ModelOnFirstNeed(load_embedder, progress)
    try:
        try:
            for number, path in enumerate(found.files, start=1):
                cancel.raise_if_cancelled()
                progress(Progress("Reading files", number, len(found.files), "files", shown_path(path.name)))
                job = _record_file(sink, renderer, path, report, opening, model)
                if job is not None:
                    jobs.setdefault(job.document.sha256, job)
        finally:  # after recording, so that a file moved within this run keeps its document
            if not model.refused:  # a refused model leaves the library as it was
                sink.files_recorded(report)
        if jobs:
            _index(sink, renderer, model.load(), list(jobs.values()), report, progress, cancel)
    except Cancelled as stop:
        stop.report = report  # so that the caller can say what was kept
        raise
    finally:
        sink.end()
    return report


class _ModelOnFirstNeed:
    """Loads the model the first time a file needs indexing, before anything of that file is
    written: a model the library refuses (another model built it) then stops the ``add`` with
    the library as it was. An ``add`` of files already indexed never loads it."""

    def __init__(self, load_embedder: Callable[[], Embedder], progress: ProgressCallback) -> None:
        self._load_embedder = load_embedder
        self._progress = progress
        self._embedder: Embedder | None = None
        self.refused = False

    def load(self) -> Embedder:
        if self._embedder is None:
            self._progress(Progress("Loading the model", 0, None))
            try:
                self._embedder = self._load_embedder()
            except Cancelled:
                raise
            except BaseException:
                self.refused = True
                raise
        return self._embedder


def _index(
    sink: IngestSink,
    renderer: RenderPool,
    embedder: Embedder,
    jobs: list[Job],
    report: AddReport,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    total = sum(len(sink.pending_pages(job.document)) for job in jobs)
    # The rate is measured from here, so the model's loading time does not count as pages/s.
    meter = RateMeter("Indexing", total, progress)
    meter.report(0)
    done = 0

    def stored(batch: EmbeddedBatch) -> None:
        nonlocal done
        done += len(batch.pages) + len(batch.reused) + len(batch.failures)
        report.pages_embedded += len(batch.pages) - len(batch.refused)
        report.pages_reused += len(batch.reused)
        if len(batch.pages) > len(batch.refused):
            report.embedded_in.add(batch.job.document.doc_id)
        rates = " · ".join(f"{stage} {rate:.1f}/s" for stage, rate in pipeline.stage_rates().items())
        meter.report(done, f"{batch.job.path.name} ({rates})" if rates else batch.job.path.name)

    def document_done(job: Job) -> None:
        report.outcomes.append(sink.finish_document(job.document, job.path, job.note))

    batch_size = max(1, int(getattr(embedder, "batch_size", 4)))
    pipeline = Pipeline(sink, renderer, embedder, batch_size, stored, document_done)
    pipeline.run(jobs, cancel)


def _record_file(
    sink: IngestSink,
    renderer: RenderPool,
    path: Path,
    report: AddReport,
    given: GivenPasswords,
    model: _ModelOnFirstNeed,
) -> Job | None:
    """Hash the file, attach its path, and record its pages; None when nothing is left to do.

    Whatever goes wrong with this one file is recorded as its failure; the batch goes on.
    """
    try:
        return _record_file_or_raise(sink, renderer, path, report, given, model)
    except DocRetrieverError:
        raise
    except OSError as exc:
        report.outcomes.append(FileOutcome(str(path), FAILED, error=f"Cannot read the file: {exc.strerror}."))
    return None


def _record_file_or_raise(
    sink: IngestSink,
    renderer: RenderPool,
    path: Path,
    report: AddReport,
    given: GivenPasswords,
    model: _ModelOnFirstNeed,
) -> Job | None:
    if not is_text_path(path):  # paths are stored as text: refuse undecodable names before any write
        report.outcomes.append(FileOutcome(str(path), FAILED, error=UNDECODABLE_NAME))
        return None
    stat = path.stat()
    digest = sha256_of_file(path)
    if sink.needs_indexing(digest):
        model.load()
    recorded = sink.record_file(path, digest, stat.st_size, stat.st_mtime)
    document = recorded.document
    if not recorded.to_index:
        report.outcomes.append(FileOutcome(str(path), "skipped", document.doc_id, document.page_count or 0))
        return None
    # A new file, an interrupted one, or a retry (the failure may have been fixed since).
    sink.mark_pending(document)
    try:
        pages, password = inspect_with_password(renderer, sink.passwords, path, digest, given)
    except DocumentError as exc:  # whatever MuPDF made of it, in a worker process
        sink.fail_document(document, exc)
        locked = isinstance(exc, EncryptedDocumentError)
        report.outcomes.append(
            FileOutcome(str(path), FAILED, document.doc_id, error=str(exc), needs_password=locked)
        )
        return None
    sink.set_pages(document, pages)
    return Job(path, document, getattr(pages, "note", None), password)
