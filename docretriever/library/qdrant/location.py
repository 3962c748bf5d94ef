"""Where a Qdrant library lives, written as a URL, and the client that reaches it.

    qdrant://HOST[:PORT]/COLLECTION          a Qdrant server over HTTP (REST; port 6333)
    qdrants://HOST[:PORT]/COLLECTION         the same over HTTPS
    qdrant+grpc://HOST[:PORT]/COLLECTION     over gRPC (port 6334): smaller, faster uploads
    qdrant+local:///FOLDER/COLLECTION        qdrant-client's local mode, kept in FOLDER
    qdrant+local://:memory:/COLLECTION       local mode in memory (tests)

The API key comes from ``$DOCRETRIEVER_QDRANT_API_KEY`` unless given (the GUI's preferences).
Local mode scores every page and ignores HNSW settings: it shows behaviour, not speed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from docretriever.errors import InvalidInputError

API_KEY_ENV = "DOCRETRIEVER_QDRANT_API_KEY"
SCHEMES = ("qdrant", "qdrants", "qdrant+grpc", "qdrant+local")
# Requests to a server give up after this long (a page upload of a few MB included).
TIMEOUT_S = 60


def is_qdrant_location(text: str) -> bool:
    return text.split("://", 1)[0].lower() in SCHEMES and "://" in text


@dataclass(frozen=True)
class QdrantLocation:
    """A parsed Qdrant library URL; ``text`` is how it was written, for messages."""

    text: str
    collection: str
    host: str | None = None
    port: int | None = None
    https: bool = False
    grpc: bool = False
    path: str | None = None  # local mode: a folder, or ":memory:"

    @classmethod
    def parse(cls, text: str) -> QdrantLocation:
        """Raises InvalidInputError with the accepted forms when ``text`` is not one of them."""
        scheme = text.split("://", 1)[0].lower()
        forms = (
            "qdrant://host:port/collection (or qdrants://, qdrant+grpc://, qdrant+local:///folder/collection)"
        )
        if scheme not in SCHEMES or "://" not in text:
            raise InvalidInputError(f"{text} is not a Qdrant location; write {forms}.")
        if scheme == "qdrant+local":
            rest = text.split("://", 1)[1]
            folder, _, collection = rest.rstrip("/").rpartition("/")
            if not folder or not collection:
                raise InvalidInputError(f"{text} names no folder and collection; write {forms}.")
            return cls(text, collection, path=folder if folder == ":memory:" else os.path.abspath(folder))
        parts = urlsplit(text)
        collection = parts.path.strip("/")
        if not parts.hostname or not collection or "/" in collection:
            raise InvalidInputError(f"{text} names no server and collection; write {forms}.")
        grpc = scheme == "qdrant+grpc"
        try:
            port = parts.port or (6334 if grpc else 6333)
        except ValueError as exc:
            raise InvalidInputError(f"{text} has an invalid port.") from exc
        return cls(text, collection, host=parts.hostname, port=port, https=scheme == "qdrants", grpc=grpc)

    @property
    def is_local(self) -> bool:
        return self.path is not None

    def client(self, api_key: str | None = None) -> Any:
        """A ``QdrantClient`` for this location (local mode opens, or creates, its folder)."""
        from qdrant_client import QdrantClient

        if self.path == ":memory:":
            return QdrantClient(location=":memory:")
        if self.path is not None:
            os.makedirs(self.path, exist_ok=True)
            return QdrantClient(path=self.path)
        key = api_key or os.environ.get(API_KEY_ENV) or None
        port = self.port or (6334 if self.grpc else 6333)
        return QdrantClient(
            host=self.host,
            port=6333 if self.grpc else port,
            grpc_port=port if self.grpc else 6334,
            prefer_grpc=self.grpc,
            https=self.https,
            api_key=key,
            timeout=TIMEOUT_S,
            # The version check is a request of its own, and only warns: the first real request
            # reports an unreachable or incompatible server as an error anyway.
            check_compatibility=False,
        )
