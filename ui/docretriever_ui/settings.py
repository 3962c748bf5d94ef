"""The app's preferences, stored with QSettings; an instance is passed around, never a global."""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QByteArray, QSettings

from docretriever.config import MODEL_ENV, default_library_dir, default_model
from docretriever.embedding import ModelSpec
from docretriever.embedding.token_pooling import POOL_FACTORS

DEVICES = ("auto", "cuda", "mps", "cpu")


class AppSettings:
    """Typed access to the preferences. Tests pass a QSettings backed by a temporary ini file."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings("DocRetriever", "DocRetriever")

    def _text(self, key: str, default: str) -> str:
        value = self.store.value(key, default)
        return str(value) if value not in (None, "") else default

    @property
    def model(self) -> str:
        """A Hugging Face model id or a local model folder."""
        return self._text("model/source", default_model())

    @model.setter
    def model(self, value: str) -> None:
        self.store.setValue("model/source", value)

    @property
    def model_chosen(self) -> bool:
        """True when a model was chosen (stored here, or named by $DOCRETRIEVER_MODEL); False
        while :attr:`model` is only the default, which the set-up dialog may recommend against."""
        return self.store.contains("model/source") or bool(os.environ.get(MODEL_ENV))

    @property
    def device(self) -> str:
        value = self._text("model/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("model/device", value if value in DEVICES else "auto")

    @property
    def visual_tokens(self) -> int | None:
        """Cells per page image; None (the model family's default) when none is set or it is no
        number."""
        try:
            return int(self._text("model/visual_tokens", ""))
        except ValueError:
            return None

    @property
    def token_pooling(self) -> int:
        """Pooling factor for libraries created from now on (1: none)."""
        try:
            value = int(self._text("library/token_pooling", "1"))
        except ValueError:
            return 1
        return value if value in POOL_FACTORS else 1

    @token_pooling.setter
    def token_pooling(self, value: int) -> None:
        self.store.setValue("library/token_pooling", str(value if value in POOL_FACTORS else 1))

    @property
    def library(self) -> str:
        """The library folder."""
        return self._text("library/location", str(default_library_dir()))

    @library.setter
    def library(self, value: str) -> None:
        self.store.setValue("library/location", value)

    @property
    def qdrant_api_key(self) -> str:
        """The API key for a ``qdrant://`` library ("" to use $DOCRETRIEVER_QDRANT_API_KEY)."""
        return self._text("library/qdrant_api_key", "")

    @qdrant_api_key.setter
    def qdrant_api_key(self, value: str) -> None:
        self.store.setValue("library/qdrant_api_key", value)

    @property
    def watch_folders(self) -> bool:
        """Whether the folders added to the library are watched for changes while the app runs."""
        return self._text("library/watch_folders", "true") != "false"

    @watch_folders.setter
    def watch_folders(self, value: bool) -> None:
        self.store.setValue("library/watch_folders", "true" if value else "false")

    @property
    def result_thumbnail_width(self) -> int:
        """The width of the result cards' thumbnails, in logical pixels (the size slider)."""
        try:
            return int(self._text("results/thumbnail_width", "180"))
        except ValueError:
            return 180

    @result_thumbnail_width.setter
    def result_thumbnail_width(self, value: int) -> None:
        self.store.setValue("results/thumbnail_width", str(int(value)))

    def model_spec(self) -> ModelSpec:
        # Never a download behind the person's back (a search after "Not now" would start one of
        # 8.9 GB): the set-up dialog downloads, when asked.
        # No model chosen: none named, so that the library loads the one it was built with.
        source = self.model if self.model_chosen else ""
        return ModelSpec(source, self.device, self.visual_tokens, download=False)

    def geometry(self, key: str) -> QByteArray | None:
        value = self.store.value(f"window/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"window/{key}", value)

    @property
    def recent_searches(self) -> list[str]:
        """The recent queries, newest first (the search box's drop-down)."""
        # JSON, not a QSettings list: an ini file gives a one-item list back as a plain string.
        try:
            value = json.loads(self._text("search/recent", "[]"))
        except ValueError:
            return []
        return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []

    @recent_searches.setter
    def recent_searches(self, value: list[str]) -> None:
        self.store.setValue("search/recent", json.dumps(list(value)))

    def last_folder(self, purpose: str) -> str:
        """The folder the file dialog for ``purpose`` ("pdfs", "model") was last left in, if
        it is still there; "" (the dialog's own default) otherwise."""
        folder = self._text(f"dialogs/{purpose}", "")
        return folder if folder and os.path.isdir(folder) else ""

    def set_last_folder(self, purpose: str, folder: str) -> None:
        self.store.setValue(f"dialogs/{purpose}", folder)

    def sync(self) -> None:
        self.store.sync()
