"""Storage: the SQLite catalog and the memory-mapped float16 page vectors."""

from docretriever.storage.catalog import (
    FAILED,
    INDEXED,
    MISSING,
    PENDING,
    PRESENT,
    UNAVAILABLE,
    Catalog,
    DocumentRecord,
    PageRecord,
)
from docretriever.storage.vectors import VectorStore

__all__ = [
    "FAILED",
    "INDEXED",
    "MISSING",
    "PENDING",
    "PRESENT",
    "UNAVAILABLE",
    "Catalog",
    "DocumentRecord",
    "PageRecord",
    "VectorStore",
]
