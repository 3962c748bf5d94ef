"""Tiny copies of the Hugging Face Hub repositories the app downloads, in their real file layouts.

The app downloads ``vidore/colqwen2-v1.0``, which is not a model but a PEFT LoRA adapter over
``vidore/colqwen2-base``. Tests of the download and loading code need repositories with exactly those
layouts (file names, folder structure, key names, dtypes, old configuration formats), only small. This
module writes them from the project's tiny random-weight model (:mod:`docretriever.testing.tiny_model`),
with the old-format tokenizer and processor files, the LoRA adapter and its training checkpoint written by
:mod:`docretriever.testing.hub_layout_files`:

- ``vidore/colqwen2-base``: a flat transformers-4.45 ``config.json`` (text settings at the top level,
  ``rope_scaling`` of type ``mrope``), ``generation_config.json``, fp32 weights under the ORIGINAL key names
  (``model.embed_tokens.weight``, ``model.layers.N.*``, ``model.norm.weight``, ``visual.*``,
  ``custom_text_proj.*``) in two shards with ``model.safetensors.index.json``, and the tokenizer and
  old-format processor files.
- ``vidore/colqwen2-v1.0``: ``adapter_config.json`` naming the base by Hub id, a bf16
  ``adapter_model.safetensors`` with seeded, nonzero LoRA tensors (a trained adapter: loading it or not
  changes the embeddings), the same tokenizer and processor files, ``results.json``, ``git_hash.txt`` and a
  ``checkpoint-2310/`` training checkpoint whose ``optimizer.pt`` is clearly bigger than the adapter, so that
  downloading the checkpoint by mistake shows in byte counts.
- ``vidore/colqwen2-v1.0-hf``: the transformers-native layout (``model_type`` ``colqwen2``,
  ``ColQwen2ForRetrieval``), only so that a test can check what the app says about it.

Everything is random and tiny (about 2.5 MB for the three): never use it for real search. The same seed always
gives byte-identical files. Command line: ``python -m docretriever.testing.hub_layout DIR [--seed N]``.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import Qwen2VLConfig
from transformers.models.colqwen2 import ColQwen2Config, ColQwen2ForRetrieval
from transformers.models.colqwen2 import ColQwen2Processor as HfColQwen2Processor

from docretriever.testing.hub_layout_files import (
    LORA_ALPHA,
    LORA_RANK,
    LORA_TARGET_MODULES,
    old_key_name,
    special_ids,
    write_adapter_files,
    write_checkpoint,
    write_json,
    write_old_processor_files,
    write_text,
)
from docretriever.testing.tiny_model import build_model, build_processor, build_tokenizer, tiny_config

__all__ = [
    "ADAPTER_REPO",
    "BASE_REPO",
    "CHECKPOINT_DIR",
    "HF_NATIVE_REPO",
    "LORA_ALPHA",
    "LORA_RANK",
    "LORA_TARGET_MODULES",
    "build_hub_repos",
    "main",
    "old_key_name",
]

ADAPTER_REPO = "vidore/colqwen2-v1.0"
BASE_REPO = "vidore/colqwen2-base"
HF_NATIVE_REPO = "vidore/colqwen2-v1.0-hf"
CHECKPOINT_DIR = "checkpoint-2310"

_CREATED_BY = "docretriever.testing.hub_layout (tiny random-weight stand-in)"

# The Hub's default .gitattributes for a new model repository (plus tokenizer.json, which the vidore repos
# store in LFS). The Hub stand-in reads it to decide which files are LFS objects, as the real Hub does.
GITATTRIBUTES = """\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lfs.* filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
tokenizer.json filter=lfs diff=lfs merge=lfs -text
"""


def _hex40(*parts: object) -> str:
    """A stable 40-hex string (git-hash-like) for the seed and a label."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


# --------------------------------------------------------------------------- vidore/colqwen2-base


