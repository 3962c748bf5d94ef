"""Loading a checkpoint's weights into a colpali-engine model, with checks that fail loudly.

A vidore checkpoint is a LoRA adapter over a base model. transformers, given the adapter's
folder, reads ``base_model_name_or_path`` from it and fetches the base *by Hub id* (a relative
path there is taken from the current directory), so this module loads the base from the folder
:mod:`~docretriever.embedding.model_files` found, then puts the adapter on it.

Both steps are checked. A weight the base checkpoint lacks would stay randomly initialised, and
an adapter whose keys do not map onto the model leaves its LoRA matrices at their initial values:
the model then runs without error and ranks pages badly, even in reverse (colpali-engine issue
#424, where vidore adapters loaded as untrained weights under some transformers versions). Here
any missing or unexpected key, or an adapter tensor that did not arrive in the model, is an error.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from docretriever.embedding.model_files import ModelFiles
from docretriever.errors import ModelError

# Adapter tensors are compared by shape and two moments; equal values give equal figures to
# this many significant digits (float64 sums of at most a few million float32 values).
_SIGNIFICANT_DIGITS = 9


def load_checkpoint(
    model_class: Any, files: ModelFiles, dtype: Any, *, width_from_config: bool = False
) -> Any:
    """The model of ``files`` in ``dtype``: the full model, or the base with the LoRA adapter on.

    ``width_from_config``: the class sizes its row projection from ``config.dim`` (see
    :func:`_row_width_override`), which is then set from the weights when the configuration
    does not say.

    Reads only local files (never the network). Raises :class:`ModelError` when the weights do
    not match the model: a weight missing from the checkpoint, or an adapter key that is missing,
    unexpected, or whose values did not reach the model.
    """
    folder = files.base_folder or files.folder
    try:
        model, info = model_class.from_pretrained(
            str(folder),
            dtype=dtype,
            local_files_only=True,
            output_loading_info=True,
            **(_row_width_override(model_class, folder) if width_from_config else {}),
        )
    except Exception as exc:
        raise ModelError(f"The model {files.model_id} could not be loaded.", details=repr(exc)) from exc
    missing = sorted(info.get("missing_keys", ()))
    if missing:
        raise ModelError(
            f"The model weights in {folder} do not fit the model: {len(missing)} weights are missing "
            "and would be random. The checkpoint is damaged or not a ColQwen2-family model.",
            details="missing: " + ", ".join(missing[:50]),
        )
    if files.base_folder is not None:
        try:
            # A folder path is read from disk (transformers 5.23 refuses local_files_only here).
            adapter_info = model.load_adapter(
                str(files.folder), weight_mapping=_weight_mapping(model_class, model)
            )
        except Exception as exc:
            raise ModelError(
                f"The adapter {files.model_id} could not be put on its base model.", details=repr(exc)
            ) from exc
        check_adapter_loaded(model, adapter_info, files.folder)
    return model


def projection_width(folder: Path) -> int | None:
    """The width of the rows a checkpoint in ``folder`` emits: the output size of its
    ``custom_text_proj`` weight, read from the safetensors headers (no tensor is loaded). None
    when no such weight is found."""
    from safetensors import safe_open

    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as weights:
            for key in weights.keys():  # noqa: SIM118 (safe_open has no __iter__)
                if key.endswith("custom_text_proj.weight"):
                    return int(weights.get_slice(key).get_shape()[0])
    return None


def _row_width_override(model_class: Any, folder: Path) -> dict[str, Any]:
    """``from_pretrained`` arguments that give the model the row width its weights have.

    colpali-engine's ColQwen3_5 builds its projection ``getattr(config, "dim", 128)`` wide, so a
    checkpoint with 320-wide rows whose ``config.json`` does not say ``"dim": 320`` would fail to
    load (or, with a lenient loader, be cut to a random 128-wide one). The width is taken from
    the weights instead."""
    width = projection_width(folder)
    config = model_class.config_class.from_pretrained(str(folder), local_files_only=True)
    if width is None or getattr(config, "dim", None) == width:
        return {}
    config.dim = width
    return {"config": config}


def _weight_mapping(model_class: Any, model: Any) -> Any:
    """The key renaming ``model_class.from_pretrained`` applies, for the adapter too.

    The vidore checkpoints use transformers 4.45's names (``model.layers.N``); colpali-engine's
    classes map them to today's (``language_model.layers.N``) in ``from_pretrained`` through
    ``_checkpoint_conversion_mapping``. transformers' ``load_adapter`` called on its own does not
    know that mapping, and the adapter's LoRA weights on the language model would then stay
    untrained (issue #424's failure); :func:`check_adapter_loaded` catches it if this breaks.
    """
    from transformers.conversion_mapping import get_model_conversion_mapping

    key_mapping: dict[str, str] = {}
    for klass in reversed(model_class.__mro__):  # the base classes' renames, then the subclass's
        key_mapping.update(vars(klass).get("_checkpoint_conversion_mapping") or {})
    return get_model_conversion_mapping(model, key_mapping or None)


def check_adapter_loaded(model: Any, info: Any, adapter_folder: Path) -> None:
    """Raise :class:`ModelError` unless every tensor of the adapter file reached the model, and
    no LoRA weight of the model was left at its initial value.

    ``info`` is what transformers' ``load_adapter`` returned (its ``missing_keys`` and
    ``unexpected_keys``); the values are then compared: the multiset of (shape, sum, sum of
    squares) of the adapter file's tensors must equal that of the model's LoRA parameters.
    """
    missing = sorted(_keys(info, "missing_keys"))
    unexpected = sorted(_keys(info, "unexpected_keys"))
    if missing or unexpected:
        raise ModelError(
            f"The adapter in {adapter_folder} does not fit its base model ({len(missing)} LoRA weights "
            f"missing, {len(unexpected)} unexpected): searching with it would rank pages wrongly. "
            "Check that the adapter and its base model belong together and that colpali-engine "
            "and transformers are the versions DocRetriever pins.",
            details=f"missing: {missing[:20]}; unexpected: {unexpected[:20]}",
        )
    lora = [parameter.detach() for name, parameter in model.named_parameters() if ".lora_" in name]
    # The model holds the adapter in its own dtype (bf16 on a GPU, float32 on a CPU) whatever the
    # file's: compare the file's values as the model received them.
    dtype = lora[0].dtype if lora else None
    in_file = Counter(
        _signature(tensor if dtype is None else tensor.to(dtype))
        for tensor in _adapter_tensors(adapter_folder)
    )
    in_model = Counter(_signature(parameter) for parameter in lora)
    if in_file != in_model:
        lost = sum((in_file - in_model).values())
        extra = sum((in_model - in_file).values())
        raise ModelError(
            f"The adapter in {adapter_folder} did not load: {lost} of its {sum(in_file.values())} "
            f"weights are not in the model and {extra} LoRA weights of the model kept their initial "
            "values. Searching with it would rank pages wrongly.",
            details=f"adapter tensors {sum(in_file.values())}, LoRA parameters {sum(in_model.values())}",
        )


def _keys(info: Any, name: str) -> set[str]:
    value = info.get(name, ()) if isinstance(info, dict) else getattr(info, name, ())
    return set(value or ())


def _adapter_tensors(folder: Path) -> list[Any]:
    from safetensors.torch import load_file

    weights = sorted(folder.glob("adapter_model*.safetensors"))
    if not weights:
        raise ModelError(f"The adapter folder {folder} holds no adapter_model.safetensors.")
    return [tensor for path in weights for tensor in load_file(str(path)).values()]


def _signature(tensor: Any) -> tuple[tuple[int, ...], str, str]:
    import torch

    values = tensor.to(torch.float64)
    return (
        tuple(int(size) for size in tensor.shape),
        f"{float(values.sum()):.{_SIGNIFICANT_DIGITS}g}",
        f"{float((values * values).sum()):.{_SIGNIFICANT_DIGITS}g}",
    )
