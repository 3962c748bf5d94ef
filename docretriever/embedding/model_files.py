"""Finding a model's files on disk: a local folder, or a Hub id (``owner/name[@revision]``) found
in the Hugging Face cache or downloaded into it.

A Hub id whose files are all in the cache is used without touching the network, whatever
``HF_HUB_OFFLINE`` says, so starting the app costs no network round trip and no retry delay
when the network is down. A LoRA adapter's base model is found the same way; a base named by a
path in ``adapter_config.json`` is resolved against the adapter's folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from docretriever.embedding.hub_download import download, run_cancellable
from docretriever.embedding.hub_plan import DownloadPlan, check_supported_config
from docretriever.embedding.hub_plan import plan_download as plan_hub_download
from docretriever.embedding.model_source import (
    HubModel,
    cached_commit,
    missing_model_files,
    offline_requested,
    parse_hub_model,
    parse_model_source,
    snapshot_folder,
)
from docretriever.errors import ModelError
from docretriever.progress import CancelToken, ProgressCallback

# Why the network may not be used for a missing model: the person's HF_HUB_OFFLINE, or the
# caller (the app downloads only through its set-up dialog). Each gets its own message.
_BY_SETTING, _BY_CALLER = "HF_HUB_OFFLINE", "caller"

__all__ = [
    "DownloadPlan",
    "ModelFiles",
    "download",
    "locate_model",
    "model_is_available",
    "plan_download",
    "run_cancellable",
    "why_unavailable",
]


@dataclass(frozen=True)
class ModelFiles:
    """A model on disk: ``folder`` holds the model (or a LoRA adapter, whose base model is in
    ``base_folder``). ``model_id`` and ``revision`` are for people to read: the Hub id and the
    commit it was read at, or the folder's name and "local"."""

    model_id: str
    revision: str
    folder: Path
    base_folder: Path | None = None
    base_id: str | None = None
    base_revision: str | None = None
    downloaded: bool = False

    def fingerprint(self) -> str:
        """The model's identity: a digest of the weights' tensor data (base, then adapter) and,
        for a LoRA adapter, of the settings that scale and place those weights (rank, alpha,
        target modules...): what the model computes, never where its files are or how they
        are described."""
        from docretriever.embedding.weights_fingerprint import weights_fingerprint

        weights = weights_fingerprint(self.weight_folders())
        if self.base_folder is None:
            return weights
        settings = _lora_settings(self.folder / "adapter_config.json")
        return hashlib.sha256(f"{weights}\0{json.dumps(settings, sort_keys=True)}".encode()).hexdigest()

    def legacy_fingerprint(self) -> str:
        """The identity libraries recorded before the content fingerprint (every file hashed),
        kept to recognise and migrate them."""
        from docretriever.embedding.weights_fingerprint import legacy_folder_fingerprint

        return legacy_folder_fingerprint([self.folder, *([self.base_folder] if self.base_folder else [])])

    def weight_folders(self) -> list[Path]:
        return [self.base_folder, self.folder] if self.base_folder is not None else [self.folder]

    def describe(self) -> str:
        """One line: which model, at which revision, from where."""
        text = f"{self.model_id} at revision {_short(self.revision)}"
        if self.base_id is not None:
            text += f" (base {self.base_id} at {_short(self.base_revision or 'local')})"
        if self.revision == "local":
            text += f", from {self.folder}"
        else:
            text += ", downloaded now" if self.downloaded else ", from the Hugging Face cache"
        return text


def locate_model(
    source: str,
    progress: ProgressCallback | None = None,
    *,
    offline: bool | None = None,
    cancel: CancelToken | None = None,
) -> ModelFiles:
    """Resolve ``source`` (a folder, ``owner/name`` or ``owner/name@revision``) to files on disk.

    Cache first: a Hub model whose needed files are all cached is returned with no network
    access. Otherwise, unless ``offline`` (default: ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``),
    the files the app reads are downloaded (see :func:`~docretriever.embedding.hub_download.download`
    for ``progress`` and ``cancel``). Raises :class:`ModelError` (with the reason), or
    :class:`~docretriever.errors.Cancelled`.
    """
    no_network = _BY_CALLER if offline else (_BY_SETTING if offline is None and offline_requested() else None)
    model = parse_model_source(source)
    if isinstance(model, Path):
        return _local_model(model, progress, no_network, cancel)
    return _hub_model(model, progress, no_network, cancel, weights_only=False)


