"""Moving a library between back ends without embedding again: local → Qdrant and back.

The pages travel with their stored rows (float16 precision, as both back ends keep them), their
grid and, for a token-pooled local library, each cell's row; the model's identity goes first,
so a target built with another model refuses them. Both directions skip documents the target
holds already, so an interrupted transfer is simply run again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docretriever.embedding.base import PageEmbedding
from docretriever.errors import LibraryError
from docretriever.library.local.library import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary
from docretriever.progress import CancelToken, ProgressCallback, RateMeter, ignore_progress
from docretriever.storage.catalog import INDEXED


@dataclass(frozen=True)
class TransferReport:
    documents: int  # documents copied
    pages: int  # pages copied
    skipped: int  # documents the target held already


def export_to_qdrant(
    source: LocalLibrary,
    target: QdrantLibrary,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TransferReport:
    """Copy every indexed document of a local library into a Qdrant library."""
    identity = source.identity()
    if identity is None:
        raise LibraryError(f"The library at {source.folder} holds no pages yet: there is nothing to export.")
    target.adopt_identity(identity, source.recorded_model_source())
    cancel = cancel or CancelToken()
    documents = [d for d in source.catalog.documents() if d.status == INDEXED]
    meter = RateMeter("Exporting", len(documents), progress or ignore_progress, unit="documents")
    copied = pages_copied = skipped = 0
    for number, document in enumerate(documents, start=1):
        cancel.raise_if_cancelled()
        held = target.store.document(document.sha256)
        if held is not None and held.status == INDEXED:
            skipped += 1
        else:
            pages = []
            for page in source.catalog.pages(document.id, INDEXED):
                rows = source.page_rows(page).astype(np.float32)
                cell_rows = (
                    None
                    if page.cell_rows is None
                    else np.frombuffer(page.cell_rows, dtype="<i2").astype(np.int32)
                )
                pages.append((page.info, PageEmbedding(rows, page.grid or (0, 0), cell_rows), "exported"))
            target.add_embedded_document(document, pages)
            copied += 1
            pages_copied += len(pages)
        meter.report(number, document.paths[0] if document.paths else document.doc_id)
    return TransferReport(copied, pages_copied, skipped)


def import_from_qdrant(
    source: QdrantLibrary,
    target: LocalLibrary,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TransferReport:
    """Copy every indexed document of a Qdrant library into a local library."""
    identity = source.identity()
    if identity is None:
        raise LibraryError(
            f"The Qdrant library at {source.location.text} holds no pages yet: there is nothing to import."
        )
    target.adopt_identity(identity, source.recorded_model_source())
    cancel = cancel or CancelToken()
    held = {d.sha256 for d in target.documents() if d.status == INDEXED}
    documents = [d for d in source.documents() if d.status == INDEXED]
    meter = RateMeter("Importing", len(documents), progress or ignore_progress, unit="documents")
    copied = pages_copied = skipped = 0
    try:
        for number, document in enumerate(documents, start=1):
            cancel.raise_if_cancelled()
            if document.sha256 in held:
                skipped += 1
            else:
                pages = source.document_pages(document)
                path = document.paths[0] if document.paths else document.doc_id
                target.add_embedded_pages(
                    document.sha256,
                    path,
                    [(info, embedding) for info, embedding, _ in pages],
                    save_index=False,
                    also_at=document.paths[1:],
                    size=document.size,
                    note=document.error,  # an indexed document's note (pages that failed)
                )
                copied += 1
                pages_copied += len(pages)
            meter.report(number, document.paths[0] if document.paths else document.doc_id)
    finally:
        if target.candidates.dirty:
            target.candidates.save()
    return TransferReport(copied, pages_copied, skipped)
