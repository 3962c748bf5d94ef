"""The full-size ColQwen2 architecture with random weights, for throughput figures only.

Built in memory from the Qwen2-VL-2B configuration (no download): 2,209,182,336 parameters, so
a page costs the compute of the real ``vidore/colqwen2-v1.0``. The tokenizer and image processor
are the tiny model's (same page settings, special tokens, prompt layout); the vocabulary table
keeps its full size so the parameter count matches. Its vectors mean nothing: never search with
it. ``benchmarks/ingest_bench.py --random-full-size`` uses it.
"""

from __future__ import annotations

from typing import Any

import torch
from colpali_engine.models import ColQwen2
from transformers import Qwen2VLConfig

from docretriever.embedding.base import ModelIdentity
from docretriever.embedding.colqwen import ColQwenEmbedder, batch_size_for_memory, choose_device
from docretriever.embedding.families import COLQWEN2
from docretriever.testing.tiny_model import (
    SPECIAL_TOKENS,
    build_processor,
    build_tokenizer,
    colqwen2_config,
    token_id,
)

FULL_SIZE_PARAMETERS = 2_209_182_336
IDENTITY = ModelIdentity("random-full-size-colqwen2", "random", "random-full-size-colqwen2-v1", 128)


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


def build_full_size_model(
    device: str | torch.device = "meta", dtype: torch.dtype = torch.bfloat16
) -> tuple[Any, Any]:
    """(model, processor): the full-size architecture on ``device`` in ``dtype``, random
    weights from torch's global generator (on "meta": shapes only, no memory)."""
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    ids = {token: token_id(tokenizer, token) for token in SPECIAL_TOKENS}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = ColQwen2(full_size_config(ids))
    finally:
        torch.set_default_dtype(previous)
    return model.eval(), processor


def load_full_size_embedder(
    device: str = "auto", visual_tokens: int = 768, batch_size: int | None = None
) -> ColQwenEmbedder:
    """An embedder over the random full-size model: bf16 on a GPU, float32 on a CPU (where a
    page takes minutes), batch size from free GPU memory as for a real checkpoint."""
    resolved = choose_device(device)
    dtype = torch.float32 if resolved == "cpu" else torch.bfloat16
    model, processor = build_full_size_model(resolved, dtype)
    processor.image_processor.size["longest_edge"] = COLQWEN2.geometry.max_pixels(visual_tokens)
    processor.query_prefix = COLQWEN2.query_prefix
    if batch_size is None:
        batch_size = 4
        if resolved.startswith("cuda"):
            free_bytes, _ = torch.cuda.mem_get_info(torch.device(resolved))
            batch_size = batch_size_for_memory(free_bytes, visual_tokens)
    return ColQwenEmbedder(model, processor, IDENTITY, COLQWEN2, resolved, visual_tokens, batch_size)
