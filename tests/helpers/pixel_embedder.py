"""A model-free embedder for crash tests: page vectors from pixels, fast and deterministic.

Each cell (ColQwen2's geometry: 28 x 28 px) becomes a 128-dim unit vector, a fixed random
projection of its 4 x 4 grey-level thumbnail, so equal images give equal vectors in every
process. Every call is logged (one line per page) so a test can count how many pages a run
embedded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from docretriever.embedding.base import ModelIdentity, PageEmbedding, PreparedPages, QueryEmbedding, prepared
from docretriever.embedding.geometry import COLQWEN2_GEOMETRY

_PROJECTION = np.random.default_rng(1234).normal(size=(16, 128)).astype(np.float32)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-6)


class PixelEmbedder:
    identity = ModelIdentity("pixels", "1", "pixel-embedder-v1", 128)
    geometry = COLQWEN2_GEOMETRY
    batch_size = 2

    def render_size(self, width_pt: float, height_pt: float) -> tuple[int, int]:
        return self.geometry.render_size(width_pt, height_pt, 64)  # 64 cells: rendering stays cheap

    def __init__(self, log: Path | None = None) -> None:
        self.log = log

    def prepare_pages(self, images: Sequence[Image.Image]) -> PreparedPages:
        return PreparedPages(images)

    def embed_pages(
        self, pages: Sequence[Image.Image] | PreparedPages, cancel: object = None
    ) -> list[PageEmbedding]:
        images = prepared(pages).images
        result = []
        for image in images:
            n_x, n_y = image.width // self.geometry.cell_px, image.height // self.geometry.cell_px
            grey = np.asarray(image.convert("L").resize((n_x * 4, n_y * 4)), dtype=np.float32) / 255
            cells = grey.reshape(n_y, 4, n_x, 4).transpose(0, 2, 1, 3).reshape(n_x * n_y, 16)
            result.append(PageEmbedding(_unit(cells @ _PROJECTION - 0.5), (n_x, n_y)))
        if self.log is not None:
            with open(self.log, "a") as handle:
                handle.write("page\n" * len(images))
        return result

    def embed_queries(self, texts: Sequence[str]) -> list[QueryEmbedding]:
        result = []
        for text in texts:
            seed = sum(text.encode())
            vectors = _unit(np.random.default_rng(seed).normal(size=(8, 128)).astype(np.float32))
            result.append(QueryEmbedding(text, vectors, (text,) * 8, np.ones(8, bool)))
        return result
