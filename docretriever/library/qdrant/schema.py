"""How a library is laid out in Qdrant, and how requests reach it.

Two collections per library:

- ``COLLECTION``: one point per page. Named vectors: ``original``, the page's rows as stored
  locally (cells then prompt rows, float16 precision), a multivector scored by MAX_SIM with HNSW
  off (``m = 0``: only ever reranked); ``pooled``, the means of each row and each column of the
  cell grid (``n_x + n_y`` vectors), with HNSW, for the first stage. Payload: the document's
  SHA-256 and doc id, the 0-based page index, displayed size, rotation, grid, row count.
- ``COLLECTION-documents``: one point per document (no vectors): paths, size, page count,
  status, error; plus one ``meta`` point with the model's identity.

Point ids are UUIDs derived from the document's SHA-256 (and the page index), so that adding
the same file again, after a crash or from another desktop, overwrites instead of duplicating.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from docretriever.errors import LibraryError

ORIGINAL, POOLED = "original", "pooled"
DOCUMENTS_SUFFIX = "-documents"
# Fixed namespace: the same file gets the same ids in every library and on every desktop.
_NAMESPACE = uuid.UUID("6f1c1f5e-6d1b-4b5e-9a57-3d1e0c2f9b10")
# A server refuses requests over 32 MB by default; qdrant-client's JSON spends about 18 bytes a
# float (measured on a page of real rows).
REQUEST_BYTES = 24 * 1024 * 1024
# Qdrant servers refuse a multivector of more numbers than this (8,192 rows of 128).
MAX_MULTIVECTOR_FLOATS = 1_048_576
_JSON_BYTES_PER_FLOAT = 20
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)

T = TypeVar("T")


def page_point_id(sha256: str, page_index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{sha256}/{page_index}"))


def document_point_id(sha256: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, sha256))


META_POINT_ID = str(uuid.uuid5(_NAMESPACE, "meta"))


def pooled_rows_and_columns(cells: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The first-stage vectors of a page: the normalised mean of each row of cells, then of
    each column.

    Args:
        cells: float32, shape (n_x * n_y, dim), row-major cell vectors.
        grid: (n_x, n_y).

    Returns:
        float32, shape (n_y + n_x, dim), unit rows.
    """
    n_x, n_y = grid
    block = cells.reshape(n_y, n_x, -1)
    means = np.concatenate([block.mean(axis=1), block.mean(axis=0)]).astype(np.float32)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def pages_per_request(rows_per_page: int, dim: int) -> int:
    """How many pages one upsert may carry and stay under :data:`REQUEST_BYTES` as JSON."""
    page_bytes = max(1, rows_per_page) * dim * _JSON_BYTES_PER_FLOAT * 1.2  # + pooled vectors
    return max(1, int(REQUEST_BYTES // page_bytes))


def multivector_too_large(rows: int, dim: int) -> str | None:
    """Why a page of ``rows`` vectors of ``dim`` numbers cannot be uploaded, or None when it can."""
    if rows * dim <= MAX_MULTIVECTOR_FLOATS:
        return None
    return (
        f"The page's embedding is too large for Qdrant: {rows:,} rows of {dim} numbers "
        f"({rows * dim:,}) where a server takes at most {MAX_MULTIVECTOR_FLOATS:,} "
        f"({MAX_MULTIVECTOR_FLOATS // dim:,} rows); index with fewer --visual-tokens."
    )


def create_collections(client: Any, collection: str, dim: int, local: bool) -> None:
    """Create the two collections if missing (and the payload indexes a server filters by)."""
    from qdrant_client import models

    if not client.collection_exists(collection):
        multivector = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
        client.create_collection(
            collection,
            vectors_config={
                # float16 holds the rows exactly (they are float16 already) at half the memory;
                # on disk, since only the prefetched pages are ever read.
                ORIGINAL: models.VectorParams(
                    size=dim,
                    distance=models.Distance.DOT,
                    multivector_config=multivector,
                    hnsw_config=models.HnswConfigDiff(m=0),
                    datatype=models.Datatype.FLOAT16,
                    on_disk=True,
                ),
                POOLED: models.VectorParams(
                    size=dim, distance=models.Distance.DOT, multivector_config=multivector
                ),
            },
        )
    documents = collection + DOCUMENTS_SUFFIX
    if not client.collection_exists(documents):
        client.create_collection(documents, vectors_config={})
    if not local:  # local mode has no payload indexes (and says so); a server filters faster
        for name, field in (
            (collection, "sha256"),
            (collection, "ready"),
            (documents, "kind"),
            (documents, "paths"),
        ):
            schema = models.PayloadSchemaType.BOOL if field == "ready" else models.PayloadSchemaType.KEYWORD
            # Asked every time: a retried creation may have left an index out; asking again is harmless.
            client.create_payload_index(name, field, schema)


def is_transient(error: BaseException) -> bool:
    """True for failures worth another try: the connection, a timeout, 429 and 5xx answers."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(error, UnexpectedResponse):
        status = error.status_code or 0
        return status == 429 or status >= 500
    if isinstance(error, ResponseHandlingException | ConnectionError | TimeoutError):
        return True
    try:
        import grpc
    except ImportError:
        return False
    if isinstance(error, grpc.RpcError):
        code = error.code() if callable(getattr(error, "code", None)) else None
        return code in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
    return False


def with_retries(
    call: Callable[[], T],
    where: str,
    sleep: Callable[[float], None] = time.sleep,
    delays: Sequence[float] = RETRY_DELAYS_S,
) -> T:
    """``call()``, tried again after each of ``delays`` while it fails transiently; then a
    LibraryError that names ``where``. Other failures raise LibraryError at once."""
    for attempt in range(len(delays) + 1):
        try:
            return call()
        except LibraryError:
            raise
        except Exception as error:
            if not is_transient(error):
                raise LibraryError(
                    f"The Qdrant library at {where} refused a request: {error}", details=repr(error)
                ) from error
            if attempt == len(delays):
                raise LibraryError(
                    f"The Qdrant server at {where} did not answer after {len(delays) + 1} tries. Check "
                    "that it is running and reachable, then try again; pages already sent are kept.",
                    details=repr(error),
                ) from error
            sleep(delays[attempt])
    raise AssertionError("not reached")
