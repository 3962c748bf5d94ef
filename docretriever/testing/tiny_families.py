"""Tiny random-weight checkpoints of the other ColQwen families, for tests and CI only.

Each folder loads through exactly the code path of its family's published checkpoints
(``<Class>.from_pretrained(folder)`` and ``<Class>Processor.from_pretrained(folder)``, as
:func:`docretriever.embedding.colqwen.load_colqwen` does) and has the real configuration's
structure at a tiny size:

- ColQwen2.5 (``vidore/colqwen2.5-v0.2``'s family): Qwen2.5-VL, 14-px patches merged 2 x 2 into
  28-px cells, windowed vision attention, 128-wide rows.
- ColQwen3 (colpali-engine's ``ColQwen3``): Qwen3-VL, 16-px patches merged into 32-px cells,
  deepstack vision features, 320-wide rows (fixed in the class).
- ColModernVBert (``ModernVBERT/colmodernvbert``'s family): see :mod:`docretriever.testing.tiny_tiled`.
- ColQwen3.5 (``vultr/VultronRetrieverFlash-Qwen3.5-0.8B``'s family): Qwen3.5, 32-px cells, a
  language model of gated delta-net (linear attention) layers with a full-attention layer every
  fourth, as Qwen3.5-0.8B's ``layer_types``; 320-wide rows. With ``dim_in_config=False`` the
  configuration does not say ``"dim": 320`` (whether the published one does is unknown), so the
  loader must read the width from the weights.

The tokenizer is the tiny ColQwen2's vocabulary (same special tokens, same prompt pieces); the
weights are random, so rankings mean nothing. Never use these for real search.

Command line: ``python -m docretriever.testing.tiny_families DIR --family ColQwen3.5 [--seed N]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from colpali_engine.models import (
    ColQwen2_5,
    ColQwen2_5_Processor,
    ColQwen3,
    ColQwen3_5,
    ColQwen3_5Processor,
    ColQwen3Processor,
)
from transformers import Qwen2_5_VLConfig, Qwen3VLConfig
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
from transformers.models.qwen3_5 import Qwen3_5Config
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

from docretriever.embedding.families import (
    COLMODERNVBERT,
    COLQWEN2_5,
    COLQWEN3,
    COLQWEN3_5,
    ModelFamily,
    family_named,
)
from docretriever.testing.tiny_model import (
    CLIP_MEAN,
    CLIP_STD,
    SPECIAL_TOKENS,
    build_tokenizer,
    qwen_processor,
    token_id,
)
from docretriever.testing.tiny_tiled import build_tiny_colmodernvbert

_INIT_STD = 0.02
_HIDDEN = 64


def _ids(tokenizer: Any) -> dict[str, int]:
    return {token: token_id(tokenizer, token) for token in SPECIAL_TOKENS}


def _vision_ids(ids: dict[str, int]) -> dict[str, Any]:
    return {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }


def _text_ids(ids: dict[str, int]) -> dict[str, Any]:
    return {"pad_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"]}


def colqwen2_5_config(tokenizer: Any) -> Qwen2_5_VLConfig:
    """Qwen2.5-VL's structure, tiny: windowed vision attention with one full-attention block."""
    ids = _ids(tokenizer)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": _HIDDEN,
        "intermediate_size": 2 * _HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]},
        **_text_ids(ids),
    }
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": _HIDDEN,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
    }
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **_vision_ids(ids))
    config.architectures = ["ColQwen2_5"]
    return config


def colqwen3_config(tokenizer: Any) -> Qwen3VLConfig:
    """Qwen3-VL's structure, tiny: 16-px patches, deepstack features from two vision layers."""
    ids = _ids(tokenizer)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": _HIDDEN,
        "intermediate_size": 2 * _HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5_000_000.0,
            "mrope_section": [2, 3, 3],
            "mrope_interleaved": True,
        },
        **_text_ids(ids),
    }
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": _HIDDEN,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0, 1],
    }
    config = Qwen3VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=True, **_vision_ids(ids)
    )
    config.architectures = ["ColQwen3"]
    return config


