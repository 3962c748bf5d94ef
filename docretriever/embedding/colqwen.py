"""The ColQwen families (ColQwen2, ColQwen2.5, ColQwen3, ColQwen3.5) through colpali-engine, and
the loading of a checkpoint that every family's embedder shares.

torch, transformers and colpali-engine are imported inside :func:`load_parts` (which the tiled
families' :mod:`docretriever.embedding.tiled` shares) so that the CLI's help and the GUI start
without paying for them. What differs between the families (classes, cell
size, row width, query prefix) is data in :mod:`docretriever.embedding.families`; the way a page's
rows are read back (image-pad rows in row-major cell order, then the prompt's) is the same for all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from docretriever.embedding.base import ModelIdentity, PageEmbedding, PreparedPages, QueryEmbedding
from docretriever.embedding.checkpoint_loading import load_checkpoint
from docretriever.embedding.families import ModelFamily, family_of_model_type, read_model_type
from docretriever.embedding.geometry import CellGeometry, TiledGeometry
from docretriever.embedding.model_files import ModelFiles
from docretriever.errors import ModelError
from docretriever.progress import CancelToken


def choose_device(requested: str) -> str:
    """Resolve "auto" to the best available device: cuda, then mps, then cpu."""
    import torch

    if requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError("The device cuda was asked for, but no CUDA GPU is available.")
        if requested == "mps" and not torch.backends.mps.is_available():
            raise ModelError("The device mps was asked for, but Metal is not available.")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def describe_backend() -> str:
    """One line naming the torch and colpali-engine versions and the devices usable here.

    Imports both (the import is what an installer's self-test checks); raises ImportError or
    whatever a broken install raises on import.
    """
    from importlib.metadata import version

    import colpali_engine.models  # noqa: F401  (the import is the check)
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    return f"torch {torch.__version__}, colpali-engine {version('colpali-engine')}, devices {devices}"


class ColQwenEmbedder:
    """An :class:`~docretriever.embedding.base.Embedder` backed by a checkpoint of one of the
    ColQwen families (see :mod:`docretriever.embedding.families`)."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        identity: ModelIdentity,
        family: ModelFamily,
        device: str,
        visual_tokens: int,
        batch_size: int,
    ) -> None:
        self._model = model
        self._processor = processor
        self._identity = identity
        self.family = family
        self.device = device
        self.visual_tokens = visual_tokens
        self.batch_size = batch_size
        self._augmentation_id = processor.tokenizer.convert_tokens_to_ids(processor.query_augmentation_token)
        # The processor's fast tokenizer changes its padding settings per call and is shared by
        # the ingest's preparing thread and the threads that embed queries.
        self._processor_lock = threading.Lock()

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def geometry(self) -> CellGeometry:
        """The family's: 28-px cells for ColQwen2 and ColQwen2.5, 32-px for ColQwen3 and ColQwen3.5."""
        return self.family.geometry

    def render_size(self, width_pt: float, height_pt: float) -> tuple[int, int]:
        """Whole cells of the family's size, at most ``visual_tokens`` of them: the size the
        processor keeps."""
        return self.family.geometry.render_size(width_pt, height_pt, self.visual_tokens)

    def prepare_pages(self, images: Sequence[Image.Image]) -> ProcessedBatches:
        """Run the image processor (resize, normalise, patchify, tokenise the visual prompt) in
        batches of ``batch_size``. About half of a CPU embedding's time, and no model needed."""
        batches = []
        for start in range(0, len(images), self.batch_size):
            batch_images = [_rgb(image) for image in images[start : start + self.batch_size]]
            with self._processor_lock:
                if len({image.size for image in batch_images}) == 1:
                    batch = self._process_same_size(batch_images)
                else:
                    batch = self._processor.process_images(batch_images)
            # The vision tower casts pixels to its own dtype first, so casting here gives the
            # same result and halves what a queued bf16 batch holds.
            batch["pixel_values"] = batch["pixel_values"].to(self._model.dtype)
            batches.append(batch)
        return ProcessedBatches(batches, len(images))

    def _process_same_size(self, images: list[Image.Image]) -> Any:
        """What ``process_images`` returns, for images of one size, with two fewer copies.

        colpali-engine splits the processor's (batch * patches, features) pixel values by image
        and pads them into (batch, patches, features); images of one size need no padding, so a
        view gives the same tensor. Ingest sorts pages by shape, so this is the usual case.
        """
        batch = self._processor(
            text=[self._processor.visual_prompt_prefix] * len(images),
            images=images,
            padding="longest",
            return_tensors="pt",
        )
        batch["pixel_values"] = batch["pixel_values"].view(len(images), -1, batch["pixel_values"].shape[-1])
        return batch

    def embed_pages(
        self, images: Sequence[Image.Image] | PreparedPages, cancel: CancelToken | None = None
    ) -> list[PageEmbedding]:
        """Embed page images (or pages from :meth:`prepare_pages`) in batches of ``batch_size``;
        see :class:`PageEmbedding` for the rows.

        Returns one embedding per page, in order. ``cancel`` is checked between batches.
        """
        if isinstance(images, ProcessedBatches):
            batches = images.batches
        else:
            plain = images.images if isinstance(images, PreparedPages) else images
            batches = self.prepare_pages(plain).batches
        results: list[PageEmbedding] = []
        for batch in batches:
            if cancel is not None:
                cancel.raise_if_cancelled()
            output = self._forward(batch)
            image_mask = (batch["input_ids"] == self._processor.image_token_id).numpy()
            valid = batch["attention_mask"].bool().numpy()
            merge = int(self._model.spatial_merge_size)
            for i in range(len(batch["image_grid_thw"])):
                _, rows, cols = (int(v) for v in batch["image_grid_thw"][i])
                grid = (cols // merge, rows // merge)
                cells = output[i][image_mask[i]]
                prompt = output[i][valid[i] & ~image_mask[i]]
                if cells.shape[0] != grid[0] * grid[1]:
                    raise ModelError(
                        "The model returned an unexpected number of image vectors.",
                        details=f"{cells.shape[0]} cells for grid {grid}",
                    )
                vectors = np.concatenate([cells, prompt]).astype(np.float32, copy=False)
                results.append(PageEmbedding(vectors, grid))
        return results

    def embed_queries(self, texts: Sequence[str]) -> list[QueryEmbedding]:
        """Embed queries in the training format: the family's prefix ("Query: " for ColQwen2),
        the text, then its augmentation tokens (10 of the processor's)."""
        processor = self._processor
        with self._processor_lock:
            batch = processor.process_queries(
                list(texts), suffix=processor.query_augmentation_token * self.family.augmentation_tokens
            )
        output = self._forward(batch)
        valid = batch["attention_mask"].bool().numpy()
        tokenizer = processor.tokenizer
        suffix = processor.query_augmentation_token * self.family.augmentation_tokens
        results = []
        for i, text in enumerate(texts):
            ids = batch["input_ids"][i][valid[i]].tolist()
            vectors = output[i][valid[i]].astype(np.float32, copy=False)
            prefix = processor.query_prefix
            word_span = (len(prefix), len(prefix) + len(text))
            with self._processor_lock:
                encoded = tokenizer(
                    prefix + text + suffix, return_offsets_mapping=True, add_special_tokens=True
                )
            if encoded["input_ids"] == ids:
                is_word = np.array(
                    [end > word_span[0] and start < word_span[1] for start, end in encoded["offset_mapping"]]
                )
            else:  # tokenisers without offsets: everything but the augmentation tokens
                is_word = np.array([t != self._augmentation_id for t in ids])
            tokens = tuple(tokenizer.decode([token]) for token in ids)
            results.append(QueryEmbedding(text, vectors, tokens, is_word))
        return results

    def _forward(self, batch: Any) -> np.ndarray:
        import torch

        # Missing from the processor's output in some transformers versions; the model needs it.
        if "mm_token_type_ids" not in batch and "pixel_values" in batch:
            batch["mm_token_type_ids"] = (batch["input_ids"] == self._processor.image_token_id).int()
        inputs = {key: value.to(self.device) for key, value in batch.items()}
        with torch.inference_mode():
            output = self._model(**inputs)
        return output.float().cpu().numpy()


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class ProcessedBatches(PreparedPages):
    """The image processor's output, one tensor dict per batch; the images are not kept."""

    def __init__(self, batches: list[Any], count: int) -> None:
        super().__init__([])
        self.batches = batches
        self.count = count

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class LoadedParts:
    """A checkpoint's model (on ``device``, eval mode) and processor, loaded by
    :func:`load_parts`; ``identity`` is what a library records about it."""

    model: Any
    processor: Any
    family: ModelFamily
    device: str
    identity: ModelIdentity


def load_parts(files: ModelFiles, family: ModelFamily, device: str, query_prefix: str | None) -> LoadedParts:
    """Load the model and processor of a checkpoint of ``family`` (full model or LoRA adapter)
    from disk with the family's colpali-engine classes, as every family's embedder does.

    bf16 on a GPU; float32 on CPU, where bf16 matrix products ran about 60x slower on AVX2.
    ``query_prefix`` goes before every query (None: the family's). Reads local files only.
    Raises :class:`ModelError` (libraries not installed, weights that do not fit the model, an
    adapter that did not load, a processor that did not load).
    """
    try:
        import colpali_engine.models as colpali_models
        import torch
        import transformers
    except ImportError as exc:
        raise ModelError(
            "The embedding libraries (torch, colpali-engine) are not installed correctly.",
            details=repr(exc),
        ) from exc

    model_class = getattr(colpali_models, family.model_class)
    processor_class = getattr(colpali_models, family.processor_class)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    resolved = choose_device(device)
    dtype = torch.float32 if resolved == "cpu" else torch.bfloat16
    model = load_checkpoint(model_class, files, dtype, width_from_config=family.width_from_config)
    try:
        # The adapter's folder holds the processor files the checkpoint was trained with.
        processor = processor_class.from_pretrained(str(files.folder), local_files_only=True)
    except Exception as exc:
        raise ModelError(
            f"The image processor of {files.model_id} could not be loaded.", details=repr(exc)
        ) from exc
    model = model.to(resolved).eval()
    processor.query_prefix = family.query_prefix if query_prefix is None else query_prefix
    identity = ModelIdentity(
        files.model_id,
        files.revision,
        files.fingerprint(),
        int(getattr(model, "dim", family.row_dim)),
        legacy_fingerprint=files.legacy_fingerprint(),
        family=family.name,
    )
    return LoadedParts(model, processor, family, resolved, identity)


def load_colqwen(
    files: ModelFiles,
    device: str = "auto",
    visual_tokens: int | None = None,
    batch_size: int | None = None,
    *,
    query_prefix: str | None = None,
) -> ColQwenEmbedder:
    """Load a checkpoint of a ColQwen family (full model or LoRA adapter) from disk; the family
    is told by the checkpoint's ``model_type`` (see :mod:`docretriever.embedding.families`).

    ``query_prefix`` goes before every query (default: the family's, the checkpoints' training
    format). ``visual_tokens`` None means the family's default budget.

    ``visual_tokens`` caps the cells per page image (pixel budget
    ``family.geometry.max_pixels(visual_tokens)``). Reads local files only. Raises
    :class:`ModelError` (unsupported model, a tiled family (see
    :func:`docretriever.embedding.load_embedder`), weights that do not fit it, an adapter that
    did not load, a processor whose cells are not the family's, which pages are rendered in).
    """
    family = family_of_model_type(read_model_type(files.folder, files.base_folder), files.model_id)
    geometry = family.geometry
    if isinstance(geometry, TiledGeometry):
        raise ModelError(f"{files.model_id} is a {family.name} model, which load_colqwen does not load.")
    if visual_tokens is None:
        visual_tokens = geometry.default_cells
    geometry.check_cells(visual_tokens)
    parts = load_parts(files, family, device, query_prefix)
    _check_cell_size(parts.processor.image_processor, files.model_id, geometry)
    _set_pixel_budget(parts.processor.image_processor, geometry, visual_tokens)
    resolved = parts.device
    if batch_size is None:
        batch_size = 4 if resolved == "cpu" else 16
        if resolved.startswith("cuda"):
            import torch

            free_bytes, _ = torch.cuda.mem_get_info(torch.device(resolved))
            batch_size = batch_size_for_memory(free_bytes, visual_tokens)
    return ColQwenEmbedder(
        parts.model, parts.processor, parts.identity, family, resolved, visual_tokens, batch_size
    )


def _set_pixel_budget(image_processor: Any, geometry: CellGeometry, visual_tokens: int) -> None:
    """Cap the pixels per page image at ``visual_tokens`` cells, with the family's floor.

    Checkpoints saved by transformers 4.45 (the vidore ones) give the limits as
    ``max_pixels``/``min_pixels``; newer ones as ``size["longest_edge"]``/``["shortest_edge"]``.
    Both are set, so the budget holds whichever the processor reads. The floor is the geometry's
    (the fewest cells pages are rendered with), not the checkpoint's: a processor whose floor is
    higher would enlarge a page rendered at a small budget, and its rows would then no longer be
    the cells the page was rendered in. Setting these directly avoids the warning
    ``max_num_visual_tokens=`` prints on every call."""
    floor, ceiling = geometry.min_pixels, geometry.max_pixels(visual_tokens)
    image_processor.size = {"shortest_edge": floor, "longest_edge": ceiling}
    if hasattr(image_processor, "max_pixels"):
        image_processor.max_pixels = ceiling
    if hasattr(image_processor, "min_pixels"):
        image_processor.min_pixels = floor


def _check_cell_size(image_processor: Any, model_id: str, geometry: CellGeometry) -> None:
    """Raise :class:`ModelError` unless the processor's cells (patch size x merge size, in pixels)
    are ``geometry``'s: pages are rendered in those, and their rows mapped back to the page with
    them. A processor that does not say (no such attributes) is taken at its family's word."""
    patch, merge = getattr(image_processor, "patch_size", None), getattr(image_processor, "merge_size", None)
    if isinstance(patch, int) and isinstance(merge, int) and patch * merge != geometry.cell_px:
        raise ModelError(
            f"{model_id} cuts pages into {patch * merge}-px cells, not the {geometry.cell_px}-px "
            f"cells of {geometry.family}; DocRetriever cannot use it.",
            details=f"patch_size {patch}, merge_size {merge}",
        )


# GPU memory one page needs while it is embedded, per visual token (bf16): the vision tower's
# widest intermediate (4 patches of 1,280 features per cell, ~12 such buffers alive at once)
# dominates. An estimate: --batch-size overrides it.
_BYTES_PER_VISUAL_TOKEN = 4 * 1280 * 2 * 12
MAX_BATCH = 64


def batch_size_for_memory(free_bytes: int, visual_tokens: int) -> int:
    """Pages per batch that fit in half of ``free_bytes`` of device memory (the rest is headroom
    for the allocator and for other programs), between 1 and ``MAX_BATCH``."""
    per_page = max(1, visual_tokens) * _BYTES_PER_VISUAL_TOKEN
    return max(1, min(MAX_BATCH, free_bytes // 2 // per_page))
