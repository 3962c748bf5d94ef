"""The library API the CLI and the GUI call: :func:`open_library` and the :class:`Library` interface."""

from __future__ import annotations

import os

from docretriever.documents.passwords import PasswordStore
from docretriever.embedding import Embedder, ModelSpec
from docretriever.errors import InvalidInputError
from docretriever.library.base import Library
from docretriever.library.hits import Hit
from docretriever.progress import ProgressCallback
from docretriever.vocabulary import AddReport, CompactReport, FileOutcome, LibraryInfo


def open_library(
    location: str | os.PathLike[str],
    model: ModelSpec | None = None,
    *,
    embedder: Embedder | None = None,
    progress: ProgressCallback | None = None,
    create: bool = True,
    token_pooling: int | None = None,
    token_pooling_for_new: int = 1,
    api_key: str | None = None,
    passwords: PasswordStore | None = None,
) -> Library:
    """Open (creating if needed) the library at ``location``: a folder on this computer, or a
    Qdrant collection (``qdrant://host:port/collection``; see
    :mod:`docretriever.library.qdrant.location` for the forms and ``api_key``).

    ``model`` says which embedding model to load on first use; ``progress`` receives its
    download progress. With ``create=False`` a missing library is an error instead of a new,
    empty one. ``token_pooling`` sets a new local library's pooling factor,
    ``token_pooling_for_new`` is the preference used if the library is new (see
    :class:`~docretriever.library.local.LocalLibrary`); Qdrant libraries are not pooled.
    ``passwords`` holds the passwords of PDFs that need one to open (default: this session's
    and the system keyring's; see :mod:`docretriever.documents.passwords`).
    """
    text = os.fspath(location)
    if "://" in text:
        from docretriever.library.qdrant.location import is_qdrant_location

        if not is_qdrant_location(text):
            scheme = text.split("://", 1)[0]
            raise InvalidInputError(
                f"Libraries at {scheme}:// locations are not supported; use a folder or qdrant://host:port/collection."
            )
        if token_pooling not in (None, 1):
            raise InvalidInputError(
                "Token pooling is for local libraries; a Qdrant library keeps every vector."
            )
        from docretriever.library.qdrant import QdrantLibrary

        return QdrantLibrary(
            text,
            model,
            embedder=embedder,
            progress=progress,
            create=create,
            api_key=api_key,
            passwords=passwords,
        )
    from docretriever.library.local.library import LocalLibrary

    return LocalLibrary(
        text,
        model,
        embedder=embedder,
        progress=progress,
        create=create,
        token_pooling=token_pooling,
        token_pooling_for_new=token_pooling_for_new,
        passwords=passwords,
    )


__all__ = ["AddReport", "CompactReport", "FileOutcome", "Hit", "Library", "LibraryInfo", "open_library"]
