"""What an ingest asks of a back end: the small protocol each one implements.

The ingest itself (:mod:`~docretriever.library.ingest.files` and
:mod:`~docretriever.library.ingest.pipeline`) finds files, hashes them, inspects and renders them
in the worker processes, embeds their pages and reports on every file, the same for every back
end. Where the results go, and which files and pages are new, is the sink's: the local library
keeps them in its catalog, vector store and search index, Qdrant in its collections.

Documents are named by the SHA-256 of their bytes (:class:`~docretriever.vocabulary.Document`),
pages by their 0-based index (:class:`~docretriever.documents.pdf.PageInfo`): the sink maps
them to its own records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from docretriever.documents.passwords import PasswordStore
from docretriever.documents.pdf import PageInfo
from docretriever.embedding.base import PageEmbedding
from docretriever.errors import DocumentError
from docretriever.vocabulary import AddReport, Document, FileOutcome


@dataclass
class FoundFiles:
    """The PDFs an ``add`` will read, with the paths it cannot use and the followed folders it
    could not reach, each with its reason (see :class:`~docretriever.vocabulary.AddReport`)."""

    files: list[Path]
    problems: list[tuple[str, str]] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedFile:
    """A file the sink has attached to its document: ``to_index`` is False when the document is
    indexed already and nothing of it needs doing."""

    document: Document
    to_index: bool


@dataclass(frozen=True)
class ReusedPage:
    """A rendered page that is not embedded: the sink holds vectors for its picture already
    (``content``, its hash; see :meth:`IngestSink.reuse_plan`). ``renderer`` drew it this time."""

    page: PageInfo
    renderer: str
    content: str


class IngestSink(Protocol):
    """Where an ingest puts what it finds; one instance per ``add``, used by one ingest at a time.

    The calls come in this order for each run: :meth:`find_files` (which writes nothing); per
    file :meth:`needs_indexing` (which writes nothing either) and :meth:`record_file`,
    then, for a file to index, :meth:`mark_pending` and :meth:`set_pages` or
    :meth:`fail_document`; :meth:`files_recorded` (also when recording stopped on an error, but
    not when the library refused the model);
    then, per document, :meth:`pending_pages` and batches of :meth:`store_pages` /
    :meth:`store_reused` / :meth:`fail_pages`, then :meth:`finish_document`; :meth:`end` last,
    whatever happened. Store calls come from one thread (the pipeline's storing thread),
    :meth:`reuse_plan` from the rendering thread. A store call returns only once what it stored
    is durable: a crash after it must not lose it, a crash before it must leave the page pending.
    """

    @property
    def passwords(self) -> PasswordStore:
        """Where the passwords of files that need one are found (and kept, when asked)."""
        ...

    def find_files(self, paths: Sequence[str]) -> FoundFiles:
        """The PDFs under ``paths`` (absolute) that this ``add`` reads."""
        ...

    def needs_indexing(self, sha256: str) -> bool:
        """Whether the document with these bytes (SHA-256, 64 hex digits) has pages to embed:
        it is new, unfinished, or has failed pages to try again. Writes nothing: the ingest
        asks before recording the file, and loads the model first when the answer is yes."""
        ...

    def record_file(self, path: Path, sha256: str, size: int, mtime: float) -> RecordedFile:
        """Attach the file at ``path`` (its bytes' SHA-256, size in bytes, modification time in
        seconds since the epoch) to its document, creating the document if it is new."""
        ...

    def files_recorded(self, report: AddReport) -> None:
        """Every file found was recorded (or recording stopped): settle what that implies (files
        moved or gone, folders followed), adding outcomes to ``report``."""
        ...

    def mark_pending(self, document: Document) -> None:
        """The document is about to be (re-)indexed: mark it pending before any page is stored."""
        ...

    def set_pages(self, document: Document, pages: Sequence[PageInfo]) -> None:
        """Record the document's pages (all of them, in order) as found by inspecting its file;
        pages already stored stay stored."""
        ...

    def fail_document(self, document: Document, error: DocumentError) -> None:
        """The file could not be opened or read: record the document as failed with ``error``."""
        ...

    def pending_pages(self, document: Document) -> list[PageInfo]:
        """The document's pages that still need vectors (none stored, none failed for good)."""
        ...

    def reuse_plan(self, contents: Sequence[str | None]) -> list[bool]:
        """For each rendered page's content hash (None: not rendered), whether the sink holds
        vectors for that very picture already (or will, from a page sent for embedding earlier
        in this run), so that the page needs no embedding; all False for a sink that cannot
        reuse vectors."""
        ...

    def store_pages(
        self,
        document: Document,
        pages: Sequence[PageInfo],
        embeddings: Sequence[PageEmbedding],
        renderers: Sequence[str],
        contents: Sequence[str | None],
    ) -> list[tuple[PageInfo, str]]:
        """Store embedded pages durably; returns the pages the back end refused, each with the
        reason (they are then failed pages), an empty list when all were stored."""
        ...

    def store_reused(self, document: Document, pages: Sequence[ReusedPage]) -> None:
        """Store pages on the vectors the sink holds for their content (see :meth:`reuse_plan`)."""
        ...

    def fail_pages(self, document: Document, failures: Sequence[tuple[PageInfo, str]]) -> None:
        """Record pages that could not be rendered, each with the reason."""
        ...

    def finish_document(self, document: Document, path: Path, missing: str | None) -> FileOutcome:
        """All of the document's pages were handled: give it its final status (indexed when at
        least one page is searchable, with a note on what is not; failed otherwise) and say what
        happened to the file at ``path``. ``missing``: what the file promises but lacks."""
        ...

    def end(self) -> None:
        """The run is over (finished, failed or cancelled): save what is saved once a run."""
        ...


def document_note(total: int, failures: Sequence[tuple[int, str]], missing: str | None) -> str | None:
    """The note of a document that was indexed in part: ``failures`` are (0-based page index,
    reason) of its ``total`` pages that could not be indexed, ``missing`` what its file promises
    but lacks (:attr:`~docretriever.documents.pdf.PageList.note`). None when there is nothing to say."""
    notes = [missing] if missing else []
    if failures:
        index, reason = min(failures)
        others = len(failures) - 1
        also = f" (and {others} other page{'s' if others > 1 else ''})" if others else ""
        notes.append(
            f"{len(failures)} of {total} pages could not be indexed and "
            f"{'is' if len(failures) == 1 else 'are'} not searchable: page {index + 1}: {reason}{also}"
        )
    return " ".join(notes) or None
