"""Following files as people keep them: the folders they added (roots), files that go missing,
and files that turn up somewhere else.

The rules, for every ``add`` and ``sync`` of a local library:

- A given folder that cannot be reached (:mod:`~docretriever.library.local.availability`) is left
  alone: its documents are marked unavailable, nothing else changes.
- A recorded path that no longer holds its file, in a folder that can be read, is *missing*.
  Its document stays, with its vectors, still searchable; its paths stay as its last known
  places. Only ``prune`` forgets it.
- When a document's bytes are found at some path, its recorded paths that no longer exist are
  dropped (the file moved, or a copy was deleted), unless they were out of reach at the last
  look: those are checked again when their folder is back.
- A path whose bytes changed leaves its old document, which is forgotten once no path holds it,
  after every file of the run is recorded: a file moved elsewhere in the same run keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docretriever.documents.discover import is_text_path
from docretriever.errors import LibraryError
from docretriever.library.local.availability import UNAVAILABLE, FolderState, probe_folder, volume_of
from docretriever.library.local.store import LocalPageStore
from docretriever.library.references import named_path
from docretriever.progress import CancelToken
from docretriever.storage.catalog import MISSING, Catalog, DocumentRecord
from docretriever.vocabulary import AddReport, Document, FileOutcome, Removal

MISSING_NOTE = "The file is not at its last known place; its pages are kept and still searchable."
UNAVAILABLE_NOTE = "Its folder cannot be reached now; its pages are kept and still searchable."


@dataclass
class Reach:
    """The given paths sorted out before discovery: those to walk, those out of reach."""

    walk: list[str] = field(default_factory=list)
    unreachable: list[FolderState] = field(default_factory=list)


def check_reach(catalog: Catalog, given: Iterable[str]) -> Reach:
    """Probe each given path under which the library knows files; a path it knows nothing
    under is simply walked (a wrong one is reported as a problem by discovery)."""
    roots = dict(catalog.roots())
    reach = Reach()
    for path in given:
        known = catalog.paths_under(path) if is_text_path(path) else []
        if not known and path not in roots:
            reach.walk.append(path)
            continue
        state = probe_folder(path, roots.get(path) or _volume_above(path, roots), len(known))
        if state.state == UNAVAILABLE:
            reach.unreachable.append(state)
            catalog.mark_missing([known_path for known_path, _ in known], unavailable=True)
        else:
            reach.walk.append(path)
    return reach


def _volume_above(path: str, roots: dict[str, str | None]) -> str | None:
    """The volume recorded for the nearest followed folder at or above ``path``."""
    current = path
    while True:
        if current in roots:
            return roots[current]
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def settle_paths(
    catalog: Catalog,
    walked: Sequence[str],
    found: dict[str, int],
    report: AddReport,
    was_known: set[str],
) -> set[int]:
    """After every found file is recorded (``found``: path → document id): mark what is missing
    under the walked paths, drop stale paths of documents found elsewhere, and turn the
    outcomes of files found at a new place (not in ``was_known``, the paths recorded under the
    walked ones before) into "moved". Returns the ids of documents that went missing."""
    documents = {document.id: document for document in catalog.documents()}
    gone: dict[str, int] = {}
    for root in walked:
        for path, document_id in catalog.paths_under(root):
            if path not in found and not os.path.exists(path):
                gone[path] = document_id
    # Documents found this run may also have stale paths outside what was walked (a renamed
    # folder added under its new name); paths out of reach at the last look are left for when
    # their folder is back.
    out_of_reach = catalog.unavailable_paths()
    for document_id in set(found.values()):
        document = documents.get(document_id)
        for path in document.paths if document else ():
            stale = path not in found and path not in gone and path not in out_of_reach
            if stale and not os.path.exists(path):
                gone[path] = document_id
    here = set(found.values()) | {
        document_id
        for document_id in set(gone.values())
        if any(path not in gone and os.path.exists(path) for path in documents[document_id].paths)
    }
    moved: dict[int, list[str]] = {}
    newly_missing: list[str] = []
    missing_documents: set[int] = set()
    for path, document_id in sorted(gone.items()):
        if document_id in here:
            catalog.detach_path(path)
            moved.setdefault(document_id, []).append(path)
        else:
            newly_missing.append(path)
            missing_documents.add(document_id)
    catalog.mark_missing(newly_missing, unavailable=False)
    for document_id in sorted(missing_documents):
        document = documents[document_id]
        report.outcomes.append(
            FileOutcome(document.paths[0], "missing", document.doc_id, document.page_count or 0, MISSING_NOTE)
        )
    _mark_moved(report, {path: doc for path, doc in found.items() if path not in was_known}, moved)
    return missing_documents


def _mark_moved(report: AddReport, found: dict[str, int], moved: dict[int, list[str]]) -> None:
    """A file skipped as already indexed whose document lost stale paths was found at a new
    place: say so (nothing was embedded)."""
    for number, outcome in enumerate(report.outcomes):
        document_id = found.get(outcome.path)
        if outcome.status == "skipped" and document_id in moved:
            before = moved.pop(document_id)
            was = before[0] if len(before) == 1 else f"{before[0]} and {len(before) - 1} more"
            report.outcomes[number] = FileOutcome(
                outcome.path, "moved", outcome.doc_id, outcome.pages, f"Found again; it was at {was}."
            )


def remember_roots(catalog: Catalog, given: Iterable[str]) -> None:
    """Follow each given folder or file that exists (a sync walks them again)."""
    for path in given:
        if is_text_path(path) and os.path.exists(path):
            catalog.add_root(path, volume_of(path))


def drop_empty_roots(catalog: Catalog) -> list[str]:
    """Stop following added folders (or files) that no longer exist and under which the library
    holds nothing any more: their documents were found elsewhere, or pruned. Returns them."""
    dropped = []
    for root, _ in catalog.roots():
        if not catalog.paths_under(root) and not os.path.exists(root):
            catalog.remove_root(root)
            dropped.append(root)
    return dropped


def paths_to_sync(catalog: Catalog) -> list[str]:
    """What a sync walks: every followed folder (or file), then the recorded paths that lie
    under none of them (libraries from before folders were followed; they are followed after)."""
    roots = [root for root, _ in catalog.roots()]
    loose = {
        path
        for document in catalog.documents()
        for path in document.paths
        if not any(is_under(path, root) for root in roots)
    }
    return roots + sorted(loose)


def is_under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies inside that folder."""
    return path == root or path.startswith(root.rstrip("/\\") + os.sep)


