"""What every back end of :class:`~docretriever.library.base.Library` shares: the model, loaded
once on first use, the render workers, the passwords of files that need one, text-layer
snippets, and the check that a library keeps to one model."""

from __future__ import annotations

import dataclasses
import os
import threading
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from docretriever.config import MODEL_ENV
from docretriever.documents.passwords import PasswordStore
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
from docretriever.embedding.base import ModelIdentity
from docretriever.errors import ModelMismatchError
from docretriever.library.model_refusal import model_mismatch
from docretriever.library.snippets import SnippetReading
from docretriever.progress import CancelToken, ProgressCallback, ignore_progress

if TYPE_CHECKING:  # PageInfo's module loads PyMuPDF, which nothing here needs to run
    pass


from docretriever.library.base import Library


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
