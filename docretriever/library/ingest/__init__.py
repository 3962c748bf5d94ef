"""One ingest for every back end: :func:`add_files` through a back end's :class:`IngestSink`."""

from docretriever.library.ingest.files import add_files
from docretriever.library.ingest.pipeline import content_hash
from docretriever.library.ingest.sink import (
    FoundFiles,
    IngestSink,
    RecordedFile,
    ReusedPage,
    document_note,
)

__all__ = [
    "FoundFiles",
    "IngestSink",
    "RecordedFile",
    "ReusedPage",
    "add_files",
    "content_hash",
    "document_note",
]
