"""The library interface: what the CLI and the GUI call, whatever back end stores the pages.

:class:`LocalLibrary` (SQLite + memory-mapped vectors + USearch) implements it; a server back
end (Qdrant) implements the same methods so the shells do not change.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from docretriever.documents.discover import shown_path
from docretriever.documents.render import RenderedPage
from docretriever.embedding.base import ModelIdentity, QueryEmbedding
from docretriever.errors import InvalidInputError
from docretriever.highlight.snippet import SNIPPET_CHARS
from docretriever.library.hits import Hit
from docretriever.library.like import PageQuery, without_page

# Where every back end (and scope.py) has always found it.
from docretriever.library.references import single_match as single_match
from docretriever.progress import CancelToken, ProgressCallback
from docretriever.vocabulary import MISSING, AddReport, CompactReport, Document, LibraryInfo, Removal

if TYPE_CHECKING:  # PageInfo's module loads PyMuPDF, which nothing here needs to run
    from docretriever.documents.pdf import PageInfo


class Library(ABC):
    """A searchable collection of PDF pages. Methods are synchronous; long ones take
    ``progress`` and ``cancel`` and raise :class:`~docretriever.errors.Cancelled` when asked to
    stop, keeping everything finished before."""

    @abstractmethod
    def recorded_model_source(self) -> str | None:
        """The folder or Hub id the library's model was loaded from when it was built (None for a
        library built before this was recorded, or with a ready embedder)."""

    def why_model_refused(self, source: str) -> str:
        """Why this library would refuse the model ``source`` (a folder or Hub id) without
        loading it, in a sentence; "" when it would not, as far as can be told before loading
        (another model of the same family is only told apart by its weights, when loaded)."""
        return ""

    @abstractmethod
    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        *,
        passwords: Mapping[str, str] | None = None,
        remember_passwords: bool = False,
    ) -> AddReport:
        """Index PDF files and folders (recursively). A file that fails is recorded as failed
        with its reason and does not stop the others.

        A file that needs a password to open is opened with the one in ``passwords`` for its
        path, else the one :attr:`EmbeddingLibrary.passwords` knows for its bytes; without one it
        fails with ``needs_password`` (and a wrong one says so). A password that opens its file
        is kept for the session (page previews need it), and with ``remember_passwords`` in the
        system keyring when there is one."""

    def sync(self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> AddReport:
        """Follow the files on disk: walk again what was added, so that new and changed files are
        indexed and moved ones found; files no longer there are marked missing (kept, still
        searchable), and folders that cannot be reached are left as they are."""
        paths = sorted({path for document in self.documents() for path in document.paths})
        return self.add(paths, progress, cancel)

    def followed_folders(self) -> list[str]:
        """The folders (or files) a watch watches, as absolute paths of this computer, whether
        they exist now or not (:mod:`~docretriever.library.watching`)."""
        raise NotImplementedError

    def sync_paths(
        self,
        paths: Sequence[str],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        """:meth:`sync` for these paths only (absolute files or folders that appeared, changed
        or went away), as a sync treats them. Raises Cancelled (keeping what was stored)."""
        raise NotImplementedError

    def documents_under(self, folder: str) -> list[Document]:
        """Documents every path of which lies in ``folder`` (an absolute or ~ path)."""
        absolute = os.path.abspath(os.path.expanduser(folder))
        inside = absolute.rstrip("/\\") + os.sep
        return [
            document
            for document in self.documents()
            if document.paths and all(p == absolute or p.startswith(inside) for p in document.paths)
        ]

    def remove_folder(self, folder: str) -> list[Document]:
        """Remove every document whose files all lie in ``folder`` (a drive that is gone for
        good, say) and stop following it. Raises InvalidInputError when it holds none."""
        documents = self.documents_under(folder)
        if not documents:
            raise InvalidInputError(f"No document in the library is in {shown_path(folder)}.")
        for document in documents:
            self.remove(document.doc_id)
        return documents

    def missing_documents(self) -> list[Document]:
        """Documents whose file was not at any of its paths at the last look, though its folder
        could be read (deleted, or moved somewhere not followed): what :meth:`prune` forgets.
        Checked again now: one whose file is back at one of its paths is left out."""
        return [
            document
            for document in self.documents()
            if document.availability == MISSING and not any(os.path.exists(path) for path in document.paths)
        ]

    def prune(
        self,
        documents: Sequence[Document] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Document]:
        """Forget missing documents (``documents``, default :meth:`missing_documents`), checking
        each again first: one whose file is back at one of its paths, or whose folder cannot be
        reached now, is kept. Returns those forgotten."""
        raise InvalidInputError(
            "This library is shared by several computers: a file missing here may be on another one, so "
            "nothing is pruned. Remove documents by doc id or folder (`docretriever remove`)."
        )

    def compact(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> CompactReport:
        """Reclaim the space of vectors no page uses any more (removed documents, old versions
        of changed files), crash-safe like every write. Back ends that reclaim space on their
        own return a report whose ``note`` says so."""
        raise NotImplementedError

    @abstractmethod
    def search(
        self, query: str, k: int = 10, *, exact: bool = False, within: Collection[str] | None = None
    ) -> list[Hit]:
        """The ``k`` best pages for ``query``, best first, with their similarity maps. With
        ``within`` (doc ids, or SHA-256 prefixes of at least 4 digits), only the pages of those
        documents; ids that name no document are ignored (see
        :func:`~docretriever.library.scope.resolve_scope` for paths and folders)."""

    @abstractmethod
    def snippets(self, hits: Sequence[Hit], max_chars: int = SNIPPET_CHARS) -> list[str | None]:
        """For each hit, the words of its page's own text layer under its best region, or None
        (no text layer, file not reachable now); never raises. See :class:`SnippetReading`."""

    @abstractmethod
    def search_embedding(
        self,
        query: QueryEmbedding,
        k: int = 10,
        *,
        exact: bool = False,
        within: Collection[str] | None = None,
    ) -> list[Hit]:
        """:meth:`search` with an already embedded query (a page's rows, benchmarks): the
        fast path's first stages score ``query.coarse`` when it is given."""

    def search_like(
        self,
        reference: str,
        page: int,
        k: int = 10,
        *,
        exact: bool = False,
        within: Collection[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` pages most like page ``page`` (1-based) of the document ``reference`` names
        (a doc id or its first characters, or a path), best first: its stored image-cell rows
        are the query, scored by exact MaxSim (see :mod:`~docretriever.library.like`). The page
        itself is left out of its own results; the same page in another file is not.

        ``exact`` and ``within`` are as for :meth:`search`. Hits highlight where the page
        matched over all its rows (it has no words). Raises InvalidInputError for no such
        document or page, LibraryError for a page not indexed (yet, or because it failed).
        """
        if k < 1:
            raise InvalidInputError("The number of results must be at least 1.")
        like = self.page_query(reference, page)
        # One more than asked: the page itself is usually the best match of its own rows.
        hits = self.search_embedding(like.query, k + 1, exact=exact, within=within)
        return without_page(hits, like.doc_id, like.page, k)

    @abstractmethod
    def page_query(self, reference: str, page: int) -> PageQuery:
        """Page ``page`` (1-based) of the document ``reference`` names, as a query (see
        :meth:`search_like`, which raises what this raises); no model is needed."""

    @abstractmethod
    def documents(self) -> list[Document]:
        """Every document, in the order they were added."""

    @abstractmethod
    def remove(self, reference: str) -> Removal:
        """Remove what ``reference`` names: a doc id (or its first 4+ characters) the whole document,
        pages and every path; a path only that path, the document staying, pages and all, under its
        others (leaving if it has none). What leaves stays out of later syncs. Raises
        InvalidInputError when nothing or several match."""

    @abstractmethod
    def reindex(
        self,
        reference: str,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> AddReport:
        """Forget a document's pages and index its file again (all its known paths that still
        exist). The document stays in the library, pending, if this is cancelled. Raises
        LibraryError when none of its files is where it was."""

    @abstractmethod
    def load_model(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ModelIdentity:
        """Load the library's model now (downloading it if needed), once; see EmbeddingLibrary."""

    @abstractmethod
    def info(self) -> LibraryInfo:
        """Location, model and sizes."""

    @abstractmethod
    def render_page(self, doc_id: str, page: int, max_pixels: int) -> RenderedPage:
        """Render page ``page`` (1-based) of a document for display, at most ``max_pixels``."""

    @abstractmethod
    def page_infos(self, doc_id: str) -> list[PageInfo]:
        """Every recorded page of a document, in order: size, rotation and printed number (for
        a viewer that leafs through it); InvalidInputError when no document matches."""

    @abstractmethod
    def close(self) -> None:
        """Release files and locks. The library must not be used afterwards."""

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
