"""What a folder watch asks of a Qdrant library (:mod:`~docretriever.library.watching`).

A Qdrant library records no followed folders (several desktops share it, each with its own
folders) and never marks a document missing (another desktop may hold its file). So a watch
watches the folders that hold the library's documents on this computer, and a change is what
``sync`` makes of it, plus ``add`` for new files: a new or changed file is indexed, a file found
at a new place gains that path (nothing embedded), and a file that is gone is reported missing
but left as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from docretriever.library.qdrant.store import QdrantStore
from docretriever.library.references import named_path
from docretriever.vocabulary import AddReport, Document, FileOutcome, Removal

MISSING_HERE = "The file is not at this place on this computer; its pages are kept and still searchable."


def document_folders(documents: Sequence[Document]) -> list[str]:
    """The folders that hold the documents' paths, less those inside another one and the
    system's roots (``/``, ``C:\\``: far too much to watch), sorted."""
    folders = sorted({os.path.dirname(path) for document in documents for path in document.paths})
    kept: list[str] = []
    for folder in folders:
        if not folder or os.path.dirname(folder) == folder:
            continue
        if not any(folder.startswith(outer.rstrip("/\\") + os.sep) for outer in kept):
            kept.append(folder)
    return kept


def sync_changed_paths(
    documents: Sequence[Document], add: Callable[[list[str]], AddReport], paths: Sequence[str]
) -> AddReport:
    """Add the ``paths`` that exist (with ``add``), then tell what that means for the documents
    (``documents``, as they were before): one found at a new place while a place it had is gone
    "moved" (its paths keep the old one, as every Qdrant document keeps its paths); one with a
    path at or under a gone one and none here now "missing" (kept as it is)."""
    here = [path for path in paths if os.path.exists(path)]
    gone = [path for path in paths if path not in here]
    report = add(here) if here else AddReport()
    before = {document.doc_id: document for document in documents}
    found = set()
    for number, outcome in enumerate(report.outcomes):
        document = before.get(outcome.doc_id or "")
        found.add(outcome.doc_id)
        if document is None or outcome.status != "skipped" or outcome.path in document.paths:
            continue
        was = [path for path in document.paths if not os.path.exists(path)]
        if was:
            report.outcomes[number] = FileOutcome(
                outcome.path, "moved", outcome.doc_id, outcome.pages, f"Found again; it was at {was[0]}."
            )

    def under_gone(path: str) -> bool:
        return any(path == g or path.startswith(g.rstrip("/\\") + os.sep) for g in gone)

    for document in documents:
        if document.doc_id in found or not any(under_gone(path) for path in document.paths):
            continue
        if any(os.path.exists(path) for path in document.paths):
            continue  # still at another of its places here
        where = next(path for path in document.paths if under_gone(path))
        report.outcomes.append(
            FileOutcome(where, "missing", document.doc_id, document.page_count or 0, MISSING_HERE)
        )
    return report


def remove_named(store: QdrantStore, document: Document, reference: str) -> Removal:
    """Implementation of :meth:`QdrantLibrary.remove` for ``document``, the one ``reference``
    names: a path of a document that has others leaves its paths (the pages and other paths
    stay, so ``sync``, which re-adds known paths, leaves it out); anything else deletes the
    document with its pages."""
    path = named_path(document, reference)
    if path is not None and len(document.paths) > 1:
        stays = document.replaced(paths=tuple(p for p in document.paths if p != path))
        store.put_document(stays, stays.page_count or 0)
        return Removal(stays, path)
    store.delete_document(document.sha256)
    return Removal(document)
