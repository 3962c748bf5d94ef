"""Defaults and where they can be overridden (command-line option, environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "DocRetriever"
LIBRARY_ENV = "DOCRETRIEVER_LIBRARY"
MODEL_ENV = "DOCRETRIEVER_MODEL"

DEFAULT_MODEL = "vidore/colqwen2-v1.0"
# The visual-token budget per page (its default, limits and cell size) belongs to the model
# family: see docretriever.embedding.geometry and ModelSpec.visual_tokens.


def default_library_dir() -> Path:
    """The library folder: ``$DOCRETRIEVER_LIBRARY`` or the per-user data directory."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "library"


def default_model() -> str:
    """The model: ``$DOCRETRIEVER_MODEL`` (a Hub id or a folder) or the published checkpoint."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


CACHE_ENV = "DOCRETRIEVER_CACHE_DIR"  # also read by embedding/speed.py and weights_fingerprint.py


def default_cache_dir() -> Path:
    """Where files made from a person's files are kept to be used again (Office files converted
    to PDF): ``$DOCRETRIEVER_CACHE_DIR`` or the per-user cache directory. Everything in it can be
    deleted at any time; it is made again when needed."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