def _hub_model(
    model: HubModel,
    progress: ProgressCallback | None,
    no_network: str | None,
    cancel: CancelToken | None,
    *,
    weights_only: bool,
) -> ModelFiles:
    cached = _cached_model(model, weights_only=weights_only)
    if cached is not None:
        return cached
    if no_network == _BY_SETTING:
        raise ModelError(
            f"The model {model} is not on this computer, and offline mode is on (HF_HUB_OFFLINE): "
            "unset HF_HUB_OFFLINE to download it, or choose a model folder."
        )
    if no_network is not None:
        raise ModelError(
            f"The model {model} is not on this computer yet. Set it up first: in the app with "
            "Model → Set up…, on the command line with docretriever download."
        )
    # Planning asks the Hub a few questions; on a slow line even those must not hold up Cancel.
    plan = run_cancellable(lambda: plan_hub_download(model, cancel, weights_only=weights_only), cancel)
    download(plan, progress, cancel)
    found = _cached_model(model, weights_only=weights_only, downloaded=True)
    if found is None:  # the download said it finished, yet a file is missing
        raise ModelError(f"The download of {model} finished, but the cache still lacks some of its files.")
    return found


def model_is_available(source: str) -> bool:
    """True when ``source`` is usable without the network: a model folder (with its base), or a
    Hub id whose needed files are all in the cache."""
    return not why_unavailable(source)


def why_unavailable(source: str) -> str:
    """Why ``source`` cannot be used from this computer as it is, in a sentence (not a model
    folder, incomplete, not downloaded yet, a layout DocRetriever does not load), or "" when it
    can. Looks at the disk only."""
    try:
        locate_model(source, offline=True)
    except ModelError as exc:
        return str(exc)
    return ""


def _cached_model(model: HubModel, *, weights_only: bool, downloaded: bool = False) -> ModelFiles | None:
    """The model from the cache if every file it needs is there (its base's too), else None."""
    found = _cached_snapshot(model, weights_only=weights_only)
    if found is None:
        return None
    commit, folder = found
    base = _adapter_base(folder)
    if base is None:
        _check_config(folder, str(model))
        return ModelFiles(model.repo_id, commit, folder, downloaded=downloaded)
    if isinstance(base, Path):
        raise ModelError(f"The adapter {model} names a folder as its base model, which a Hub model cannot.")
    found_base = _cached_snapshot(base, weights_only=True)
    if found_base is None:
        return None
    base_commit, base_folder = found_base
    _check_config(base_folder, str(base))
    return ModelFiles(model.repo_id, commit, folder, base_folder, base.repo_id, base_commit, downloaded)


def _cached_snapshot(model: HubModel, *, weights_only: bool) -> tuple[str, Path] | None:
    """(commit, snapshot folder) of ``model`` in the cache when it holds every needed file."""
    commit = cached_commit(model)
    if commit is None:
        return None
    folder = snapshot_folder(model.repo_id, commit)
    return None if missing_model_files(folder, weights_only=weights_only) else (commit, folder)


