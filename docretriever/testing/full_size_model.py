"""Full-size ColQwen architectures with random weights, for throughput figures only.

Built in memory from the published configurations (no download), so a page costs the compute of
the real checkpoint; their vectors mean nothing: never search with them.

- ``colqwen2``: ``vidore/colqwen2-v1.0``, the Qwen2-VL-2B configuration, **2,209,182,336**
  parameters, 128-wide rows, 28-px cells. The tokenizer and image processor are the tiny model's
  (same page settings, special tokens, prompt layout).
- ``colqwen3.5-flash``: ``vultr/VultronRetrieverFlash-Qwen3.5-0.8B``, the Qwen/Qwen3.5-0.8B
  configuration with 320-wide rows, 32-px cells, **853,313,920** parameters (MTEB says 853,341,916);
  see :mod:`docretriever.testing.full_size_qwen35`.

Both keep their full vocabulary table so the parameter count matches. ``benchmarks/ingest_bench.py
--random-full-size`` and ``benchmarks/model_speed.py`` use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from colpali_engine.models import ColQwen2
from transformers import Qwen2VLConfig

from docretriever.embedding.base import ModelIdentity
from docretriever.embedding.colqwen import ColQwenEmbedder, batch_size_for_memory, choose_device
from docretriever.embedding.families import COLQWEN2, COLQWEN3_5, ModelFamily
from docretriever.testing.tiny_model import (
    SPECIAL_TOKENS,
    build_processor,
    build_tokenizer,
    colqwen2_config,
    token_id,
)

FULL_SIZE_PARAMETERS = 2_209_182_336


def full_size_config(special_ids: dict[str, int]) -> Qwen2VLConfig:
    """Qwen2-VL-2B's configuration (see ../shared/reference/colqwen2-facts.md), with the
    special-token ids of the tokenizer that will feed it."""
    text_config = {
        "vocab_size": 151936,
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1_000_000.0,
            "mrope_section": [16, 24, 24],
        },
        "bos_token_id": special_ids["<|endoftext|>"],
        "eos_token_id": special_ids["<|im_end|>"],
        "pad_token_id": special_ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": 32,
        "embed_dim": 1280,
        "num_heads": 16,
        "mlp_ratio": 4,
        "hidden_size": 1536,
        "hidden_act": "quick_gelu",
        "in_channels": 3,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    return colqwen2_config(text_config, vision_config, special_ids, tie_word_embeddings=True)


def _build_colqwen2() -> tuple[Any, Any]:
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    ids = {token: token_id(tokenizer, token) for token in SPECIAL_TOKENS}
    return ColQwen2(full_size_config(ids)), processor


def _build_flash() -> tuple[Any, Any]:
    from docretriever.testing.full_size_qwen35 import build_flash

    return build_flash()


@dataclass(frozen=True)
class FullSizeModel:
    """One full-size architecture: what it stands for, its family (geometry, query prefix), its
    parameter count and row width, and how to make it (on torch's current default device and
    dtype)."""

    name: str
    stands_for: str
    family: ModelFamily
    parameters: int
    dim: int
    build: Callable[[], tuple[Any, Any]]

    @property
    def identity(self) -> ModelIdentity:
        fingerprint = f"random-full-size-{self.name}-v1"
        return ModelIdentity(
            f"random-full-size-{self.name}", "random", fingerprint, self.dim, family=self.family.name
        )


FULL_SIZE_MODELS: dict[str, FullSizeModel] = {
    "colqwen2": FullSizeModel(
        "colqwen2", "vidore/colqwen2-v1.0", COLQWEN2, FULL_SIZE_PARAMETERS, 128, _build_colqwen2
    ),
    "colqwen3.5-flash": FullSizeModel(
        "colqwen3.5-flash",
        "vultr/VultronRetrieverFlash-Qwen3.5-0.8B",
        COLQWEN3_5,
        853_313_920,
        320,
        _build_flash,
    ),
}


def full_size_model(name: str) -> FullSizeModel:
    """The architecture called ``name`` (a key of :data:`FULL_SIZE_MODELS`); ValueError otherwise."""
    try:
        return FULL_SIZE_MODELS[name]
    except KeyError:
        raise ValueError(f"no full-size model {name!r}; known: {', '.join(FULL_SIZE_MODELS)}") from None


def build_full_size_model(
    device: str | torch.device = "meta", dtype: torch.dtype = torch.bfloat16, name: str = "colqwen2"
) -> tuple[Any, Any]:
    """(model, processor): the full-size architecture ``name`` on ``device`` in ``dtype``, random
    weights from torch's global generator (on "meta": shapes only, no memory)."""
    spec = full_size_model(name)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model, processor = spec.build()
    finally:
        torch.set_default_dtype(previous)
    return model.eval(), processor


def load_full_size_embedder(
    device: str = "auto", visual_tokens: int = 768, batch_size: int | None = None, name: str = "colqwen2"
) -> ColQwenEmbedder:
    """An embedder over the random full-size model ``name``: bf16 on a GPU, float32 on a CPU (where
    a page takes seconds to minutes); see :func:`full_size_embedder`."""
    full_size_model(name).family.geometry.check_cells(visual_tokens)
    resolved = choose_device(device)
    dtype = torch.float32 if resolved == "cpu" else torch.bfloat16
    model, processor = build_full_size_model(resolved, dtype, name)
    return full_size_embedder(model, processor, name, resolved, visual_tokens, batch_size)


def full_size_embedder(
    model: Any, processor: Any, name: str, device: str, visual_tokens: int, batch_size: int | None = None
) -> ColQwenEmbedder:
    """An embedder over ``model`` and ``processor`` from :func:`build_full_size_model` (already on
    ``device``), with the family's geometry, pixel limits and query prefix: several budgets or batch
    sizes can share one model (the processor is shared, so use one embedder at a time). Batch size
    from free GPU memory as for a real checkpoint, 4 on a CPU."""
    spec = full_size_model(name)
    geometry = spec.family.geometry
    geometry.check_cells(visual_tokens)
    processor.image_processor.size = {
        "shortest_edge": geometry.min_pixels,
        "longest_edge": geometry.max_pixels(visual_tokens),
    }
    processor.query_prefix = spec.family.query_prefix
    if batch_size is None:
        batch_size = 4
        if device.startswith("cuda"):
            free_bytes, _ = torch.cuda.mem_get_info(torch.device(device))
            batch_size = batch_size_for_memory(free_bytes, visual_tokens)
    return ColQwenEmbedder(model, processor, spec.identity, spec.family, device, visual_tokens, batch_size)
