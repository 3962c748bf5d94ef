"""The library interface: what the CLI and the GUI call, whatever back end stores the pages.

:class:`LocalLibrary` (SQLite + memory-mapped vectors + USearch) implements it; a server back
end (Qdrant) implements the same methods so the shells do not change.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from docretriever.config import MODEL_ENV
from docretriever.documents.discover import shown_path
from docretriever.documents.passwords import PasswordStore
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_pool import RenderPool
from docretriever.embedding import (
    CellGeometry,
    Embedder,
    ModelSpec,
    family_named,
    load_embedder,
    model_family,
    model_geometry,
)
from docretriever.embedding.base import ModelIdentity, QueryEmbedding
from docretriever.errors import InvalidInputError, ModelMismatchError
from docretriever.highlight.snippet import SNIPPET_CHARS
from docretriever.library.hits import Hit
from docretriever.library.like import PageQuery, without_page
from docretriever.library.model_refusal import model_mismatch

# Where every back end (and scope.py) has always found it.
from docretriever.library.references import single_match as single_match
from docretriever.library.snippets import SnippetReading
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress
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


class EmbeddingLibrary(SnippetReading, Library):
    """What every back end shares: the model, loaded once on first use (or given ready), the
    render worker processes, the passwords of files that need one, the check that a library
    keeps to one model, and hits' text snippets (:class:`SnippetReading`)."""

    def _set_up_model(
        self,
        model: ModelSpec | None,
        embedder: Embedder | None,
        renderer: RenderPool | None,
        progress: ProgressCallback | None,
        passwords: PasswordStore | None = None,
    ) -> None:
        # Passwords of files that need one to open: for ingest and for rendering pages later.
        self.passwords = passwords or PasswordStore()
        self._spec = model or ModelSpec()
        self._embedder = embedder
        self._load_progress = progress or ignore_progress
        self._renderer = renderer
        # The GUI calls one library from its writer thread and its reader threads: loading the
        # model (and an index) happens once, under this lock.
        self._load_lock = threading.RLock()

    @abstractmethod
    def _check_identity(self, identity: ModelIdentity) -> None:
        """Record the model of a new library; raise ModelMismatchError for another one (see
        :meth:`_recorded_model_is_legacy`, which also accepts the model's legacy fingerprint)."""

    @abstractmethod
    def identity(self) -> ModelIdentity | None:
        """The model recorded in the library, if any."""

    @staticmethod
    def _recorded_model_is_legacy(
        recorded: Callable[[str], object], wanted: ModelIdentity, elsewhere: str
    ) -> bool:
        """Whether the model a library recorded is ``wanted``, and in which form; ``recorded``
        gives the value recorded under a key (model_fingerprint, dim, model_id, model_revision).

        False when the library recorded ``wanted.fingerprint``; True when it recorded
        ``wanted.legacy_fingerprint`` (built before fingerprints named the weights only), and the
        caller then records ``wanted.fingerprint`` instead if it can. Raises
        :class:`ModelMismatchError` for any other model or dimension, ``elsewhere`` saying where
        to go instead. The one comparison both back ends make.
        """
        fingerprint = recorded("model_fingerprint")
        # Compared as text: the catalog holds the dimension as a string, Qdrant as a number.
        if fingerprint is not None and str(recorded("dim")) == str(wanted.dim):
            if fingerprint == wanted.fingerprint:
                return False
            if wanted.legacy_fingerprint is not None and fingerprint == wanted.legacy_fingerprint:
                return True
        raise model_mismatch(
            recorded("model_id"), recorded("model_revision"), wanted, elsewhere, recorded("model_family")
        )

    def adopt_identity(self, identity: ModelIdentity, source: str | None = None) -> None:
        """Record ``identity`` as the library's model (a new library), or refuse another one;
        for pages embedded elsewhere (an import or an export). ``source`` is where the other
        library's model came from (its recorded folder or Hub id), recorded here too, so that a
        later command naming no model loads that one and not the default."""
        self._adopted_source = source
        try:
            self._check_identity(identity)
        finally:
            self._adopted_source = None

    @property
    def embedder(self) -> Embedder:
        return self._loaded_embedder(None, None)

    @property
    def geometry(self) -> CellGeometry:
        """The model's cell geometry, for highlights: the embedder's when it is loaded (or was
        given), else that of the family the library recorded, else the one its spec names;
        without loading the model (a search by a ready embedding)."""
        if self._embedder is not None:
            return self._embedder.geometry
        recorded = self.identity()
        if recorded is not None:
            return family_named(recorded.family).geometry
        return model_geometry(self._spec)

    def model_spec(self) -> ModelSpec:
        """The model this library loads: the one it was opened with; or, when that names no model
        (no ``--model``, no ``$DOCRETRIEVER_MODEL``), the one the library was built with (the
        folder or Hub id it was loaded from, else its Hub id), so that a library built with
        another model than the default opens without naming it again."""
        spec = self._spec
        if spec.source or os.environ.get(MODEL_ENV):
            return spec
        source = self.recorded_model_source()
        if not source:
            recorded = self.identity()
            if recorded is None or recorded.revision == "local" or not recorded.model_id:
                return spec
            source = recorded.model_id
        return dataclasses.replace(spec, source=source)

    def model_source_to_record(self) -> str:
        """What a new library records as where its model came from: the folder (absolute) or
        Hub id it is opened with (or that of the library its pages are copied from), "" for a
        model given as a ready embedder."""
        adopted = getattr(self, "_adopted_source", None)
        if adopted is not None:
            return adopted
        if self._embedder is not None and not self._spec.source:
            return ""
        source = self._spec.resolved_source()
        folder = Path(source).expanduser()
        return str(folder.resolve()) if folder.is_dir() else source

    def load_model(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ModelIdentity:
        """Load the model now (downloading it if needed), once; later calls return at once.

        The GUI calls this as soon as its window is up, so that the first search does not wait
        for it; searches and ingests that arrive meanwhile wait on the same lock. ``progress``
        defaults to the callback the library was opened with. Raises ModelError,
        ModelMismatchError (the library was built with another model) or Cancelled.
        """
        return self._loaded_embedder(progress, cancel).identity

    def why_model_refused(self, source: str) -> str:
        try:
            self._refuse_another_family_before_loading(dataclasses.replace(self._spec, source=source))
        except ModelMismatchError as refusal:
            return str(refusal)
        return ""

    def _refuse_another_family_before_loading(self, spec: ModelSpec) -> None:
        """Raise :class:`ModelMismatchError` when ``spec`` names a model whose family is known
        without loading it (the catalogue, its config.json) and is not the library's: loading an
        8 B model for minutes only to be refused would waste the person's time and memory."""
        recorded = self.identity()
        if recorded is None:
            return
        family = model_family(spec.resolved_source())
        if family is not None and family.name != recorded.family:
            wanted = dataclasses.replace(recorded, model_id=spec.resolved_source(), family=family.name)
            raise model_mismatch(
                recorded.model_id, recorded.revision, wanted, "another library", recorded.family
            )

    def _loaded_embedder(self, progress: ProgressCallback | None, cancel: CancelToken | None) -> Embedder:
        with self._load_lock:
            if self._embedder is None:
                spec = self.model_spec()
                self._refuse_another_family_before_loading(spec)
                embedder = load_embedder(spec, progress or self._load_progress, cancel)
                self._check_identity(embedder.identity)
                self._embedder = embedder
            return self._embedder

    @property
    def renderer(self) -> RenderPool:
        """The worker processes that open and render PDFs for ingest (started on first use)."""
        with self._load_lock:
            if self._renderer is None:
                self._renderer = RenderPool()
            return self._renderer

    def _close_renderer(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
