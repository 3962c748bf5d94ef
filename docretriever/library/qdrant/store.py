"""Reading and writing a library's points in Qdrant: documents, pages, the model's identity.

Every request goes through :func:`~docretriever.library.qdrant.schema.with_retries`; uploads
are cut to stay under the server's request limit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from docretriever.documents.pdf import PageInfo
from docretriever.embedding.base import PageEmbedding, page_cells
from docretriever.library.qdrant.location import QdrantLocation
from docretriever.library.qdrant.schema import (
    DOCUMENTS_SUFFIX,
    META_POINT_ID,
    ORIGINAL,
    POOLED,
    create_collections,
    document_point_id,
    page_point_id,
    pages_per_request,
    pooled_rows_and_columns,
    with_retries,
)
from docretriever.vocabulary import Document

_SCROLL_PAGE = 256
# With their rows, pages weigh about 2 MB each as JSON: fewer per reply.
_SCROLL_PAGE_WITH_VECTORS = 16


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """Rows rounded to float16 as a local library stores them, so both back ends score alike."""
    return np.asarray(vectors, dtype=np.float16).astype(np.float32)


class QdrantStore:
    """The two collections of one library (see :mod:`~docretriever.library.qdrant.schema`)."""

    def __init__(self, location: QdrantLocation, client: Any) -> None:
        self.location = location
        self.client = client
        self.pages = location.collection
        self.documents = location.collection + DOCUMENTS_SUFFIX
        self.sleep = time.sleep  # tests make retries instant
        self._exists = False
        # qdrant-client's local mode is not thread-safe (the GUI searches while it ingests);
        # the server clients are.
        self._local_lock = threading.Lock() if location.is_local else contextlib.nullcontext()

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        def attempt() -> Any:
            with self._local_lock:
                return function(*args, **kwargs)

        return with_retries(attempt, self.location.text, self.sleep)

    # --- collections and identity -----------------------------------------------------------

    def exists(self) -> bool:
        # Asked before every search and listing: once the collection is there, it is
        # remembered instead of costing a round trip to the server each time.
        if not self._exists:
            self._exists = bool(self.call(self.client.collection_exists, self.pages))
        return self._exists

    def ensure(self, dim: int) -> None:
        self.call(create_collections, self.client, self.pages, dim, self.location.is_local)
        self._exists = True

    def meta(self) -> dict[str, Any] | None:
        if not self.exists():
            return None
        points = self.call(self.client.retrieve, self.documents, [META_POINT_ID], with_payload=True)
        return dict(points[0].payload) if points else None

    def write_meta(self, values: dict[str, Any]) -> None:
        self._put(self.documents, [(META_POINT_ID, {}, {"kind": "meta", **values})])

    # --- documents --------------------------------------------------------------------------

    def document(self, sha256: str) -> Document | None:
        return self.documents_of([sha256]).get(sha256)

    def documents_of(self, sha256s: Sequence[str]) -> dict[str, Document]:
        """The documents with these SHA-256s (those that exist), in one request."""
        ids = [document_point_id(sha256) for sha256 in dict.fromkeys(sha256s)]
        points = self.call(self.client.retrieve, self.documents, ids, with_payload=True) if ids else []
        return {str(point.payload["sha256"]): _record(point.payload) for point in points}

    def documents_where(self, field: str, value: str) -> list[Document]:
        """Documents whose payload ``field`` equals ``value`` (or, for a list, holds it)."""
        from qdrant_client import models

        where = models.Filter(must=[models.FieldCondition(key=field, match=models.MatchValue(value=value))])
        return [_record(point.payload) for point in self._scroll(self.documents, where, vectors=False)]

    def all_documents(self) -> list[Document]:
        from qdrant_client import models

        only_documents = models.Filter(
            must=[models.FieldCondition(key="kind", match=models.MatchValue(value="document"))]
        )
        records = [
            _record(point.payload) for point in self._scroll(self.documents, only_documents, vectors=False)
        ]
        return sorted(records, key=lambda record: (record.added_at, record.sha256))

    def put_document(self, record: Document, pages_indexed: int) -> None:
        payload = {
            "kind": "document",
            "sha256": record.sha256,
            "doc_id": record.doc_id,
            "paths": list(record.paths),
            "size": record.size,
            "page_count": record.page_count,
            "status": record.status,
            "error": record.error,
            "error_details": record.error_details,
            "added_at": record.added_at,
            "pages_indexed": pages_indexed,
        }
        self._put(self.documents, [(document_point_id(record.sha256), {}, payload)])

    def delete_document(self, sha256: str) -> None:
        from qdrant_client import models

        self.call(
            self.client.delete, self.pages, points_selector=models.FilterSelector(filter=_of_document(sha256))
        )
        self.call(
            self.client.delete,
            self.documents,
            points_selector=models.PointIdsList(points=[document_point_id(sha256)]),
        )

    # --- pages ------------------------------------------------------------------------------

    def mark_ready(self, sha256: str) -> None:
        """Make a document's pages searchable: all of them are uploaded."""
        from qdrant_client import models

        self.call(
            self.client.set_payload,
            self.pages,
            payload={"ready": True},
            points=models.FilterSelector(filter=_of_document(sha256)),
            wait=True,
        )

    def stored_page_indexes(self, sha256: str) -> set[int]:
        return {
            int(point.payload["page"])
            for point in self._scroll(self.pages, _of_document(sha256), vectors=False)
        }

    def put_pages(self, sha256: str, pages: Sequence[tuple[PageInfo, PageEmbedding, str]], dim: int) -> None:
        """Upload pages of one document (their rows rounded as stored), in requests that stay
        under the server's size limit. Uploading a page again replaces it."""
        if not pages:
            return
        rows = max(len(embedding.vectors) for _, embedding, _ in pages)
        step = pages_per_request(rows, dim)
        for start in range(0, len(pages), step):
            points = []
            for info, embedding, renderer in pages[start : start + step]:
                vectors = as_stored(embedding.vectors)
                cells = page_cells(vectors, embedding.n_cells, embedding.cell_rows)
                payload: dict[str, Any] = {
                    "ready": False,  # searchable once the whole document is uploaded
                    "sha256": sha256,
                    "doc_id": sha256[:12],
                    "page": info.index,
                    "width_pt": info.width_pt,
                    "height_pt": info.height_pt,
                    "rotation": info.rotation,
                    "label": info.label,
                    "grid": list(embedding.grid),
                    "n_rows": len(vectors),
                    "renderer": renderer,
                }
                if embedding.cell_rows is not None:
                    payload["cell_rows"] = [int(row) for row in embedding.cell_rows]
                named = {
                    ORIGINAL: vectors.tolist(),
                    POOLED: pooled_rows_and_columns(cells, embedding.grid).tolist(),
                }
                points.append((page_point_id(sha256, info.index), named, payload))
            self._put(self.pages, points)

    def page_point(self, sha256: str, page_index: int) -> Any | None:
        """The point of a document's page (0-based ``page_index``) with its payload and both its
        vectors, or None when it is not stored."""
        ids = [page_point_id(sha256, page_index)]
        points = self.call(self.client.retrieve, self.pages, ids, with_payload=True, with_vectors=True)
        return points[0] if points else None

    def document_pages(self, sha256: str) -> list[tuple[PageInfo, PageEmbedding, str]]:
        """Every stored page of a document with its rows, in page order."""
        pages = [
            page_from_point(point) for point in self._scroll(self.pages, _of_document(sha256), vectors=True)
        ]
        return sorted(pages, key=lambda page: page[0].index)

    def page_infos(self, sha256: str) -> list[PageInfo]:
        """A document's pages, without their vectors, in page order."""
        points = self._scroll(self.pages, _of_document(sha256), vectors=False)
        return sorted((_page_info(point.payload) for point in points), key=lambda info: info.index)

    def count_pages(self) -> int:
        if not self.exists():
            return 0
        return int(self.call(self.client.count, self.pages, exact=True).count)

    # --- plumbing ---------------------------------------------------------------------------

    def _put(self, collection: str, points: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        from qdrant_client import models

        structs = [
            models.PointStruct(id=point_id, vector=vectors, payload=payload)
            for point_id, vectors, payload in points
        ]
        self.call(self.client.upsert, collection, points=structs, wait=True)

    def _scroll(self, collection: str, where: Any, vectors: bool) -> Iterator[Any]:
        offset = None
        while True:
            points, offset = self.call(
                self.client.scroll,
                collection,
                scroll_filter=where,
                limit=_SCROLL_PAGE_WITH_VECTORS if vectors else _SCROLL_PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=[ORIGINAL] if vectors else False,
            )
            yield from points
            if offset is None:
                return


def page_from_point(point: Any) -> tuple[PageInfo, PageEmbedding, str]:
    """A page point (with its ``original`` vectors) as a PageInfo and PageEmbedding."""
    payload = point.payload
    info = _page_info(payload)
    cell_rows = payload.get("cell_rows")
    embedding = PageEmbedding(
        np.asarray(point.vector[ORIGINAL], dtype=np.float32),
        (int(payload["grid"][0]), int(payload["grid"][1])),
        None if cell_rows is None else np.asarray(cell_rows, dtype=np.int32),
    )
    return info, embedding, str(payload.get("renderer") or "")


def _page_info(payload: dict[str, Any]) -> PageInfo:
    return PageInfo(
        int(payload["page"]),
        float(payload["width_pt"]),
        float(payload["height_pt"]),
        int(payload["rotation"]),
        payload.get("label"),  # pages stored before labels were kept have none
    )


def _of_document(sha256: str) -> Any:
    from qdrant_client import models

    return models.Filter(must=[models.FieldCondition(key="sha256", match=models.MatchValue(value=sha256))])


def _record(payload: dict[str, Any]) -> Document:
    sha256 = str(payload["sha256"])
    return Document(
        sha256=sha256,
        paths=tuple(sorted(str(path) for path in payload.get("paths") or [])),
        size=int(payload.get("size") or 0),
        page_count=payload.get("page_count"),
        status=str(payload.get("status") or "pending"),
        error=payload.get("error"),
        error_details=payload.get("error_details"),
        added_at=float(payload.get("added_at") or 0.0),
    )
