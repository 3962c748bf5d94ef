"""The Qdrant back end: the same :class:`~docretriever.library.base.Library` on a Qdrant
collection, for libraries shared by many desktops. See :class:`QdrantLibrary`."""

from __future__ import annotations

from docretriever.library.qdrant.library import QdrantLibrary
from docretriever.library.qdrant.location import QdrantLocation, is_qdrant_location

__all__ = ["QdrantLibrary", "QdrantLocation", "is_qdrant_location"]