def prune_documents(
    library: LocalPageStore, documents: Sequence[Document], cancel: CancelToken
) -> list[DocumentRecord]:
    """Implementation of :meth:`LocalLibrary.prune`; the caller holds the writer lock. Each
    document is checked again just before it is forgotten: the file may be back, or its folder
    out of reach (then it is not known to be gone)."""
    catalog = library.catalog
    roots = dict(catalog.roots())
    forgotten = []
    for document in documents:
        cancel.raise_if_cancelled()
        try:
            current = catalog.document_with_sha256(document.sha256)
        except LibraryError:
            continue  # removed meanwhile
        if current.availability != MISSING:
            continue
        back = [path for path in current.paths if os.path.exists(path)]
        if back:
            catalog.clear_missing(back)  # the next sync checks that it is the same file
            continue
        folders = {os.path.dirname(path) for path in current.paths}
        states = [probe_folder(folder, _volume_above(folder, roots), 0) for folder in folders]
        if any(state.state == UNAVAILABLE for state in states):
            catalog.mark_missing(list(current.paths), unavailable=True)
            continue
        library.forget(current)
        forgotten.append(current)
    drop_empty_roots(catalog)
    return forgotten


def documents_under(catalog: Catalog, folder: str) -> list[DocumentRecord]:
    """Documents every path of which lies in ``folder`` (or is it)."""
    ids = {document_id for _, document_id in catalog.paths_under(folder)}
    return [
        document
        for document in catalog.documents()
        if document.id in ids and all(is_under(path, folder) for path in document.paths)
    ]


def stop_following(catalog: Catalog, folder: str) -> None:
    """Forget the followed folders (or files) at or under ``folder``."""
    for root, _ in catalog.roots():
        if is_under(root, folder):
            catalog.remove_root(root)


def remove_named(library: LocalPageStore, reference: str) -> Removal:
    """Implementation of :meth:`LocalLibrary.remove` (writer lock held): a path of a document
    that has others is detached, as :meth:`LocalLibrary.remove_folder` detaches a folder's paths;
    anything else forgets the document. What leaves is left out of later syncs."""
    catalog = library.catalog
    document = library.find_document(reference)
    path = named_path(document, reference)
    if path is not None and len(document.paths) > 1:
        catalog.detach_path(path)
        leave_out(catalog, [path])
        return Removal(catalog.document_with_sha256(document.sha256), path)
    library.forget(document)
    leave_out(catalog, document.paths)  # or the next sync would add it back
    return Removal(document)


def leave_out(catalog: Catalog, paths: Sequence[str]) -> None:
    """What the user removed stays out of later syncs: each path inside a followed folder is
    excluded, and a followed path itself is no longer followed."""
    roots = [root for root, _ in catalog.roots()]
    for path in paths:
        if path in roots:
            catalog.remove_root(path)
    catalog.exclude([path for path in paths if any(is_under(path, root) and path != root for root in roots)])


def without_excluded(catalog: Catalog, files: list[Path], taken_back: Sequence[str] = ()) -> list[Path]:
    """``files`` less those the user removed from followed folders (see :func:`leave_out`), but
    for exclusions at or under ``taken_back`` (paths the user gives again)."""
    excluded = [path for path in catalog.excluded() if not any(is_under(path, given) for given in taken_back)]
    if not excluded:
        return files
    return [file for file in files if not any(is_under(str(file), path) for path in excluded)]
