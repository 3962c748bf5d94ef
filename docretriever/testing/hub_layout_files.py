"""The files of the tiny vidore repositories that come in old or training formats.

:mod:`docretriever.testing.hub_layout` assembles the repositories; this module writes their parts:

- the tokenizer and processor files as transformers 4.45 wrote them for Qwen2-VL (slow-tokenizer files
  beside tokenizer.json, chat_template.json, the ``max_pixels`` / ``min_pixels`` pixel budget);
- the PEFT LoRA adapter of ``vidore/colqwen2-v1.0`` (``adapter_config.json`` and a bf16
  ``adapter_model.safetensors`` with seeded, nonzero tensors under the 4.45 module names);
- a Trainer checkpoint (an adapter copy, optimizer, scheduler and RNG state, trainer state).

The same seed always gives byte-identical files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from docretriever.testing.tiny_model import CHAT_TEMPLATE, SPECIAL_TOKENS

__all__ = [
    "LORA_ALPHA",
    "LORA_RANK",
    "LORA_TARGET_MODULES",
    "old_key_name",
    "special_ids",
    "write_adapter_files",
    "write_checkpoint",
    "write_json",
    "write_old_processor_files",
    "write_text",
]

LORA_RANK = 32
LORA_ALPHA = 32
# Verbatim from the real adapter_config.json: "model" matches both the old (model.layers) and the new
# (language_model.layers) module names, and nothing in the vision tower.
LORA_TARGET_MODULES = (
    "(.*(model).*(down_proj|gate_proj|up_proj|k_proj|q_proj|v_proj|o_proj).*$|.*(custom_text_proj).*$)"
)
_LORA_ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
_LORA_MLP = ("gate_proj", "up_proj", "down_proj")
# Spread of the lora_B tensors. A trained adapter has nonzero B (PEFT initialises B to zero, so an untrained
# one is a no-op); this size moves the embeddings clearly without swamping the base weights (std 0.02).
_LORA_B_STD = 0.05
_TRAINING_STEPS = 2310

# Qwen2-VL's image processor before transformers 4.47 stored pixel budgets as max_pixels / min_pixels, both
# at the top level and inside "size"; these are the real file's values.
_MAX_PIXELS = 12845056
_MIN_PIXELS = 3136


def old_key_name(key: str) -> str:
    """The transformers-4.45 name of a ColQwen2 weight: ``language_model.X`` was ``model.X`` then.

    ColQwen2 subclassed Qwen2VLForConditionalGeneration when the vidore checkpoints were saved, so the text
    model lived under ``model.``; ``visual.*`` and ``custom_text_proj.*`` kept their names.
    """
    prefix = "language_model."
    return "model." + key[len(prefix) :] if key.startswith(prefix) else key


def write_json(path: Path, data: Any) -> None:
    """``data`` as save_pretrained writes JSON: indented, sorted keys, UTF-8, a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- tokenizer and processor files


def special_ids(tokenizer: Any) -> dict[str, int]:
    """``{special token: id}`` in the tokenizer, for the tokens of the real Qwen2-VL tokenizer."""
    return {token: int(tokenizer.convert_tokens_to_ids(token)) for token in SPECIAL_TOKENS}


def write_old_processor_files(folder: Path, tokenizer: Any) -> None:
    """The tokenizer and processor files as transformers 4.45 wrote them for Qwen2-VL.

    Slow-tokenizer files (vocab.json, merges.txt, added_tokens.json, special_tokens_map.json) beside the fast
    tokenizer.json; the chat template in chat_template.json; the image processor's pixel budget in the old
    ``max_pixels`` / ``min_pixels`` form.
    """
    ids = special_ids(tokenizer)
    fast = json.loads(tokenizer.backend_tokenizer.to_str())
    # As in the real Qwen2 tokenizer.json, the BPE vocabulary holds no special tokens: they exist only as
    # added tokens, under the same ids.
    special = set(SPECIAL_TOKENS)
    fast["model"]["vocab"] = {tok: i for tok, i in fast["model"]["vocab"].items() if tok not in special}
    write_text(folder / "tokenizer.json", json.dumps(fast, indent=2, ensure_ascii=False) + "\n")
    write_text(folder / "vocab.json", json.dumps(fast["model"]["vocab"], ensure_ascii=False) + "\n")
    merges = [" ".join(pair) if isinstance(pair, list) else str(pair) for pair in fast["model"]["merges"]]
    write_text(folder / "merges.txt", "#version: 0.2\n" + "\n".join(merges) + "\n")
    write_json(folder / "added_tokens.json", ids)

    def spec(content: str) -> dict[str, Any]:
        return {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
        }

    write_json(
        folder / "special_tokens_map.json",
        {
            "additional_special_tokens": list(SPECIAL_TOKENS[1:]),
            "eos_token": spec("<|im_end|>"),
            "pad_token": spec("<|endoftext|>"),
        },
    )
    write_json(
        folder / "tokenizer_config.json",
        {
            "add_prefix_space": False,
            "added_tokens_decoder": {str(i): {**spec(tok), "special": True} for tok, i in ids.items()},
            "additional_special_tokens": list(SPECIAL_TOKENS[1:]),
            "bos_token": None,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>",
            "errors": "replace",
            "model_max_length": 32768,
            "pad_token": "<|endoftext|>",
            "padding_side": "left",
            "processor_class": "ColQwen2Processor",
            "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None,
        },
    )
    write_json(folder / "chat_template.json", {"chat_template": CHAT_TEMPLATE})
    write_json(
        folder / "preprocessor_config.json",
        {
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_processor_type": "Qwen2VLImageProcessor",
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "max_pixels": _MAX_PIXELS,
            "merge_size": 2,
            "min_pixels": _MIN_PIXELS,
            "patch_size": 14,
            "processor_class": "ColQwen2Processor",
            "resample": 3,
            "rescale_factor": 0.00392156862745098,
            "size": {"max_pixels": _MAX_PIXELS, "min_pixels": _MIN_PIXELS},
            "temporal_patch_size": 2,
        },
    )


