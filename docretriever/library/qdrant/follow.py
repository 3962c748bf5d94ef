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

from docretriever.vocabulary import AddReport, Document, FileOutcome

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
    """Add the ``paths`` that exist (with ``add``), then report the documents (``documents``, as
    they were before) that had a path at or under a gone one and have none here now: "moved"
    when the add found their bytes at a new place, else "missing" (kept, as they were)."""
    here = [path for path in paths if os.path.exists(path)]
    gone = [path for path in paths if path not in here]
    report = add(here) if here else AddReport()
    if not gone:
        return report

    def under_gone(path: str) -> str | None:
        return next((g for g in gone if path == g or path.startswith(g.rstrip("/\\") + os.sep)), None)

    left = {document.doc_id: document for document in documents if any(under_gone(p) for p in document.paths)}
    for number, outcome in enumerate(report.outcomes):
        document = left.pop(outcome.doc_id or "", None)
        if document is not None and outcome.status == "skipped":
            was = next(p for p in document.paths if under_gone(p))
            report.outcomes[number] = FileOutcome(
                outcome.path, "moved", outcome.doc_id, outcome.pages, f"Found again; it was at {was}."
            )
    for document in left.values():
        if any(os.path.exists(path) for path in document.paths):
            continue  # still at another of its places here
        where = next(p for p in document.paths if under_gone(p))
        report.outcomes.append(
            FileOutcome(where, "missing", document.doc_id, document.page_count or 0, MISSING_HERE)
        )
    return report