def colqwen3_5_config(tokenizer: Any) -> Qwen3_5Config:
    """Qwen3.5-0.8B's structure, tiny: three linear-attention layers, then a full-attention one
    (its ``full_attention_interval`` of 4), interleaved multimodal rope, 320-wide rows."""
    ids = _ids(tokenizer)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": _HIDDEN,
        "intermediate_size": 2 * _HIDDEN,
        "num_hidden_layers": 4,
        "layer_types": ["linear_attention"] * 3 + ["full_attention"],
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "linear_num_key_heads": 2,
        "linear_num_value_heads": 2,
        "linear_key_head_dim": 16,
        "linear_value_head_dim": 16,
        "linear_conv_kernel_dim": 4,
        # Rotary over a quarter of each head (partial_rotary_factor 0.25): 4 dims, 2 frequencies.
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10_000_000.0,
            "partial_rotary_factor": 0.25,
            "mrope_section": [1, 1, 0],
            "mrope_interleaved": True,
        },
        **_text_ids(ids),
    }
    vision = {
        "depth": 1,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": _HIDDEN,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "num_position_embeddings": 64,
    }
    config = Qwen3_5Config(
        text_config=text, vision_config=vision, tie_word_embeddings=True, **_vision_ids(ids)
    )
    config.dim = COLQWEN3_5.row_dim
    config.architectures = ["ColQwen3_5"]
    return config


_BUILDS: dict[str, tuple[Any, Any, Any, Any, list[float], list[float]]] = {
    COLQWEN2_5.name: (
        colqwen2_5_config,
        ColQwen2_5,
        ColQwen2_5_Processor,
        Qwen2VLVideoProcessor,
        CLIP_MEAN,
        CLIP_STD,
    ),
    COLQWEN3.name: (
        colqwen3_config,
        ColQwen3,
        ColQwen3Processor,
        Qwen3VLVideoProcessor,
        [0.5] * 3,
        [0.5] * 3,
    ),
    COLQWEN3_5.name: (
        colqwen3_5_config,
        ColQwen3_5,
        ColQwen3_5Processor,
        Qwen3VLVideoProcessor,
        [0.5] * 3,
        [0.5] * 3,
    ),
}
TINY_FAMILIES: tuple[str, ...] = (*_BUILDS, COLMODERNVBERT.name)


def build_tiny_family_model(
    destination: str | Path, family: ModelFamily, *, seed: int = 0, dim_in_config: bool = True
) -> Path:
    """Write a tiny random-weight checkpoint of ``family`` (one of :data:`TINY_FAMILIES`) into
    ``destination`` and return it. The same ``seed`` gives the same weights. Raises KeyError for
    a family without a tiny build here (ColQwen2's is :mod:`docretriever.testing.tiny_model`).
    ColModernVBert's is :mod:`docretriever.testing.tiny_tiled`'s (``dim_in_config`` does not
    apply: its row width is fixed by the class)."""
    if family is COLMODERNVBERT:
        return build_tiny_colmodernvbert(destination, seed=seed)
    make_config, model_class, processor_class, video_class, mean, std = _BUILDS[family.name]
    folder = Path(destination)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = make_config(tokenizer)
    processor = qwen_processor(
        processor_class, tokenizer, family.geometry, video_processor_class=video_class, mean=mean, std=std
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config).to(torch.float32)
        # A non-zero bias: padded positions (zero embeddings) must not project to zero rows,
        # which the model's norm division (no epsilon) turns into NaN.
        torch.nn.init.normal_(model.custom_text_proj.bias, std=_INIT_STD)
    model.eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    if not dim_in_config:
        path = folder / "config.json"
        saved = json.loads(path.read_text())
        saved.pop("dim", None)
        path.write_text(json.dumps(saved, indent=2))
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docretriever.testing.tiny_families",
        description="Write a tiny random-weight checkpoint of a ColQwen family (tests/CI only).",
    )
    parser.add_argument("destination", type=Path, help="folder to create or overwrite")
    parser.add_argument("--family", required=True, choices=TINY_FAMILIES)
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default: 0)")
    parser.add_argument("--no-dim", action="store_true", help='leave "dim" out of config.json')
    args = parser.parse_args(argv)
    family = family_named(args.family)
    print(build_tiny_family_model(args.destination, family, seed=args.seed, dim_in_config=not args.no_dim))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
