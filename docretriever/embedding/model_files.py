"""Finding a model's files on disk: a local folder, or a Hub id downloaded into the HF cache."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from docretriever.errors import Cancelled, ModelError
from docretriever.progress import CancelToken, ProgressCallback, RateMeter

# Files read whole into the fingerprint; larger ones contribute their size, head and tail,
# which for safetensors covers the header (every tensor's shape and offset) and real data
# while keeping a 4 GB checkpoint's fingerprint at a few milliseconds.
_SMALL_FILE = 4 << 20
_SAMPLE = 1 << 20
_IGNORED = {"README.md", ".gitattributes", "LICENSE", "LICENSE.txt"}


@dataclass(frozen=True)
class ModelFiles:
    """A model folder on disk and, for a LoRA adapter, the base model's folder."""

    model_id: str
    revision: str
    folder: Path
    base_folder: Path | None = None

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for root in (self.folder, self.base_folder):
            if root is not None:
                _hash_folder(root, digest)
        return digest.hexdigest()


def locate_model(
    source: str,
    progress: ProgressCallback | None = None,
    *,
    offline: bool | None = None,
    cancel: CancelToken | None = None,
) -> ModelFiles:
    """Resolve ``source`` (a folder, or a Hugging Face Hub id) to files on disk.

    A Hub id is downloaded into the standard Hugging Face cache on first use, reporting bytes
    through ``progress``; ``HF_HUB_OFFLINE=1`` (or ``offline=True``) uses the cache only. A
    LoRA adapter's base model is fetched the same way. ``cancel`` stops a download between
    chunks (raising :class:`Cancelled`); what was downloaded is kept and resumed next time.
    Raises :class:`ModelError`.
    """
    folder = Path(source).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").exists() and not (folder / "adapter_config.json").exists():
            raise ModelError(f"{folder} is not a model folder (it has no config.json).")
        base = _base_of_adapter(folder, progress, offline, cancel)
        return ModelFiles(folder.name, "local", folder.resolve(), base)
    # A Hub id is "name" or "owner/name"; anything else that is not a folder is a missing path.
    if source.startswith((".", "/", "~")) or source.count("/") > 1 or "\\" in source:
        raise ModelError(f"The model folder {source} does not exist.")
    local = _download(source, progress, offline, cancel)
    return ModelFiles(source, local.name, local, _base_of_adapter(local, progress, offline, cancel))


def _base_of_adapter(
    folder: Path, progress: ProgressCallback | None, offline: bool | None, cancel: CancelToken | None
) -> Path | None:
    adapter = folder / "adapter_config.json"
    if not adapter.exists() or (folder / "config.json").exists():
        return None
    base = json.loads(adapter.read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelError(f"The adapter in {folder} does not name its base model.")
    if Path(base).is_dir():
        return Path(base).resolve()
    return _download(base, progress, offline, cancel)


def _download(
    repo_id: str, progress: ProgressCallback | None, offline: bool | None, cancel: CancelToken | None
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    tqdm_class = _progress_tqdm(repo_id, progress, cancel) if progress or cancel else None
    try:
        path = snapshot_download(repo_id, local_files_only=offline, tqdm_class=tqdm_class)
    except LocalEntryNotFoundError as exc:
        raise ModelError(
            f"The model {repo_id} is not on this computer and offline mode is on: "
            "download it once with a network connection, or choose a local model folder.",
            details=repr(exc),
        ) from exc
    except Cancelled:
        raise
    except HFValidationError as exc:
        raise ModelError(f"{repo_id} is neither a model folder nor a Hugging Face model id.") from exc
    except Exception as exc:
        raise ModelError(
            f"The model {repo_id} could not be downloaded: {exc.__class__.__name__}. "
            "Check the network connection, or choose a local model folder.",
            details=repr(exc),
        ) from exc
    return Path(path)


def _progress_tqdm(repo_id: str, progress: ProgressCallback | None, cancel: CancelToken | None) -> type:
    from tqdm.auto import tqdm

    from docretriever.progress import ignore_progress

    report = progress or ignore_progress

    class ReportingTqdm(tqdm):
        """Forwards huggingface_hub's byte counts to the core's progress callback and stops
        the download when ``cancel`` is set."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._meter = RateMeter(f"Downloading {repo_id}", self.total, report, "bytes")

        def update(self, n: float | None = 1) -> bool | None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            result = super().update(n)
            # huggingface_hub drives three bars through this class: files fetched, bytes over
            # the network (deduplicated, so they may never reach the total) and bytes written
            # to disk. Only the last makes a bar that ends at 100 %.
            if self.unit == "B" and self.desc != "Downloading bytes":
                self._meter.total = self.total
                self._meter.report(int(self.n))
            return result

    return ReportingTqdm


def model_is_available(source: str) -> bool:
    """True when ``source`` is a model folder, or a Hub id whose files are already cached."""
    try:
        locate_model(source, offline=True)
    except ModelError:
        return False
    return True


def download_size(source: str) -> int | None:
    """Bytes a download of the Hub id ``source`` would fetch, its base model included for an
    adapter; None for a folder or when the Hub cannot be asked. Uses the network."""
    from huggingface_hub import HfApi, hf_hub_download

    if Path(source).expanduser().is_dir():
        return None
    api = HfApi()
    try:
        info = api.model_info(source, files_metadata=True)
        total = sum(sibling.size or 0 for sibling in info.siblings or [])
        names = {sibling.rfilename for sibling in info.siblings or []}
        if "config.json" not in names and "adapter_config.json" in names:
            adapter = json.loads(Path(hf_hub_download(source, "adapter_config.json")).read_text())
            base = adapter.get("base_model_name_or_path")
            if base and not Path(base).is_dir():
                base_info = api.model_info(base, files_metadata=True)
                total += sum(sibling.size or 0 for sibling in base_info.siblings or [])
    except Exception:  # offline, unknown id, Hub unreachable: the caller shows "size unknown"
        return None
    return total


def _hash_folder(root: Path, digest: hashlib._Hash) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _IGNORED):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("."):
            continue
        size = path.stat().st_size
        digest.update(f"{relative}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= _SMALL_FILE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_SAMPLE))
                handle.seek(size - _SAMPLE)
                digest.update(handle.read(_SAMPLE))
