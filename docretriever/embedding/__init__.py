"""Embedding: page images and query texts to multi-vector embeddings.

Only :mod:`docretriever.embedding.colqwen2` imports torch, and only when a model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from docretriever.config import default_model
from docretriever.embedding.base import Embedder, ModelIdentity, PageEmbedding, QueryEmbedding, render_sizes
from docretriever.embedding.geometry import COLQWEN2_GEOMETRY, CellGeometry
from docretriever.errors import InvalidInputError
from docretriever.progress import CancelToken, Progress, ProgressCallback, ignore_progress


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how: ``source`` is a Hub id or a local folder."""

    source: str = ""
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    # Cells per page image; the model family's limits and default: see model_geometry.
    visual_tokens: int = COLQWEN2_GEOMETRY.default_cells
    batch_size: int | None = None
    # Download a Hub model that is not on this computer when it is first needed (the CLI). The
    # app says False: it downloads only when the person asked, in its set-up dialog.
    download: bool = True
    # What goes before every query; None: what the model family was trained with ("Query: "
    # for ColQwen2). Another value is for experiments and negative controls.
    query_prefix: str | None = None

    def __post_init__(self) -> None:
        """Raises :class:`InvalidInputError` for a budget the model does not take or a batch
        size under 1."""
        model_geometry(self).check_cells(self.visual_tokens)
        if self.batch_size is not None and self.batch_size < 1:
            raise InvalidInputError("The batch size must be at least 1.")

    def resolved_source(self) -> str:
        return self.source or default_model()


def model_geometry(spec: ModelSpec | None = None) -> CellGeometry:
    """The cell geometry of the model ``spec`` names (default: the default model), known without
    loading or downloading it: what a library needs for highlights before (or without) loading
    its model, and what the budget of ``spec`` is checked against.

    Every model :func:`load_embedder` loads is of the ColQwen2 family (ColQwen2, ColQwen2.5:
    28-px cells), whose embedder reports the same geometry; a second family is told apart here.
    """
    return COLQWEN2_GEOMETRY


def describe_backend() -> str:
    """The embedding backend's versions and usable devices, importing it (see
    :func:`docretriever.embedding.colqwen2.describe_backend`)."""
    from docretriever.embedding.colqwen2 import describe_backend as describe

    return describe()


def load_embedder(
    spec: ModelSpec, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> Embedder:
    """Locate (downloading if needed) and load the model ``spec`` names. ``progress`` gets the
    download's bytes, then one "Loading the model" report whose message says which model and
    revision is used, from where. Raises ModelError, or Cancelled when ``cancel`` stops a
    download."""
    from docretriever.embedding.colqwen2 import load_colqwen2
    from docretriever.embedding.model_files import locate_model

    files = locate_model(
        spec.resolved_source(), progress, cancel=cancel, offline=None if spec.download else True
    )
    (progress or ignore_progress)(Progress("Loading the model", 0, None, unit="", message=files.describe()))
    return load_colqwen2(
        files, spec.device, spec.visual_tokens, spec.batch_size, query_prefix=spec.query_prefix
    )


__all__ = [
    "COLQWEN2_GEOMETRY",
    "CellGeometry",
    "Embedder",
    "ModelIdentity",
    "ModelSpec",
    "PageEmbedding",
    "QueryEmbedding",
    "describe_backend",
    "load_embedder",
    "model_geometry",
    "render_sizes",
]
