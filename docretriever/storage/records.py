"""What the catalog hands out: documents (with where their files are) and pages (with where
their vectors are)."""

from __future__ import annotations

from dataclasses import dataclass, field

from docretriever.documents.pdf import PageInfo
from docretriever.vocabulary import (  # re-exported: the catalog stores these words
    FAILED,
    INDEXED,
    MISSING,
    PENDING,
    PRESENT,
    UNAVAILABLE,
    Document,
)


@dataclass(frozen=True)
class DocumentRecord(Document):
    """A document as the catalog holds it: a :class:`~docretriever.vocabulary.Document` with the
    catalog's own row ``id``, which pages refer to and which never leaves the local back end."""

    id: int = field(kw_only=True)


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


__all__ = [
    "FAILED",
    "INDEXED",
    "MISSING",
    "PENDING",
    "PRESENT",
    "UNAVAILABLE",
    "DocumentRecord",
    "PageRecord",
]
