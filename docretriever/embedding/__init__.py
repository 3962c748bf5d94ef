"""Embedding: page images and query texts to multi-vector embeddings.

Only the back-end modules (:mod:`docretriever.embedding.colqwen`, :mod:`docretriever.embedding.tiled`)
import torch, and only when a model is loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from docretriever.config import MODEL_ENV, default_model
from docretriever.embedding.base import Embedder, ModelIdentity, PageEmbedding, QueryEmbedding, render_sizes
from docretriever.embedding.families import (
    DEFAULT_FAMILY,
    FAMILIES,
    ModelFamily,
    check_cells_of_any_family,
    family_named,
    family_of_model_type,
    read_model_type,
)
from docretriever.embedding.geometry import COLQWEN2_GEOMETRY, CellGeometry, TiledGeometry
from docretriever.embedding.model_family import model_family
from docretriever.errors import InvalidInputError
from docretriever.progress import CancelToken, Progress, ProgressCallback, ignore_progress


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how: ``source`` is a Hub id or a local folder."""

    source: str = ""
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    # Cells per page image; None: the model family's default (see model_geometry for its limits).
    visual_tokens: int | None = None
    batch_size: int | None = None
    # Download a Hub model that is not on this computer when it is first needed (the CLI). The
    # app says False: it downloads only when the person asked, in its set-up dialog.
    download: bool = True
    # What goes before every query; None: what the model family was trained with ("Query: "
    # for ColQwen2). Another value is for experiments and negative controls.
    query_prefix: str | None = None

    def __post_init__(self) -> None:
        """Raises :class:`InvalidInputError` for a budget the model does not take (when its family
        is known before loading it; else when it is loaded) or a batch size under 1."""
        # A spec naming no model (no --model, no $DOCRETRIEVER_MODEL) is checked against every
        # family here, and against the model's once the library says which model it was built
        # with (or when the default one is loaded).
        if self.visual_tokens is not None and (self.source or os.environ.get(MODEL_ENV)):
            family = model_family(self.resolved_source())
            if family is not None:
                family.geometry.check_cells(self.visual_tokens)
        elif self.visual_tokens is not None:
            check_cells_of_any_family(self.visual_tokens)
        if self.visual_tokens is not None and self.visual_tokens < 1:
            raise InvalidInputError("The visual-token budget must be at least 1.")
        if self.batch_size is not None and self.batch_size < 1:
            raise InvalidInputError("The batch size must be at least 1.")

    def resolved_source(self) -> str:
        return self.source or default_model()


def model_geometry(spec: ModelSpec | None = None) -> CellGeometry:
    """The cell geometry of the model ``spec`` names (default: the default model), known without
    loading or downloading it (see :func:`model_family`): what the budget of ``spec`` is checked
    against. A model whose family cannot be told before it is loaded gets the default family's;
    a library uses the family it recorded instead."""
    family = model_family((spec or ModelSpec()).resolved_source())
    return (family or DEFAULT_FAMILY).geometry


def visual_tokens_of(spec: ModelSpec) -> int:
    """The budget ``spec`` asks for: its own, or its model family's default."""
    return spec.visual_tokens if spec.visual_tokens is not None else model_geometry(spec).default_cells


def describe_backend() -> str:
    """The embedding backend's versions and usable devices, importing it (see
    :func:`docretriever.embedding.colqwen.describe_backend`)."""
    from docretriever.embedding.colqwen import describe_backend as describe

    return describe()


def load_embedder(
    spec: ModelSpec, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> Embedder:
    """Locate (downloading if needed) and load the model ``spec`` names. ``progress`` gets the
    download's bytes, then one "Loading the model" report whose message says which model and
    revision is used, from where. Raises ModelError, or Cancelled when ``cancel`` stops a
    download."""
    from docretriever.embedding.colqwen import load_colqwen
    from docretriever.embedding.model_files import locate_model
    from docretriever.embedding.tiled import load_tiled

    files = locate_model(
        spec.resolved_source(), progress, cancel=cancel, offline=None if spec.download else True
    )
    (progress or ignore_progress)(Progress("Loading the model", 0, None, unit="", message=files.describe()))
    family = family_of_model_type(read_model_type(files.folder, files.base_folder), files.model_id)
    if isinstance(family.geometry, TiledGeometry):
        return load_tiled(
            files, family, spec.device, spec.visual_tokens, spec.batch_size, query_prefix=spec.query_prefix
        )
    return load_colqwen(
        files, spec.device, spec.visual_tokens, spec.batch_size, query_prefix=spec.query_prefix
    )


__all__ = [
    "COLQWEN2_GEOMETRY",
    "DEFAULT_FAMILY",
    "FAMILIES",
    "CellGeometry",
    "Embedder",
    "ModelFamily",
    "ModelIdentity",
    "ModelSpec",
    "PageEmbedding",
    "QueryEmbedding",
    "TiledGeometry",
    "describe_backend",
    "family_named",
    "load_embedder",
    "model_family",
    "model_geometry",
    "render_sizes",
    "visual_tokens_of",
]