def _old_config(config: Qwen2VLConfig, ids: dict[str, int]) -> dict[str, Any]:
    """The tiny configuration written the way transformers 4.45 saved vidore/colqwen2-base.

    Text settings sit at the top level (no text_config), rope parameters are the old ``rope_theta`` plus
    ``rope_scaling`` of type ``mrope``, and vision_config holds only what differed from the 4.45 defaults plus
    the original Qwen2-VL keys (in_chans, spatial_patch_size) and its model_type, as the real file does.
    """
    # Typed as a union (dict or config) in transformers; here they are always built configs.
    text: Any = config.text_config
    vision: Any = config.vision_config
    rope = dict(text.rope_parameters or {})
    return {
        "_name_or_path": "./models/colqwen2_base",
        "architectures": ["ColQwen2"],
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "hidden_act": text.hidden_act,
        "hidden_size": text.hidden_size,
        "image_token_id": ids["<|image_pad|>"],
        "initializer_range": text.initializer_range,
        "intermediate_size": text.intermediate_size,
        "max_position_embeddings": text.max_position_embeddings,
        "max_window_layers": text.num_hidden_layers,
        "model_type": "qwen2_vl",
        "num_attention_heads": text.num_attention_heads,
        "num_hidden_layers": text.num_hidden_layers,
        "num_key_value_heads": text.num_key_value_heads,
        "rms_norm_eps": text.rms_norm_eps,
        "rope_scaling": {"type": "mrope", "mrope_section": list(rope["mrope_section"])},
        "rope_theta": float(rope["rope_theta"]),
        "sliding_window": text.max_position_embeddings,
        # As in the real file (Qwen2-VL-2B ties them); ColQwen2 has no lm_head, so it changes nothing here.
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.45.0",
        "use_cache": True,
        "use_sliding_window": False,
        "video_token_id": ids["<|video_pad|>"],
        "vision_config": {
            "depth": vision.depth,
            "embed_dim": vision.embed_dim,
            "hidden_size": vision.hidden_size,
            "in_chans": vision.in_channels,
            "mlp_ratio": vision.mlp_ratio,
            "model_type": "qwen2_vl",
            "num_heads": vision.num_heads,
            "spatial_patch_size": vision.patch_size,
        },
        "vision_end_token_id": ids["<|vision_end|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_token_id": ids["<|vision_pad|>"],
        "vocab_size": text.vocab_size,
    }


def _sharded_save(folder: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Two shards (embeddings and the first layer, then the rest) and their index, as save_pretrained does."""
    first = {k: v for k, v in tensors.items() if k.startswith(("model.embed_tokens.", "model.layers.0."))}
    second = {k: v for k, v in tensors.items() if k not in first}
    names = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    weight_map: dict[str, str] = {}
    for name, shard in zip(names, (first, second), strict=True):
        save_file(
            {k: t.contiguous() for k, t in shard.items()}, str(folder / name), metadata={"format": "pt"}
        )
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    write_json(
        folder / "model.safetensors.index.json",
        {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
    )


def _write_base(folder: Path, model: torch.nn.Module, config: Qwen2VLConfig, tokenizer: Any) -> None:
    ids = special_ids(tokenizer)
    write_json(folder / "config.json", _old_config(config, ids))
    write_json(
        folder / "generation_config.json",
        {
            "bos_token_id": ids["<|endoftext|>"],
            "do_sample": True,
            "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
            "pad_token_id": ids["<|endoftext|>"],
            "temperature": 0.01,
            "top_k": 1,
            "top_p": 0.001,
            "transformers_version": "4.45.0",
        },
    )
    tensors = {old_key_name(k): v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    _sharded_save(folder, tensors)
    write_old_processor_files(folder, tokenizer)
    write_text(folder / ".gitattributes", GITATTRIBUTES)
    write_text(
        folder / "README.md",
        "---\nlicense: apache-2.0\nlibrary_name: colpali\nlanguage:\n- en\ntags:\n- colpali\n"
        "pipeline_tag: visual-document-retrieval\n---\n"
        "# ColQwen2 base (tiny test stand-in)\n\n"
        "The layout of `vidore/colqwen2-base`: Qwen2-VL weights with the ColQwen2 projection, saved with\n"
        f"transformers 4.45. Random weights, for tests only. Written by {_CREATED_BY}.\n",
    )


# --------------------------------------------------------------------------- vidore/colqwen2-v1.0


def _write_adapter_repo(folder: Path, model: torch.nn.Module, tokenizer: Any, seed: int) -> None:
    write_adapter_files(folder, model, seed, base_repo=BASE_REPO)
    write_old_processor_files(folder, tokenizer)
    write_checkpoint(folder / CHECKPOINT_DIR, model, seed, base_repo=BASE_REPO)
    write_json(
        folder / "results.json",
        {
            "validation_set": {"ndcg_at_1": 0.83, "ndcg_at_5": 0.892, "recall_at_5": 0.95},
            "note": "tiny random-weight stand-in: these numbers are copied in shape only",
        },
    )
    write_text(folder / "git_hash.txt", _hex40("colpali-git", seed) + "\n")
    write_text(folder / ".gitattributes", GITATTRIBUTES)
    write_text(
        folder / "README.md",
        "---\nlicense: mit\nlibrary_name: colpali\nbase_model: vidore/colqwen2-base\nlanguage:\n- en\n"
        "tags:\n- colpali\n- vidore\n- vidore-experimental\npipeline_tag: visual-document-retrieval\n---\n"
        "# ColQwen2 v1.0 (tiny test stand-in)\n\n"
        "The layout of `vidore/colqwen2-v1.0`: a LoRA adapter over `vidore/colqwen2-base`. Random weights,\n"
        f"for tests only. Written by {_CREATED_BY}.\n",
    )


# --------------------------------------------------------------------------- vidore/colqwen2-v1.0-hf


def _write_hf_native(folder: Path, config: Qwen2VLConfig, tokenizer: Any, seed: int) -> None:
    """The transformers-native conversion (ColQwen2ForRetrieval), saved by transformers itself, in bf16."""
    processor = build_processor(tokenizer)
    hf_config = ColQwen2Config(vlm_config=config.to_dict(), embedding_dim=128)
    hf_config.architectures = ["ColQwen2ForRetrieval"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: Any = ColQwen2ForRetrieval(hf_config)
        model = model.to(torch.bfloat16)
    model.save_pretrained(folder)
    HfColQwen2Processor(image_processor=processor.image_processor, tokenizer=tokenizer).save_pretrained(
        folder
    )
    write_text(folder / ".gitattributes", GITATTRIBUTES)
    write_text(
        folder / "README.md",
        "---\nlicense: mit\nlibrary_name: transformers\nbase_model: vidore/colqwen2-v1.0\n---\n"
        "# ColQwen2 v1.0, transformers-native (tiny test stand-in)\n\n"
        f"Random weights, for tests only. Written by {_CREATED_BY}.\n",
    )


def build_hub_repos(destination: Path, *, seed: int = 0) -> dict[str, Path]:
    """Write the three tiny repositories under ``destination``; return ``{repo id: folder}``.

    Each repository lands in ``destination / <repo id>`` (for example ``destination/vidore/colqwen2-base``),
    ready to be served by the Hub stand-in of the tests or loaded from disk. The same ``seed`` always gives
    byte-identical files.
    """
    destination = Path(destination)
    tokenizer = build_tokenizer()
    config = tiny_config(tokenizer)
    model = build_model(config, seed)
    folders = {repo: destination / repo for repo in (ADAPTER_REPO, BASE_REPO, HF_NATIVE_REPO)}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    _write_base(folders[BASE_REPO], model, config, tokenizer)
    _write_adapter_repo(folders[ADAPTER_REPO], model, tokenizer, seed)
    _write_hf_native(folders[HF_NATIVE_REPO], config, tokenizer, seed)
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docretriever.testing.hub_layout",
        description="Tiny stand-ins of vidore/colqwen2-v1.0, its base and the -hf conversion (tests only).",
    )
    parser.add_argument("destination", type=Path, help="folder to write the repositories into")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default: 0)")
    args = parser.parse_args(argv)
    for repo, folder in build_hub_repos(args.destination, seed=args.seed).items():
        print(f"{repo}\t{folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
