"""Tiled families (ColModernVBert) through colpali-engine: pages split into 512-px tiles.

The Idefics3 image processor (transformers 5.23, which ColModernVBertProcessor uses) resizes an
image so its longest side is ``size["longest_edge"]``, stretches each side up to whole tiles of
``max_image_size["longest_edge"]`` (512 px), cuts it into tiles row by row, and, when there is
more than one tile, adds the whole image resized to one tile (the "global image") after them.
Its prompt gives each tile ``image_seq_len`` (64) ``<image>`` tokens in that order, the global
image's last (colpali-engine 0.3.18's ``Idefics3SplitImageInterpretabilityMixin``). Each tile's
64 rows are its 8 x 8 cells of 64 px, row-major within the tile (the model's pixel shuffle keeps
the patches' order).

Pages are rendered at whole tiles (:class:`~docretriever.embedding.geometry.TiledGeometry`) and
each batch holds pages of one size, processed with ``longest_edge`` set to that size's longest
side, so the processor neither resizes nor stretches them. The tile-major rows are then put in
row-major order over the whole page, which makes them the page's uniform grid of 64-px cells
(the :class:`~docretriever.embedding.base.PageEmbedding` contract); the global image's rows
follow with the prompt's (kept for MaxSim, with no place on the page).

torch is imported only inside functions (through :mod:`docretriever.embedding.colqwen`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from docretriever.embedding.base import PageEmbedding, PreparedPages
from docretriever.embedding.colqwen import ColQwenEmbedder, LoadedParts, ProcessedBatches, load_parts
from docretriever.embedding.families import ModelFamily
from docretriever.embedding.geometry import TiledGeometry
from docretriever.embedding.model_files import ModelFiles
from docretriever.errors import ModelError
from docretriever.progress import CancelToken


class TiledEmbedder(ColQwenEmbedder):
    """An :class:`~docretriever.embedding.base.Embedder` for a tiled family's checkpoint.

    Queries are embedded as the ColQwen families' are (the family's prefix, the text, its
    augmentation tokens); pages as described in this module's docstring.
    """

    @property
    def geometry(self) -> TiledGeometry:
        """The family's tiled geometry (ColModernVBert: 64-px cells in 512-px tiles)."""
        geometry = self.family.geometry
        assert isinstance(geometry, TiledGeometry)
        return geometry

    def prepare_pages(self, images: Sequence[Image.Image]) -> _TiledBatches:
        """Run the image processor over runs of consecutive pages of one size, at most
        ``batch_size`` a batch (ingest sorts pages by shape, so runs are long).

        A page whose size is not whole tiles (not rendered at :meth:`render_size`) is first
        resized to the whole-tile size this embedder would have rendered it at, so its cells
        still split the page evenly. Raises :class:`PageError` for an image the model cannot take.
        """
        geometry = self.geometry
        pages = [self._whole_tiles(_rgb(image)) for image in images]
        batches: list[_TiledBatch] = []
        start = 0
        while start < len(pages):
            size = pages[start].size
            stop = start + 1
            while stop < len(pages) and stop - start < self.batch_size and pages[stop].size == size:
                stop += 1
            with self._processor_lock:
                # longest_edge = the page's longest side: the processor leaves the size alone.
                batch = self._processor(
                    text=[self._processor.visual_prompt_prefix] * (stop - start),
                    images=pages[start:stop],
                    padding="longest",
                    return_tensors="pt",
                    size={"longest_edge": max(size)},
                )
            batch["pixel_values"] = batch["pixel_values"].to(self._model.dtype)
            batches.append(_TiledBatch(batch, geometry.tile_grid(size)))
            start = stop
        return _TiledBatches(batches, len(pages))

    def _whole_tiles(self, image: Image.Image) -> Image.Image:
        geometry = self.geometry
        try:
            geometry.tile_grid(image.size)
            return image
        except ValueError:
            size = geometry.render_size(image.width, image.height, self.visual_tokens)
            return image.resize(size, Image.Resampling.BICUBIC)

    def embed_pages(
        self, images: Sequence[Image.Image] | PreparedPages, cancel: CancelToken | None = None
    ) -> list[PageEmbedding]:
        """Embed page images (or pages from :meth:`prepare_pages`); one embedding per page, in
        order, with rows: the page's cells row-major over the whole page (``grid`` = (width /
        64, height / 64) for ColModernVBert), then the global image's rows (pages of more than
        one tile), then the prompt's. ``cancel`` is checked between batches. Raises
        :class:`ModelError` when the model returns another number of image rows than the tiles
        call for (tiles x 64, plus 64 for the global image).
        """
        if isinstance(images, _TiledBatches):
            batches = images.batches
        else:
            plain = images.images if isinstance(images, PreparedPages) else images
            batches = self.prepare_pages(plain).batches
        results: list[PageEmbedding] = []
        for tiled in batches:
            if cancel is not None:
                cancel.raise_if_cancelled()
            output = self._forward(tiled.batch)
            image_mask = (tiled.batch["input_ids"] == self._processor.image_token_id).numpy()
            valid = tiled.batch["attention_mask"].bool().numpy()
            for i in range(output.shape[0]):
                cells, extra = self.page_rows(output[i][image_mask[i]], tiled.tiles)
                prompt = output[i][valid[i] & ~image_mask[i]]
                vectors = np.concatenate([cells, extra, prompt]).astype(np.float32, copy=False)
                side = self.geometry.cells_per_side
                results.append(PageEmbedding(vectors, (tiled.tiles[0] * side, tiled.tiles[1] * side)))
        return results

    def page_rows(self, rows: np.ndarray, tiles: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Split one page's image rows (n_rows, dim), in the processor's order, into its cells
        in row-major order over the page, shape (n_x * n_y, dim), and the global image's rows
        (64 for a page of more than one tile, else none). ``tiles`` is (t_x, t_y). Raises
        :class:`ModelError` for a row count that is not what the tiles call for."""
        return tiles_to_page_order(rows, tiles, self.geometry.cells_per_side)

    def _forward(self, batch: Any) -> np.ndarray:
        import torch

        inputs = {key: value.to(self.device) for key, value in batch.items()}
        with torch.inference_mode():
            output = self._model(**inputs)
        return output.float().cpu().numpy()


def tiles_to_page_order(rows: np.ndarray, tiles: tuple[int, int], side: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` (n_rows, dim): each of the t_x x t_y tiles' side x side rows in turn (tiles
    row-major, cells row-major within a tile), then, when there is more than one tile, the global
    image's side x side rows. Returns (cells, extra): the cells row-major over the page, shape
    (t_y * side * t_x * side, dim) (row ``y * n_x + x`` is the cell in column x, row y), and the
    global image's rows. Raises :class:`ModelError` for any other number of rows."""
    t_x, t_y = tiles
    local = t_x * t_y * side * side
    expected = local + (side * side if t_x * t_y > 1 else 0)
    if rows.shape[0] != expected:
        raise ModelError(
            "The model returned an unexpected number of image vectors.",
            details=f"{rows.shape[0]} rows for {t_x} x {t_y} tiles of {side} x {side} cells, not {expected}",
        )
    dim = rows.shape[1]
    by_tile = rows[:local].reshape(t_y, t_x, side, side, dim)
    cells = by_tile.transpose(0, 2, 1, 3, 4).reshape(local, dim)
    return cells, rows[local:]


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class _TiledBatch:
    """One batch of the processor's output (pages of one size) and its tiles (t_x, t_y)."""

    def __init__(self, batch: Any, tiles: tuple[int, int]) -> None:
        self.batch = batch
        self.tiles = tiles


class _TiledBatches(ProcessedBatches):
    """Prepared batches (:class:`_TiledBatch`), in page order; the images are not kept."""

    batches: list[_TiledBatch]


def load_tiled(
    files: ModelFiles,
    family: ModelFamily,
    device: str = "auto",
    visual_tokens: int | None = None,
    batch_size: int | None = None,
    *,
    query_prefix: str | None = None,
) -> TiledEmbedder:
    """Load a checkpoint of the tiled ``family`` (full model or LoRA adapter) from disk.

    ``visual_tokens``: the cells per page (a tile's worth at a time; None: the family's
    default), the global image's not counted. ``query_prefix``: as
    :func:`~docretriever.embedding.colqwen.load_colqwen`. Raises :class:`ModelError` (see
    :func:`~docretriever.embedding.colqwen.load_parts`, and a processor or model whose tiles or
    cells are not the family's) and :class:`InvalidInputError` for a budget the family does not
    take.
    """
    geometry = family.geometry
    if not isinstance(geometry, TiledGeometry):
        raise ModelError(f"{family.name} is not a tiled model family.")
    if visual_tokens is None:
        visual_tokens = geometry.default_cells
    geometry.check_cells(visual_tokens)
    parts = load_parts(files, family, device, query_prefix)
    check_tiles(parts, files.model_id, geometry)
    if batch_size is None:
        batch_size = 4 if parts.device == "cpu" else 16
        if parts.device.startswith("cuda"):
            import torch

            free_bytes, _ = torch.cuda.mem_get_info(torch.device(parts.device))
            batch_size = batch_size_for_memory(free_bytes, visual_tokens, geometry)
    return TiledEmbedder(
        parts.model, parts.processor, parts.identity, family, parts.device, visual_tokens, batch_size
    )


def check_tiles(parts: LoadedParts, model_id: str, geometry: TiledGeometry) -> None:
    """Raise :class:`ModelError` unless the processor splits pages into ``geometry``'s tiles
    (``do_image_splitting``, ``max_image_size["longest_edge"]`` = ``tile_px``) and gives each
    tile ``cells_per_tile`` rows (``image_seq_len``, and the model's own count): pages are
    rendered in those tiles and their rows mapped back to the page with them."""
    image_processor = parts.processor.image_processor
    tile = (getattr(image_processor, "max_image_size", None) or {}).get("longest_edge")
    per_tile = getattr(parts.processor, "image_seq_len", None)
    model_per_tile = getattr(getattr(parts.model, "model", None), "image_seq_len", per_tile)
    splits = getattr(image_processor, "do_image_splitting", False)
    expected = (geometry.tile_px, geometry.cells_per_tile, geometry.cells_per_tile, True)
    if (tile, per_tile, model_per_tile, splits) != expected:
        raise ModelError(
            f"{model_id} does not cut pages into the {geometry.tile_px}-px tiles of "
            f"{geometry.cells_per_tile} cells that {geometry.family} uses; DocRetriever cannot use it.",
            details=f"tile {tile} px, image_seq_len {per_tile} (model {model_per_tile}), splitting {splits}",
        )


# GPU memory one tile needs while it is embedded (bf16): SigLIP's widest intermediate
# (1,024 patches of 3,072 features in its MLP, ~12 such buffers alive at once). An estimate:
# --batch-size overrides it.
_BYTES_PER_TILE = 1024 * 3072 * 2 * 12
MAX_BATCH = 64


def batch_size_for_memory(free_bytes: int, visual_tokens: int, geometry: TiledGeometry) -> int:
    """Pages per batch that fit in half of ``free_bytes`` of device memory, counting the global
    image as one more tile; between 1 and ``MAX_BATCH``."""
    tiles = max(1, visual_tokens // geometry.cells_per_tile) + 1
    return max(1, min(MAX_BATCH, free_bytes // 2 // (tiles * _BYTES_PER_TILE)))
