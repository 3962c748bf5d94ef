"""A tiny random-weight ColModernVBert checkpoint, for tests and CI only.

The folder loads through exactly the code path of ``ModernVBERT/colmodernvbert``
(``ColModernVBert.from_pretrained(folder)`` and ``ColModernVBertProcessor.from_pretrained(folder)``,
as :func:`docretriever.embedding.tiled.load_tiled` does) and has its structure at a tiny size:

- a ModernVBert model (transformers 5.23): a SigLIP vision tower on 512-px tiles with 16-px
  patches, its 32 x 32 patches pixel-shuffled 4 x 4 (``pixel_shuffle_factor`` 4) into 8 x 8 = 64
  rows per tile, and a ModernBERT text model (alternating local and global attention);
- colpali-engine's 128-wide row projection;
- an Idefics3 image processor (``max_image_size`` 512, image splitting on, global image) and a
  processor with ``image_seq_len`` 64;
- a tokenizer with the Idefics3 tokens the processor writes: ``<fake_token_around_image>``,
  ``<image>``, ``<global-img>``, ``<row_r_col_c>`` for r, c in 1..6, ``<end_of_utterance>``, and
  the page prompt's ``<|begin_of_text|>``. Its vocabulary is the tiny ColQwen2's BPE (not
  ModernBERT's), so text splits differently from the real model.

The weights are random, so rankings mean nothing. Never use this for real search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from colpali_engine.models import ColModernVBert, ColModernVBertProcessor
from transformers import ModernVBertConfig
from transformers.models.idefics3.image_processing_idefics3 import Idefics3ImageProcessor

from docretriever.embedding.families import COLMODERNVBERT
from docretriever.embedding.geometry import TiledGeometry
from docretriever.testing.tiny_model import build_tokenizer, token_id

_INIT_STD = 0.02
_HIDDEN = 64
_SIGLIP_PATCH = 16
# The Idefics3 processor's tokens, as SmolVLM's tokenizer (which ModernVBERT's follows) has them.
IDEFICS3_TOKENS: tuple[str, ...] = (
    "<|begin_of_text|>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    *(f"<row_{row}_col_{column}>" for row in range(1, 7) for column in range(1, 7)),
    "<end_of_utterance>",
)


def _geometry() -> TiledGeometry:
    geometry = COLMODERNVBERT.geometry
    assert isinstance(geometry, TiledGeometry)
    return geometry


def build_tiled_tokenizer() -> Any:
    """The tiny ColQwen2 BPE tokenizer with the Idefics3 tokens added as special tokens."""
    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": list(IDEFICS3_TOKENS)})
    return tokenizer


def colmodernvbert_config(tokenizer: Any) -> ModernVBertConfig:
    """ModernVBert's structure, tiny: 512-px SigLIP tiles of 16-px patches, shuffled 4 x 4."""
    geometry = _geometry()
    shuffle = geometry.cell_px // _SIGLIP_PATCH
    pad, eos = token_id(tokenizer, "<|endoftext|>"), token_id(tokenizer, "<end_of_utterance>")
    text = {
        "model_type": "modernbert",
        "vocab_size": len(tokenizer),
        "hidden_size": _HIDDEN,
        "intermediate_size": 2 * _HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "global_attn_every_n_layers": 2,
        "local_attention": 64,
        "pad_token_id": pad,
        "bos_token_id": token_id(tokenizer, "<|begin_of_text|>"),
        "eos_token_id": eos,
        "cls_token_id": token_id(tokenizer, "<|begin_of_text|>"),
        "sep_token_id": eos,
    }
    vision = {
        "model_type": "siglip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": geometry.tile_px,
        "patch_size": _SIGLIP_PATCH,
    }
    config = ModernVBertConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=token_id(tokenizer, "<image>"),
        pixel_shuffle_factor=shuffle,
    )
    config.architectures = ["ColModernVBert"]
    return config


def build_tiny_colmodernvbert(destination: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random-weight ColModernVBert checkpoint into ``destination`` (created if
    needed) and return it. The same ``seed`` gives the same weights."""
    geometry = _geometry()
    folder = Path(destination)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiled_tokenizer()
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 4 * geometry.tile_px},
        max_image_size={"longest_edge": geometry.tile_px},
        do_image_splitting=True,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )
    processor = ColModernVBertProcessor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_len=geometry.cells_per_tile
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ColModernVBert(colmodernvbert_config(tokenizer)).to(torch.float32)
        torch.nn.init.normal_(model.custom_text_proj.bias, std=_INIT_STD)
    model.eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder
