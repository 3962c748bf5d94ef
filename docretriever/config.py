"""Defaults and where they can be overridden (command-line option, environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "DocRetriever"
LIBRARY_ENV = "DOCRETRIEVER_LIBRARY"
MODEL_ENV = "DOCRETRIEVER_MODEL"

DEFAULT_MODEL = "vidore/colqwen2-v1.0"
# Visual tokens (28 x 28 px cells) per page. 768 is what the vidore checkpoints were evaluated
# with; fewer cells trade recall for speed on CPU-only machines.
DEFAULT_VISUAL_TOKENS = 768
PIXELS_PER_CELL = 28 * 28
# The range a page's budget may take: Qwen2-VL needs at least 4 cells (56 x 56 px) per image,
# and ColQwen2's processor caps an image at max_pixels 12,845,056 = 16,384 cells.
MIN_VISUAL_TOKENS = 4
MAX_VISUAL_TOKENS = 12_845_056 // PIXELS_PER_CELL


def default_library_dir() -> Path:
    """The library folder: ``$DOCRETRIEVER_LIBRARY`` or the per-user data directory."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "library"


def default_model() -> str:
    """The model: ``$DOCRETRIEVER_MODEL`` (a Hub id or a folder) or the published checkpoint."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL
