"""What the catalog hands out: documents (with where their files are) and pages (with where
their vectors are)."""

from __future__ import annotations

from dataclasses import dataclass

from docretriever.documents.pdf import PageInfo
from docretriever.errors import EncryptedDocumentError

PENDING, INDEXED, FAILED = "pending", "indexed", "failed"
# Where a document's file is, as last seen (by an add, a sync or a prune):
PRESENT = "present"  # at one of its paths at least
MISSING = "missing"  # at none of them, though their folders could be read: deleted or moved away
UNAVAILABLE = "unavailable"  # its folder could not be reached: an unmounted drive, an offline share
# How an encrypted file's failure ended before its details marked it (see needs_password).
_OLD_ENCRYPTED_MESSAGE = "is encrypted: a password is required to open it."


@dataclass(frozen=True)
class DocumentRecord:
    """A document in the library. ``doc_id`` (12 hex digits of its SHA-256) is what people type.

    ``paths`` are every path its bytes were found at, kept when the file goes missing (they are
    its last known places). ``missing_since`` (seconds since the epoch) is set when none of them
    held the file at the last look; ``unavailable`` when that was because a folder or drive
    could not be reached rather than because the file was gone."""

    id: int
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


@dataclass(frozen=True)
class PageRecord:
    """A page: 0-based ``index``; size as displayed in points; where its vectors are."""

    id: int
    document_id: int
    index: int
    width_pt: float
    height_pt: float
    rotation: int
    status: str
    error: str | None
    grid: tuple[int, int] | None  # (n_x, n_y)
    n_rows: int | None
    segment: int | None
    row_offset: int | None
    # Token-pooled pages: the stored row of each cell, int16 little-endian (see PageEmbedding).
    cell_rows: bytes | None = None
    # SHA-256 of the page as rendered for the model (pixels and size): the same picture gets
    # the same vectors, so an unchanged page of an edited file reuses them.
    content_sha256: str | None = None
    # The number printed on the page (its PDF page label), None without one or in a library
    # indexed before labels were recorded.
    label: str | None = None

    @property
    def info(self) -> PageInfo:
        return PageInfo(self.index, self.width_pt, self.height_pt, self.rotation, self.label)