def _local_model(
    folder: Path, progress: ProgressCallback | None, no_network: str | None, cancel: CancelToken | None
) -> ModelFiles:
    if not (folder / "config.json").exists() and not (folder / "adapter_config.json").exists():
        raise ModelError(
            f"{folder} is not a model folder: it should hold the model's config.json (or, for an "
            "adapter, adapter_config.json) and its weights."
        )
    missing = missing_model_files(folder, weights_only=False)
    if missing:
        raise ModelError(f"The model folder {folder} is incomplete: {', '.join(missing)} missing.")
    base = _adapter_base(folder)
    if base is None:
        _check_config(folder, folder.name)
        return ModelFiles(folder.name, "local", folder)
    if isinstance(base, Path):
        base_missing = missing_model_files(base, weights_only=True)
        if base_missing:
            raise ModelError(
                f"The base model folder {base} is incomplete: {', '.join(base_missing)} missing."
            )
        _check_config(base, base.name)
        return ModelFiles(folder.name, "local", folder, base, base.name, "local")
    # The adapter names its base by Hub id: the cache, or a download when the network is allowed.
    if no_network is not None and _cached_model(base, weights_only=True) is None:
        raise ModelError(
            f"The adapter in {folder} needs its base model {base}, which is not on this computer: "
            "download it (docretriever download, or Download in the app's set-up dialog), or set "
            f"base_model_name_or_path in {folder / 'adapter_config.json'} to the base's folder."
        )
    located = _hub_model(base, progress, no_network, cancel, weights_only=True)
    return ModelFiles(folder.name, "local", folder, located.folder, located.model_id, located.revision)


def plan_download(source: str, cancel: CancelToken | None = None) -> DownloadPlan:
    """What getting ``source`` onto this computer takes (uses the network): for a Hub id, its
    files (see :func:`~docretriever.embedding.hub_plan.plan_download`); for an adapter folder
    whose base model is named by Hub id, that base's weights. Raises :class:`ModelError` for a
    folder that needs nothing from the Hub, and for the Hub's refusals."""
    model = parse_model_source(source)
    if isinstance(model, HubModel):
        return plan_hub_download(model, cancel)
    base = _adapter_base(model)
    if isinstance(base, HubModel):
        return plan_hub_download(base, cancel, weights_only=True)
    raise ModelError(f"{model} is a model folder on this computer: there is nothing to download.")


def _adapter_base(folder: Path) -> HubModel | Path | None:
    """The base model a LoRA adapter folder names (None for a full model): a folder, resolved
    against the adapter's folder when relative (not the current directory), or a Hub model."""
    adapter = folder / "adapter_config.json"
    if not adapter.exists() or (folder / "config.json").exists():
        return None
    try:
        config = json.loads(adapter.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"The adapter configuration {adapter} cannot be read.", details=repr(exc)) from exc
    base = str(config.get("base_model_name_or_path") or "")
    if not base:
        raise ModelError(f"The adapter in {folder} does not name its base model.")
    candidate = (folder / Path(base).expanduser()).resolve()
    if candidate.is_dir():
        return candidate
    if base.startswith((".", "/", "~")) or "\\" in base or base.count("/") > 1:
        raise ModelError(f"The base model folder {base} named by {adapter} does not exist.")
    revision = config.get("revision")
    return parse_hub_model(base + (f"@{revision}" if revision else ""))


def _check_config(folder: Path, source: str) -> None:
    config = folder / "config.json"
    if config.exists():
        try:
            check_supported_config(json.loads(config.read_text()), source)
        except ValueError as exc:
            raise ModelError(f"The model configuration {config} cannot be read.", details=repr(exc)) from exc


# The adapter settings that change what the model computes; the rest of adapter_config.json
# (the base's name or path, training-only fields, versions) does not.
_LORA_SETTINGS = (
    "peft_type",
    "r",
    "lora_alpha",
    "use_rslora",
    "use_dora",
    "target_modules",
    "exclude_modules",
    "rank_pattern",
    "alpha_pattern",
    "modules_to_save",
    "bias",
    "lora_bias",
    "fan_in_fan_out",
    "layers_to_transform",
    "layers_pattern",
)


def _lora_settings(adapter_config: Path) -> dict[str, object]:
    config = json.loads(adapter_config.read_text())
    settings = {key: config[key] for key in _LORA_SETTINGS if config.get(key) not in (None, {}, [])}
    if isinstance(settings.get("target_modules"), list):
        settings["target_modules"] = sorted(settings["target_modules"])  # a set in PEFT
    return settings


def _short(revision: str) -> str:
    return revision[:7] if len(revision) == 40 else revision
