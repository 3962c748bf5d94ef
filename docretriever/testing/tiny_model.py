"""Build a tiny, random-weight ColQwen2 checkpoint for tests and CI only.

The folder written by :func:`build_tiny_model` loads through exactly the code path of
the real ``vidore/colqwen2-v1.0`` checkpoint::

    model = ColQwen2.from_pretrained(folder, torch_dtype=torch.float32)
    processor = ColQwen2Processor.from_pretrained(folder)

Everything is produced locally, without the Hugging Face Hub: a byte-level BPE tokenizer
trained on generated English text, a small Qwen2-VL configuration and seeded random
weights. The output keeps the real shape contract (128-dimensional unit rows, one per
token, image-pad rows for pages), but the weights are random, so any ranking it produces
is meaningless. Never use it for real search.

Command line: ``python -m docretriever.testing.tiny_model DIR [--seed N]``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from colpali_engine.models import ColQwen2, ColQwen2Processor
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers import Qwen2VLConfig
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX, Qwen2Tokenizer
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from docretriever.embedding.geometry import COLQWEN2_GEOMETRY, CellGeometry

__all__ = [
    "CHAT_TEMPLATE",
    "SPECIAL_TOKENS",
    "build_model",
    "build_processor",
    "build_tiny_model",
    "build_tokenizer",
    "colqwen2_config",
    "main",
    "qwen_processor",
    "tiny_config",
    "token_id",
]

# Same tokens, in the same order, as the added tokens of the real Qwen2-VL tokenizer.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# ColQwen2 hard-codes its page prompt and never renders this template, but code that
# builds prompts the generic way (processor.apply_chat_template) should still get the
# Qwen2-VL layout.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'video' -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

_WORD_TEXT = """
the a an of to in for on with by from at as and or but not is are was were be has have
had this that these those it its we you they our their page pages document report table
figure chart section chapter summary appendix results method methods data model index
search query answer question revenue cost budget quarter annual year month invoice
payment total tax price sales market growth energy solar wind battery power grid policy
law court contract clause party agreement risk safety health patient study trial dose
clinical school student teacher course exam network server storage cloud memory speed
image scan photo map river city road bridge building water climate carbon emission
forest farm crop food first second third new old large small high low more less most
best final early late main other each shows describes compares lists reports increased
decreased improved reduced measured estimated reviewed user assistant system describe
hello world
"""
_WORDS = tuple(_WORD_TEXT.split())
_NUMBERS = ("2019", "2021", "2023", "2024", "12", "45", "3.5", "100", "7%", "$1,200")

_BPE_VOCAB_LIMIT = 1024
_TEXT_HIDDEN = 64
# Text head_dim 16 -> 8 rotary frequencies; mrope_section splits them over (t, h, w).
_TEXT_HEADS = 4
_MROPE_SECTION = [2, 3, 3]
_VISION_EMBED = 32
_VISION_HEADS = 2  # vision head_dim 16: axial rope needs it divisible by 4
_INIT_STD = 0.02
# ColQwen2's geometry (what the embedder that loads this model reports): 14-px patches merged
# 2 x 2 into its 28-px cells, at most its default budget of cells per page.
_MERGE = 2
_PATCH = COLQWEN2_GEOMETRY.cell_px // _MERGE


def _corpus(n_lines: int = 400, words_list: Sequence[str] = _WORDS) -> list[str]:
    # Fixed seed on purpose: the tokenizer, hence vocab_size, ignores the weight seed.
    rng = random.Random(1234)
    lines = []
    for _ in range(n_lines):
        words = [rng.choice(words_list) for _ in range(rng.randint(6, 16))]
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words)), rng.choice(_NUMBERS))
        sentence = " ".join(words)
        lines.append(sentence[0].upper() + sentence[1:] + rng.choice(".?!:,"))
    # ColQwen2's fixed page prompt then splits into the same pieces as with the real
    # tokenizer, so image-pad rows sit at the same offsets from the end of the sequence.
    return lines + ["user\nDescribe the image."] * 20


def build_tokenizer(
    words: Sequence[str] = _WORDS,
    vocab_limit: int = _BPE_VOCAB_LIMIT,
    *,
    tokenizer_class: Any = Qwen2Tokenizer,
    pretokenize_regex: str = PRETOKENIZE_REGEX,
    model_max_length: int = 32768,
) -> Qwen2Tokenizer:
    """A byte-level BPE tokenizer in the Qwen2 layout, learnt from sentences of ``words``.

    ``tokenizer_class`` and ``pretokenize_regex``: another Qwen tokenizer with the same special
    tokens and constructor (Qwen3.5's ``Qwen3_5Tokenizer`` and its regex)."""
    # Train with the exact pre-tokenisation the tokenizer class applies, so that every learnt
    # merge is reachable at encode time.
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pretokenize_regex), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_limit,
        # All 256 byte symbols: any UTF-8 text stays encodable without an unknown token.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(words_list=words), trainer)
    trained = json.loads(bpe.to_str())["model"]
    vocab: dict[str, int] = dict(trained["vocab"])
    # Special tokens go right after the BPE vocabulary, as in Qwen2; the added-token
    # table then reuses these ids instead of appending new ones in its own order.
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    # transformers annotates merges as strings, but this BPE model only accepts pairs.
    merges: Any = [tuple(pair) for pair in trained["merges"]]
    tokenizer: Qwen2Tokenizer = tokenizer_class(
        vocab=vocab,
        merges=merges,
        # Real Qwen2 settings: byte-level BPE needs no unknown token, and no BOS is
        # prepended (<|endoftext|> is only the config's bos_token_id).
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        model_max_length=model_max_length,
        padding_side="left",
    )
    return tokenizer


