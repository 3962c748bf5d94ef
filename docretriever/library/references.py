"""Which document a person's reference (a doc id, its first characters, a path) names."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from docretriever.documents.discover import is_text_path, shown_path
from docretriever.errors import InvalidInputError
from docretriever.vocabulary import Document

# A back end's own document type (the local catalog's rows), or the shared one.
AnyDocument = TypeVar("AnyDocument", bound=Document)


def single_match(
    reference: str,
    matches: Sequence[AnyDocument],
    documents: Callable[[], Sequence[AnyDocument]] | None = None,
) -> AnyDocument:
    """The one document ``reference`` names, or an error that says why not.

    A doc id prefix must have 4 characters (so that a stray short word never names a document),
    so ``matches`` holds none for a shorter one; given ``documents`` (every document), the error
    then says which documents that prefix would have named, as it does for an ambiguous one.
    """
    prefix = reference.strip().lower()
    if not matches and documents is not None and prefix and all(c in "0123456789abcdef" for c in prefix):
        named = [document for document in documents() if document.doc_id.startswith(prefix)]
        if len(named) == 1:
            raise InvalidInputError(
                f"{reference!r} is too short for a doc id: type at least 4 of its characters "
                f"({_listed(named)})."
            )
        matches = named
    if not matches and not is_text_path(reference):
        raise InvalidInputError(
            f"No document in the library has the path {shown_path(reference)}: file names that are not "
            "valid text (UTF-8) are never added. Rename the file, or give its doc id (`docretriever list`)."
        )
    if not matches:
        raise InvalidInputError(f"No document in the library matches {reference!r}.")
    if len(matches) > 1:
        raise InvalidInputError(
            f"{reference!r} is ambiguous: it matches {len(matches)} documents, {_listed(matches)}; "
            "type more of the doc id."
        )
    return matches[0]


def named_path(document: Document, reference: str) -> str | None:
    """The path of ``document`` that ``reference`` names (as typed, or made absolute, ``~``
    expanded), or None when it names the document by its doc id."""
    for path in (reference, os.path.abspath(os.path.expanduser(reference))):
        if path in document.paths:
            return path
    return None


def _listed(documents: Sequence[Document], most: int = 5) -> str:
    """ "3f2a9c01d7e2 (/papers/a.pdf), 3f2a11b0c9aa (/papers/b.pdf)", the first ``most`` of them."""
    shown = [
        f"{document.doc_id} ({document.paths[0] if document.paths else 'no file'})"
        for document in documents[:most]
    ]
    if len(documents) > most:
        shown.append(f"and {len(documents) - most} more")
    return ", ".join(shown)
