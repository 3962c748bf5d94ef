"""Embedding: page images and query texts to multi-vector embeddings.

Only :mod:`docretriever.embedding.colqwen2` imports torch, and only when a model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from docretriever.config import DEFAULT_VISUAL_TOKENS, MAX_VISUAL_TOKENS, MIN_VISUAL_TOKENS, default_model
from docretriever.embedding.base import Embedder, ModelIdentity, PageEmbedding, QueryEmbedding
from docretriever.errors import InvalidInputError
from docretriever.progress import CancelToken, Progress, ProgressCallback, ignore_progress


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how: ``source`` is a Hub id or a local folder."""

    source: str = ""
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    visual_tokens: int = DEFAULT_VISUAL_TOKENS
    batch_size: int | None = None
    # Download a Hub model that is not on this computer when it is first needed (the CLI). The
    # app says False: it downloads only when the person asked, in its set-up dialog.
    download: bool = True
    # What goes before every query; None: what the model family was trained with ("Query: "
    # for ColQwen2). Another value is for experiments and negative controls.
    query_prefix: str | None = None

    def __post_init__(self) -> None:
        # Qwen2-VL needs at least 4 cells (56 x 56 px) per image; ColQwen2's processor takes at
        # most 16,384 (its max_pixels).
        if not MIN_VISUAL_TOKENS <= self.visual_tokens <= MAX_VISUAL_TOKENS:
            raise InvalidInputError(
                f"The visual-token budget must be at least {MIN_VISUAL_TOKENS} and at most "
                f"{MAX_VISUAL_TOKENS:,} (the most ColQwen2 takes per page), not {self.visual_tokens:,}; "
                f"{DEFAULT_VISUAL_TOKENS} is what the published checkpoints were evaluated with."
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise InvalidInputError("The batch size must be at least 1.")

    def resolved_source(self) -> str:
        return self.source or default_model()


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
    "Embedder",
    "ModelIdentity",
    "ModelSpec",
    "PageEmbedding",
    "QueryEmbedding",
    "describe_backend",
    "load_embedder",
]
