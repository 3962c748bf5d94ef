"""The words every part of DocRetriever speaks about a library: documents and their states,
what an ``add`` did to each file, and what a library holds.

Both back ends (the local folder and Qdrant) hand these out, and the CLI and the GUI read them;
neither back end's storage types cross this line (the local catalog's rows carry a SQLite id of
their own, see :mod:`docretriever.storage.records`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from docretriever.errors import EncryptedDocumentError

# What indexing made of a document (and of each of its pages).
PENDING, INDEXED, FAILED = "pending", "indexed", "failed"
# Where a document's file is, as last seen (by an add, a sync or a prune):
PRESENT = "present"  # at one of its paths at least
MISSING = "missing"  # at none of them, though their folders could be read: deleted or moved away
UNAVAILABLE = "unavailable"  # its folder could not be reached: an unmounted drive, an offline share
# How an encrypted file's failure ended before its details marked it (see needs_password).
_OLD_ENCRYPTED_MESSAGE = "is encrypted: a password is required to open it."


@dataclass(frozen=True)
class Document:
    """A document in a library, whichever back end holds it. ``doc_id`` (12 hex digits of its
    SHA-256) is what people type; the SHA-256 of its bytes is its identity everywhere.

    ``paths`` are every path its bytes were found at, kept when the file goes missing (they are
    its last known places). ``missing_since`` (seconds since the epoch) is set when none of them
    held the file at the last look; ``unavailable`` when that was because a folder or drive
    could not be reached rather than because the file was gone."""

    sha256: str
    paths: tuple[str, ...]
    size: int
    page_count: int | None
    status: str
    error: str | None
    error_details: str | None
    added_at: float
    missing_since: float | None = None
    unavailable: bool = False

    @property
    def doc_id(self) -> str:
        return self.sha256[:12]

    @property
    def needs_password(self) -> bool:
        """Whether indexing failed because the file needs a password to open (none was known, or
        the one given was not right): a person can be asked for it. Failures recorded before the
        details said so are known by their message."""
        if self.status != FAILED:
            return False
        details, error = self.error_details or "", self.error or ""
        return details.startswith(EncryptedDocumentError.DETAILS) or error.endswith(_OLD_ENCRYPTED_MESSAGE)

    @property
    def availability(self) -> str:
        """PRESENT, MISSING or UNAVAILABLE (see the module's constants)."""
        if self.missing_since is None:
            return PRESENT
        return UNAVAILABLE if self.unavailable else MISSING

    def replaced(self, **changes: object) -> Document:
        """A plain :class:`Document` with ``changes`` (field name -> value): a back end's own
        record (with its row id) becomes the shared type, as another back end takes it."""
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(Document)}
        return Document(**{**values, **changes})


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file of an ``add``: status is indexed, failed, skipped (already in
    the library), moved (already in the library, found at a new place: nothing embedded) or
    missing (the file is not at its last known place: its document is kept, still searchable,
    until a ``prune``; ``path`` is then that place). ``needs_password``: it failed because it
    needs a password to open (none was known, or the one given was not right)."""

    path: str
    status: str
    doc_id: str | None = None
    pages: int = 0
    error: str | None = None
    needs_password: bool = False


@dataclass
class AddReport:
    """The result of :meth:`Library.add`, one outcome per file, plus paths that were unusable
    and followed folders that could not be reached (left as they were), each with its reason."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    pages_embedded: int = 0
    pages_reused: int = 0  # unchanged pages whose stored vectors served again (nothing embedded)
    embedded_in: set[str] = field(default_factory=set)  # doc ids of the documents those pages are in

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def summary(self, failed_note: str = "") -> str:
        """The outcomes counted in words: "3 indexed, 1 already in the library, 1 failed"."""
        parts = [f"{self.count('indexed')} indexed"]
        if self.count("skipped"):
            parts.append(f"{self.count('skipped')} already in the library")
        if self.count("failed"):
            parts.append(f"{self.count('failed')} failed{failed_note}")
        if self.count("moved"):
            parts.append(f"{self.count('moved')} found at a new place")
        if self.count("missing"):
            parts.append(f"{self.count('missing')} missing (kept)")
        if self.unreachable:
            folders = len(self.unreachable)
            if folders == 1:
                parts.append("1 folder not available (left as it was)")
            else:
                parts.append(f"{folders} folders not available (left as they were)")
        return ", ".join(parts)


@dataclass(frozen=True)
class Removal:
    """What ``Library.remove`` did. ``path`` is set when the reference was one path of a
    document that has others: only that path left the library (``document`` is then the
    document as it stays, under its other paths, with its pages). Otherwise ``path`` is None
    and ``document`` (as it was) left the library with all its paths and pages."""

    document: Document
    path: str | None = None


@dataclass(frozen=True)
class CompactReport:
    """What :meth:`Library.compact` did: the vector store's size before and after, in bytes,
    and how many pages' vectors it copied. ``note`` says why nothing was done, if so."""

    bytes_before: int
    bytes_after: int
    pages_moved: int = 0
    note: str | None = None

    @property
    def reclaimed(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)


@dataclass(frozen=True)
class LibraryInfo:
    """Where a library lives, what model built it and how big it is."""

    location: str
    model_id: str | None
    model_revision: str | None
    model_fingerprint: str | None
    dim: int | None
    counts: dict[str, int]
    bytes_on_disk: int
    token_pool_factor: int = 1  # 1: every cell keeps its vector
    followed: tuple[str, ...] = ()  # the folders (and files) a sync walks
    documents_missing: int = 0  # at none of their paths, in folders that could be read
    documents_unavailable: int = 0  # in folders that could not be reached at the last look
    # The recall watch's last measurement (library/recall_watch.py RecallRecord.as_dict), if any.
    search_quality: dict[str, object] | None = None


def availability_note(document: Document) -> str:
    """One sentence on where a document's file is, for one that is not where it was:
    "Missing since 2026-12-01 14:02: not at /a/b.pdf; still searchable." """
    if document.missing_since is None:
        return ""
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(document.missing_since))
    where = document.paths[0] if document.paths else "its last known place"
    also = f" (or its {len(document.paths) - 1} other places)" if len(document.paths) > 1 else ""
    kept = "kept and still searchable" if document.status == INDEXED else "kept"
    if document.unavailable:
        return (
            f"Not available since {since}: the folder of {where}{also} could not be reached "
            f"(a drive or share that is not connected?); {kept}."
        )
    return f"Missing since {since}: not at {where}{also}; {kept} until forgotten."
