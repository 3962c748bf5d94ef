"""What a model source names (a folder, or a Hub id with an optional ``@revision``), where the
Hugging Face cache keeps it, and which of a repository's files the app reads.

Pure path and string logic, no network and no huggingface_hub import: the environment
(``HF_HUB_CACHE``, ``HF_HOME``, ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``) is read at each call, so a
test or a person changing it between two calls is honoured.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from docretriever.errors import ModelError

DEFAULT_ENDPOINT = "https://huggingface.co"

# A Hub repository id: "name" or "owner/name" (the Hub's own rule, less its length limit).
_REPO_ID = re.compile(r"^(?:[\w.-]+/)?[\w.-]+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "true", "yes", "on"}

# The files transformers and colpali-engine read to load a model and its processor. Everything
# else a repository holds (checkpoint-*/ training state, optimizer.pt, READMEs, results.json,
# .bin copies of the weights) is never downloaded nor needed in a cache.
_MODEL_CONFIG = ("config.json", "adapter_config.json")
_PROCESSOR_FILES = (
    "preprocessor_config.json",
    "processor_config.json",
    "video_preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.json",
    "chat_template.jinja",
)


@dataclass(frozen=True)
class HubModel:
    """A Hugging Face Hub model: ``repo_id`` ("owner/name") at ``revision`` (a branch, tag or
    commit hash; "main" when none was given)."""

    repo_id: str
    revision: str = "main"

    def __str__(self) -> str:
        return self.repo_id if self.revision == "main" else f"{self.repo_id}@{self.revision}"


def parse_model_source(source: str) -> HubModel | Path:
    """A model folder (as a resolved :class:`Path`) or a :class:`HubModel` from what a person
    typed: a folder, ``owner/name`` or ``owner/name@revision``. Raises :class:`ModelError` for
    anything else, such as a folder that does not exist."""
    folder = Path(source.strip()).expanduser()
    if source.strip() and folder.is_dir():
        return folder.resolve()
    return parse_hub_model(source)


def parse_hub_model(source: str) -> HubModel:
    """``owner/name`` or ``owner/name@revision`` as a :class:`HubModel`; never a folder. Raises
    :class:`ModelError` for text that is neither."""
    text = source.strip()
    if re.match(r"^[a-z]+://", text):
        raise ModelError(f"{source} is a web address: give the model's id instead (owner/name).")
    if text and Path(text).expanduser().is_file():
        raise ModelError(f"{source} is a file; the model is a folder (or a Hugging Face model id).")
    repo_id, _, revision = text.partition("@")
    if "@" in text and not revision:
        raise ModelError(f"{source}: give a revision after the @ (a branch, tag or commit hash).")
    looks_like_path = text.startswith((".", "/", "~")) or "\\" in text or os.path.isabs(text)
    if looks_like_path or not _REPO_ID.match(repo_id) or ".." in repo_id or "--" in repo_id:
        if looks_like_path or text.count("/") > 1:
            raise ModelError(f"The model folder {source} does not exist.")
        raise ModelError(f"{source} is neither a model folder nor a Hugging Face model id (owner/name).")
    return HubModel(repo_id, revision or "main")


def is_commit_hash(revision: str) -> bool:
    return bool(_COMMIT.match(revision))


def hub_endpoint() -> str:
    """The Hub's address: ``$HF_ENDPOINT`` (a mirror, or a test's stand-in) or huggingface.co."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def offline_requested() -> bool:
    """True when the person asked for no network (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(name, "").lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_cache_dir() -> Path:
    """The Hugging Face cache folder, found the way huggingface_hub finds it."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def repo_cache_folder(repo_id: str) -> Path:
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def snapshot_folder(repo_id: str, commit: str) -> Path:
    return repo_cache_folder(repo_id) / "snapshots" / commit


def cached_commit(model: HubModel) -> str | None:
    """The commit the cache holds for ``model``'s revision, without the network: a commit hash
    as given (in full, as the Hub takes it), or the one the cache's ``refs/<revision>`` names."""
    folder = repo_cache_folder(model.repo_id)
    if is_commit_hash(model.revision):
        return model.revision if (folder / "snapshots" / model.revision).is_dir() else None
    ref = folder / "refs" / model.revision
    if ref.is_file():
        return ref.read_text().strip() or None
    return None


def is_model_file(name: str, *, weights_only: bool, shards: set[str] | None = None) -> bool:
    """Whether the repository file ``name`` is one the app reads.

    ``weights_only`` is for a base model reached through an adapter: the adapter brings the
    tokenizer and processor, the base only its configuration and weights. ``shards`` are the
    weight files an index names; without an index every top-level ``.safetensors`` file is read.
    """
    if "/" in name:
        return False  # sub-folders: training checkpoints, other formats, examples
    if name in _MODEL_CONFIG or name == "model.safetensors.index.json":
        return True
    if fnmatch(name, "*.safetensors"):
        return shards is None or name in shards
    return not weights_only and name in _PROCESSOR_FILES


def missing_model_files(folder: Path, *, weights_only: bool) -> list[str]:
    """What ``folder`` lacks to be loaded (empty when complete), judged from its own files: a
    configuration, every shard its index names, and, unless ``weights_only``, a tokenizer and an
    image processor. Cached files are whole (the cache renames a file into place when done)."""
    missing = []
    adapter = (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file()
    if not adapter and not (folder / "config.json").is_file():
        missing.append("config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (OSError, ValueError):
            shards = {"model.safetensors.index.json"}
        missing += sorted(name for name in shards if not (folder / name).is_file())
    elif not any(folder.glob("*.safetensors")):
        missing.append("adapter_model.safetensors" if adapter else "model.safetensors")
    if not weights_only:
        # transformers 5 saves the image processor's settings in processor_config.json; older
        # checkpoints (the vidore ones) in preprocessor_config.json.
        if not any(
            (folder / name).is_file() for name in ("preprocessor_config.json", "processor_config.json")
        ):
            missing.append("preprocessor_config.json")
        if not (folder / "tokenizer_config.json").is_file():
            missing.append("tokenizer_config.json")
        if not (folder / "tokenizer.json").is_file() and not (folder / "vocab.json").is_file():
            missing.append("tokenizer.json")
    return missing