def token_id(tokenizer: Qwen2Tokenizer, token: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int):
        raise TypeError(f"{token!r} did not map to a single id: {token_id!r}")
    return token_id


def tiny_config(tokenizer: Qwen2Tokenizer) -> Qwen2VLConfig:
    ids = {token: token_id(tokenizer, token) for token in SPECIAL_TOKENS}
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": _TEXT_HIDDEN,
        "intermediate_size": 2 * _TEXT_HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": _TEXT_HEADS,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32768,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 1_000_000.0,
            "mrope_section": _MROPE_SECTION,
        },
        "initializer_range": _INIT_STD,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": 1,
        "embed_dim": _VISION_EMBED,
        "num_heads": _VISION_HEADS,
        "mlp_ratio": 2,
        "hidden_size": _TEXT_HIDDEN,  # patch merger output = text width
        "in_channels": 3,
        "patch_size": _PATCH,
        "spatial_merge_size": _MERGE,
        "temporal_patch_size": 2,
        "initializer_range": _INIT_STD,
    }
    return colqwen2_config(text_config, vision_config, ids, tie_word_embeddings=False)


def colqwen2_config(
    text_config: dict[str, Any],
    vision_config: dict[str, Any],
    ids: dict[str, int],
    *,
    tie_word_embeddings: bool,
) -> Qwen2VLConfig:
    """A Qwen2-VL configuration for ColQwen2 with the special-token ids ``ids`` of its tokenizer."""
    config = Qwen2VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=tie_word_embeddings,
    )
    config.architectures = ["ColQwen2"]
    return config


CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def qwen_processor(
    processor_class: Any,
    tokenizer: Any,
    geometry: CellGeometry,
    *,
    video_processor_class: Any = Qwen2VLVideoProcessor,
    mean: Sequence[float] = CLIP_MEAN,
    std: Sequence[float] = CLIP_STD,
) -> Any:
    """A Qwen-VL-style processor of ``processor_class`` over ``tokenizer``: patches of half the
    ``geometry``'s cell merged 2 x 2, its pixel limits at its default budget, ``mean``/``std``
    normalisation (CLIP's for Qwen2-VL and Qwen2.5-VL; 0.5 for Qwen3-VL and Qwen3.5)."""
    patch = geometry.cell_px // _MERGE
    size = {"shortest_edge": geometry.min_pixels, "longest_edge": geometry.max_pixels(geometry.default_cells)}
    image_processor = Qwen2VLImageProcessor(
        size=size,
        patch_size=patch,
        temporal_patch_size=2,
        merge_size=_MERGE,
        image_mean=list(mean),
        image_std=list(std),
    )
    video_processor = video_processor_class(
        size=size, patch_size=patch, temporal_patch_size=2, merge_size=_MERGE
    )
    return processor_class(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_processor(tokenizer: Qwen2Tokenizer) -> ColQwen2Processor:
    """ColQwen2's processor: its geometry's pixel limits at its default budget; CLIP mean/std."""
    return qwen_processor(ColQwen2Processor, tokenizer, COLQWEN2_GEOMETRY)


def build_model(config: Qwen2VLConfig, seed: int) -> ColQwen2:
    # fork_rng: reproducible weights without disturbing the caller's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ColQwen2(config).to(torch.float32)
        # pad_token_id zeroes the pad embedding row, so left-padding positions reach the
        # projection as exact zero vectors; with the default zero bias they project to
        # zero and ColQwen2.forward (norm division, no epsilon) makes them NaN rows.
        torch.nn.init.normal_(model.custom_text_proj.bias, std=_INIT_STD)
    return model.eval()


def build_tiny_model(destination: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random-weight ColQwen2 checkpoint into ``destination``; return it.

    The folder is created if needed. The same ``seed`` always gives byte-identical
    weights; the tokenizer and processor files do not depend on the seed at all.
    """
    folder = Path(destination)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = build_model(tiny_config(tokenizer), seed)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docretriever.testing.tiny_model",
        description="Write a tiny random-weight ColQwen2 checkpoint (tests/CI only).",
    )
    parser.add_argument("destination", type=Path, help="folder to create or overwrite")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default: 0)")
    args = parser.parse_args(argv)
    print(build_tiny_model(args.destination, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