# --------------------------------------------------------------------------- LoRA adapter and checkpoint


def _lora_targets(model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    """The Linear layers the real adapter adapts, by their 4.45 module name, in a stable order."""
    targets: list[tuple[str, torch.nn.Linear]] = []
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        text_layer = name.startswith("language_model.layers.") and leaf in _LORA_ATTENTION + _LORA_MLP
        if isinstance(module, torch.nn.Linear) and (text_layer or name == "custom_text_proj"):
            targets.append((old_key_name(name), module))
    return targets


def _lora_tensors(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Seeded bf16 LoRA tensors under the PEFT names of the real adapter_model.safetensors."""
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name, linear in _lora_targets(model):
        # init_lora_weights "gaussian" draws A with std 1/r; B is what training moved away from zero.
        lora_a = torch.randn(LORA_RANK, linear.in_features, generator=generator) / LORA_RANK
        lora_b = torch.randn(linear.out_features, LORA_RANK, generator=generator) * _LORA_B_STD
        tensors[f"base_model.model.{name}.lora_A.weight"] = lora_a.to(torch.bfloat16)
        tensors[f"base_model.model.{name}.lora_B.weight"] = lora_b.to(torch.bfloat16)
    return tensors


def _adapter_config(base_repo: str) -> dict[str, Any]:
    return {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base_repo,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": False,
        "init_lora_weights": "gaussian",
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": LORA_ALPHA,
        "lora_dropout": 0.1,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": LORA_RANK,
        "rank_pattern": {},
        "revision": None,
        "target_modules": LORA_TARGET_MODULES,
        "task_type": "FEATURE_EXTRACTION",
        "use_dora": False,
        "use_rslora": False,
    }


def write_adapter_files(
    folder: Path, model: torch.nn.Module, seed: int, *, base_repo: str
) -> dict[str, torch.Tensor]:
    """adapter_config.json (naming ``base_repo``) and adapter_model.safetensors; return the LoRA tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "adapter_config.json", _adapter_config(base_repo))
    tensors = _lora_tensors(model, seed)
    save_file(tensors, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    return tensors


def write_checkpoint(folder: Path, model: torch.nn.Module, seed: int, *, base_repo: str) -> None:
    """A Trainer checkpoint: an adapter copy plus optimizer, scheduler and RNG state and the trainer state.

    Its adapter comes from another seed than the published one, so a test can tell which of the two was
    loaded. optimizer.pt holds AdamW's two fp32 moments per LoRA tensor (four times the bf16 adapter).
    """
    tensors = write_adapter_files(folder, model, seed + 1, base_repo=base_repo)
    generator = torch.Generator().manual_seed(seed + 2)
    state = {
        i: {
            "step": torch.tensor(float(_TRAINING_STEPS)),
            "exp_avg": torch.randn(t.shape, generator=generator) * 1e-4,
            "exp_avg_sq": torch.rand(t.shape, generator=generator) * 1e-8,
        }
        for i, t in enumerate(tensors.values())
    }
    group = {
        "lr": 0.0,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "foreach": None,
        "maximize": False,
        "capturable": False,
        "differentiable": False,
        "fused": None,
        "initial_lr": 5e-4,
        "params": list(state),
    }
    torch.save({"state": state, "param_groups": [group]}, folder / "optimizer.pt")
    torch.save(
        {
            "base_lrs": [5e-4],
            "last_epoch": _TRAINING_STEPS,
            "_step_count": _TRAINING_STEPS + 1,
            "_get_lr_called_within_step": False,
            "_last_lr": [0.0],
            "lr_lambdas": [None],
        },
        folder / "scheduler.pt",
    )
    torch.save(
        {
            "python": random.Random(seed).getstate(),
            "numpy": np.random.RandomState(seed).get_state(),
            "cpu": torch.Generator().manual_seed(seed).get_state(),
        },
        folder / "rng_state.pth",
    )
    # The real file pickles a TrainingArguments object; a plain dict keeps the stand-in free of that class.
    torch.save(
        {"output_dir": "models/colqwen2", "learning_rate": 5e-4, "num_train_epochs": 5, "bf16": True},
        folder / "training_args.bin",
    )
    write_json(
        folder / "trainer_state.json",
        {
            "best_metric": None,
            "best_model_checkpoint": None,
            "epoch": 5.0,
            "eval_steps": 100,
            "global_step": _TRAINING_STEPS,
            "is_hyper_param_search": False,
            "is_local_process_zero": True,
            "is_world_process_zero": True,
            "log_history": [
                {
                    "epoch": round(5.0 * step / _TRAINING_STEPS, 4),
                    "loss": round(0.5 / (1 + step / 200), 4),
                    "step": step,
                }
                for step in range(100, _TRAINING_STEPS + 1, 500)
            ],
            "logging_steps": 10,
            "max_steps": _TRAINING_STEPS,
            "num_input_tokens_seen": 0,
            "num_train_epochs": 5,
            "save_steps": 500,
            "total_flos": 0.0,
            "train_batch_size": 32,
            "trial_name": None,
            "trial_params": None,
        },
    )
