"""Searching within some documents: what a person names (a file, a folder, a doc id) turned into
the documents :meth:`~docretriever.library.base.Library.search` is told to stay within."""

from __future__ import annotations

import os
from collections.abc import Sequence

from docretriever.documents.discover import shown_path
from docretriever.errors import InvalidInputError
from docretriever.library.base import Library, single_match
from docretriever.vocabulary import Document


def resolve_scope(library: Library, references: Sequence[str]) -> list[Document]:
    """The documents ``references`` name, each once, in the order named: a file of the library
    or its doc id names its document; a folder names every document under it (see
    :meth:`Library.documents_under`), also when the folder is not on disk now (an unplugged
    drive). Raises InvalidInputError for a reference that names no document, saying which."""
    documents = library.documents()
    chosen: dict[str, Document] = {}
    for reference in references:
        for document in _documents_named(library, documents, reference):
            chosen.setdefault(document.doc_id, document)
    return list(chosen.values())


def _documents_named(library: Library, documents: list[Document], reference: str) -> list[Document]:
    if not reference.strip():
        raise InvalidInputError("An empty name was given to search in: name a file, a folder or a doc id.")
    if os.path.isdir(os.path.expanduser(reference)):
        under = library.documents_under(reference)
        if not under:
            raise InvalidInputError(f"No document in the library is in {shown_path(reference)}.")
        return under
    absolute = os.path.abspath(os.path.expanduser(reference))
    by_path = [d for d in documents if reference in d.paths or absolute in d.paths]
    if by_path:
        return by_path
    prefix = reference.strip().lower()
    if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
        by_id = [d for d in documents if d.sha256.startswith(prefix)]
        if by_id:
            return [single_match(reference, by_id)]  # one, or says it is ambiguous
    # Not a file or doc id of the library: a folder of it, perhaps, on a drive not here now.
    under = library.documents_under(reference)
    return under or [single_match(reference, [], lambda: documents)]  # says why not
