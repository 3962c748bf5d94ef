"""What getting a model from the Hugging Face Hub involves, asked before any weight byte moves:
exactly the files the app reads (never ``checkpoint-*/`` training state, optimizer or
``.pt``/``.bin`` files, READMEs), their sizes, and the model's parameter count.

The Hub's answers come through huggingface_hub (``model_info``, the safetensors header reader);
the small files that say what else is needed (``adapter_config.json``, the shards' index) are
fetched into the cache on the way.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docretriever.embedding.hub_errors import explain_hub_error
from docretriever.embedding.model_source import (
    HubModel,
    hub_cache_dir,
    hub_endpoint,
    is_model_file,
    parse_hub_model,
    repo_cache_folder,
    snapshot_folder,
)
from docretriever.errors import Cancelled, ModelError
from docretriever.progress import CancelToken, format_bytes


@dataclass(frozen=True)
class PlannedFile:
    """One file the app will read: ``size`` in bytes; ``cached`` when it was on this computer
    before the plan was made; ``partial`` bytes of it kept from an interrupted download."""

    repo_id: str
    revision: str  # the commit hash it is read at
    path: str
    size: int
    cached: bool
    partial: int = 0

    @property
    def here(self) -> int:
        """Bytes of this file already on this computer."""
        return self.size if self.cached else min(self.partial, self.size)


@dataclass(frozen=True)
class DownloadPlan:
    """What getting ``source`` (a Hub id, optionally ``@revision``) involves, known before any
    weight byte moves: the adapter's files, then its base model's weight files.

    ``parameters`` counts the model's parameters from the safetensors headers (adapter included);
    None when the Hub did not say.
    """

    source: str
    files: tuple[PlannedFile, ...]
    parameters: int | None = None
    # (repo id, revision as asked, commit) of the model and its base: the cache's refs to write
    refs: tuple[tuple[str, str, str], ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def cached_bytes(self) -> int:
        """Bytes already on this computer: whole files, and what interrupted downloads kept."""
        return sum(f.here for f in self.files)

    @property
    def download_bytes(self) -> int:
        return self.total_bytes - self.cached_bytes

    def memory_bytes(self, dtype: str) -> int | None:
        """Bytes the weights take in memory as ``dtype`` ("bfloat16" or "float32"), or None."""
        per_parameter = {"bfloat16": 2, "float16": 2, "float32": 4}[dtype]
        return None if self.parameters is None else self.parameters * per_parameter

    def describe(self) -> str:
        """One line: "8.9 GB to download (74.0 MB of 8.9 GB already on this computer)"."""
        text = f"{format_bytes(self.download_bytes)} to download"
        if self.cached_bytes:
            here, total = format_bytes(self.cached_bytes), format_bytes(self.total_bytes)
            text += f" ({here} of {total} already on this computer)"
        return text


def plan_download(
    source: str | HubModel, cancel: CancelToken | None = None, *, weights_only: bool = False
) -> DownloadPlan:
    """Ask the Hub which files getting ``source`` takes, with their sizes. Uses the network.

    ``source`` is ``owner/name`` or ``owner/name@revision``; for a LoRA adapter the plan also
    holds its base model's configuration and weights. ``weights_only`` plans a base model alone
    (no tokenizer or processor files). The small files that say what else is needed
    (``adapter_config.json``, the shards' index) are fetched into the cache on the way; they
    still count as to be downloaded. ``cancel`` is checked between the Hub's answers. Raises
    :class:`ModelError` with the reason, naming the repository it concerns (no network, unknown
    id, gated model, proxy...), or :class:`Cancelled`.
    """
    model = source if isinstance(source, HubModel) else parse_hub_model(source)
    asking = model
    try:
        files = _plan_repo(model, cancel, weights_only=weights_only)
        refs = [(model.repo_id, model.revision, files[0].revision)]
        adapter = next((f for f in files if f.path == "adapter_config.json"), None)
        has_config = any(f.path == "config.json" for f in files)
        if adapter is not None and not has_config:
            asking = base = base_model_of(_cached_path(adapter), model.repo_id)
            base_files = _plan_repo(base, cancel, weights_only=True)
            refs.append((base.repo_id, base.revision, base_files[0].revision))
            files += base_files
        parameters = _count_parameters(files, cancel)
    except (Cancelled, ModelError):
        raise
    except Exception as exc:
        raise explain_hub_error(exc, asking.repo_id) from exc
    return DownloadPlan(str(model), tuple(files), parameters, tuple(refs))


def base_model_of(adapter_config: Path, adapter_id: str) -> HubModel:
    """The Hub model an adapter downloaded from the Hub names as its base (and revision)."""
    config = json.loads(adapter_config.read_text())
    base = str(config.get("base_model_name_or_path") or "")
    if not base:
        raise ModelError(f"The adapter {adapter_id} does not name its base model.")
    if base.startswith((".", "/", "~")) or "\\" in base or base.count("/") > 1:
        raise ModelError(
            f"The adapter {adapter_id} names a folder, {base}, as its base model; an adapter on the Hub "
            "must name its base by Hub id."
        )
    return parse_hub_model(base + (f"@{config['revision']}" if config.get("revision") else ""))


def _plan_repo(model: HubModel, cancel: CancelToken | None, *, weights_only: bool) -> list[PlannedFile]:
    from huggingface_hub import HfApi

    if cancel is not None:
        cancel.raise_if_cancelled()
    info = HfApi(endpoint=hub_endpoint()).model_info(
        model.repo_id, revision=model.revision, files_metadata=True
    )
    if not info.sha:
        raise ModelError(f"The Hugging Face Hub did not say which revision of {model.repo_id} to fetch.")
    commit = info.sha
    folder = snapshot_folder(model.repo_id, commit)
    siblings = {s.rfilename: s for s in info.siblings or []}
    # Which files are here is decided before this plan fetches its own small files.
    here = {name for name in siblings if (folder / name).exists()}
    if "config.json" in siblings:
        config = json.loads(_fetch_small(model.repo_id, commit, "config.json").read_text())
        check_supported_config(config, model.repo_id)
    shards: set[str] | None = None
    if "model.safetensors.index.json" in siblings:
        index = json.loads(_fetch_small(model.repo_id, commit, "model.safetensors.index.json").read_text())
        shards = set(index.get("weight_map", {}).values())
    if "adapter_config.json" in siblings and "config.json" not in siblings:
        _fetch_small(model.repo_id, commit, "adapter_config.json")
    names = [
        name for name in sorted(siblings) if is_model_file(name, weights_only=weights_only, shards=shards)
    ]
    if not any(name.endswith(".safetensors") for name in names):
        raise ModelError(
            f"{model.repo_id} holds no weights DocRetriever can read (.safetensors files); "
            "it is not a ColQwen2-family model."
        )
    planned = []
    for name in names:
        sibling = siblings[name]
        sha256 = sibling.lfs.sha256 if sibling.lfs is not None else None
        partial = partial_blob(model.repo_id, sha256) if sha256 else None
        kept = partial.stat().st_size if partial is not None and partial.exists() else 0
        planned.append(PlannedFile(model.repo_id, commit, name, int(sibling.size or 0), name in here, kept))
    return planned


def partial_blob(repo_id: str, etag: str) -> Path:
    """Where the bytes of an interrupted download of the blob ``etag`` are kept."""
    return repo_cache_folder(repo_id) / "blobs" / f"{etag}.partial"


def check_supported_config(config: dict[str, Any], source: str) -> None:
    """Refuse checkpoints in a layout DocRetriever cannot load, saying which one to take instead."""
    model_type = str(config.get("model_type", ""))
    if model_type.startswith("colqwen"):
        raise ModelError(
            f'{source} is a transformers-native checkpoint (model type {model_type}, the "-hf" '
            "layout), which DocRetriever does not load: it reads the colpali-engine layout. Use the "
            'same model without "-hf" (for example vidore/colqwen2-v1.0).'
        )


def _fetch_small(repo_id: str, commit: str, path: str) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(
        hf_hub_download(repo_id, path, revision=commit, cache_dir=hub_cache_dir(), endpoint=hub_endpoint())
    )


def _cached_path(file: PlannedFile) -> Path:
    return snapshot_folder(file.repo_id, file.revision) / file.path


def _count_parameters(files: list[PlannedFile], cancel: CancelToken | None) -> int | None:
    """Parameters of every planned safetensors file, from their headers: read from the cache
    when the file is there, else from the Hub with an HTTP Range request (about 100 kB each)."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_endpoint())
    total = 0
    for file in files:
        if not file.path.endswith(".safetensors"):
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            if file.cached:
                total += _parameters_on_disk(_cached_path(file))
            else:
                meta = api.parse_safetensors_file_metadata(file.repo_id, file.path, revision=file.revision)
                total += sum(meta.parameter_count.values())
        except Exception:  # the size is still known; only the memory estimate is missing
            return None
    return total


def _parameters_on_disk(path: Path) -> int:
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")
