"""The full-size ColQwen3.5 "Flash" architecture (vultr/VultronRetrieverFlash-Qwen3.5-0.8B) with random
weights, for throughput figures only; :mod:`docretriever.testing.full_size_model` wraps it.

The configuration is Qwen/Qwen3.5-0.8B's ``config.json`` as two public copies quote it (test fixtures of
two other projects, one at revision 2fc06364, agreeing on every field they share; the Hub's own file
could not be read from this project's machines): a 24-layer text model of width 1,024
whose layers repeat (3 gated-delta-net linear-attention layers, 1 full-attention layer) six times,
and a 12-layer vision tower of width 768 with 16-px patches merged 2 x 2 into 32-px cells. colpali-engine's
``ColQwen3_5`` adds a 1,024 -> 320 projection (``config.dim = 320``, the Vultron rows). With the full
248,320-row vocabulary (tied to the output, as in the checkpoint) that is **853,313,920** parameters,
counted on the meta device; MTEB's ModelMeta for the Flash model says 853,341,916 (27,996 more, a
difference not explained by any field of the public configuration: the count here is the
architecture's). The vision tower alone is 100,592,896, the token table 254,279,680 (MTEB's
n_embedding_parameters).

The processor is Qwen3.5's (``Qwen3VLProcessor`` layout: ``Qwen2VLImageProcessor`` with patch 16, merge 2,
mean/std 0.5; ``Qwen3VLVideoProcessor``) over a small BPE tokenizer trained here in the
``Qwen3_5Tokenizer`` layout with the real special tokens, so a page's prompt
(``<|im_start|>user\\n<|vision_start|><|image_pad|>...``) has the real length and order.
"""

from __future__ import annotations

from typing import Any

import torch
from colpali_engine.models import ColQwen3_5, ColQwen3_5Processor
from transformers.models.qwen3_5 import Qwen3_5Config
from transformers.models.qwen3_5.tokenization_qwen3_5 import PRETOKENIZE_REGEX, Qwen3_5Tokenizer
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

from docretriever.embedding.families import COLQWEN3_5
from docretriever.testing.tiny_model import SPECIAL_TOKENS, build_tokenizer, qwen_processor, token_id

FLASH_PARAMETERS = 853_313_920
FLASH_VISION_PARAMETERS = 100_592_896
FLASH_DIM = 320
# Three linear-attention (gated delta net) layers, then one full-attention layer, six times.
FLASH_LAYER_TYPES = (["linear_attention"] * 3 + ["full_attention"]) * 6
_PATCH, _MERGE = 16, 2


def flash_config(special_ids: dict[str, int]) -> Qwen3_5Config:
    """Qwen/Qwen3.5-0.8B's configuration with ``dim`` 320, and the special-token ids of the
    tokenizer that will feed it (the real ones are 248,053 and up, in a table of 248,320 rows)."""
    text_config = {
        "vocab_size": 248_320,
        "hidden_size": 1024,
        "intermediate_size": 3584,
        "num_hidden_layers": 24,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "head_dim": 256,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_output_gate": True,
        "full_attention_interval": 4,
        "layer_types": list(FLASH_LAYER_TYPES),
        "linear_num_key_heads": 16,
        "linear_num_value_heads": 16,
        "linear_key_head_dim": 128,
        "linear_value_head_dim": 128,
        "linear_conv_kernel_dim": 4,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 262_144,
        "tie_word_embeddings": True,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10_000_000,
            "partial_rotary_factor": 0.25,
            "mrope_interleaved": True,
            "mrope_section": [11, 11, 10],
        },
        "bos_token_id": special_ids["<|endoftext|>"],
        "eos_token_id": special_ids["<|im_end|>"],
        "pad_token_id": special_ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": 12,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_heads": 12,
        "hidden_act": "gelu_pytorch_tanh",
        "in_channels": 3,
        "patch_size": _PATCH,
        "temporal_patch_size": 2,
        "spatial_merge_size": _MERGE,
        "out_hidden_size": 1024,
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [],
    }
    config = Qwen3_5Config(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=special_ids["<|image_pad|>"],
        video_token_id=special_ids["<|video_pad|>"],
        vision_start_token_id=special_ids["<|vision_start|>"],
        vision_end_token_id=special_ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    config.dim = FLASH_DIM  # ColQwen3_5 reads it; its default (128) is not the Vultron rows
    config.architectures = ["ColQwen3_5"]
    return config


def build_flash_processor() -> ColQwen3_5Processor:
    """ColQwen3_5Processor with Qwen3.5's image settings (32-px cells, mean/std 0.5), pixel limits
    those of the ColQwen3.5 geometry at its default budget."""
    tokenizer = build_tokenizer(
        tokenizer_class=Qwen3_5Tokenizer, pretokenize_regex=PRETOKENIZE_REGEX, model_max_length=262_144
    )
    return qwen_processor(
        ColQwen3_5Processor,
        tokenizer,
        COLQWEN3_5.geometry,
        video_processor_class=Qwen3VLVideoProcessor,
        mean=[0.5, 0.5, 0.5],
        std=[0.5, 0.5, 0.5],
    )


def build_flash() -> tuple[Any, Any]:
    """(model, processor); the model is made on torch's current default device and dtype, with
    random weights from its global generator."""
    processor = build_flash_processor()
    ids = {token: token_id(processor.tokenizer, token) for token in SPECIAL_TOKENS}
    model = ColQwen3_5(flash_config(ids))
    if model.custom_text_proj.bias.device.type != "meta":
        # As the tiny model: a zero bias would make an all-zero (left-padding) row NaN when normalised.
        torch.nn.init.normal_(model.custom_text_proj.bias, std=0.02)
    return model, processor
