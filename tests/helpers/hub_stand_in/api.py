"""The Hub's JSON API over one repository: model info, tree entries and listing pages, paths-info, refs.

These build the JSON the Hub returns (what ``HfApi.model_info``, ``list_repo_tree``, ``get_paths_info`` and
``list_repo_refs`` parse); :mod:`.protocol` routes the requests here and wraps the data in answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from .repository import HubRepo
from .responses import HubError

__all__ = [
    "TREE_EXPAND_PAGE_SIZE",
    "TREE_PAGE_SIZE",
    "model_info",
    "paths_info",
    "query_param",
    "refs",
    "tree_entry",
    "tree_page",
    "truthy",
]

# The Hub's page sizes for the tree listing (huggingface_hub's _iter_repo_tree_pages docstring).
TREE_PAGE_SIZE = 1000
TREE_EXPAND_PAGE_SIZE = 50
_COMMIT_DATE = "2024-11-04T13:56:57.000Z"
_COMMIT_TITLE = "Upload folder using huggingface_hub"
# The properties model_info(expand=...) accepts (huggingface_hub's ExpandModelProperty_T).
_EXPAND_PROPERTIES = frozenset(
    re.split(
        r"\s+",
        "author baseModels cardData childrenModelCount config createdAt disabled downloads downloadsAllTime"
        " evalResults gated gguf inference inferenceProviderMapping lastModified library_name likes"
        " mask_token model-index pipeline_tag private safetensors sha siblings spaces tags transformersInfo"
        " trendingScore widgetData usedStorage resourceGroup",
    )
)


def query_param(query: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of ``name`` in a parsed query string, or None."""
    values = query.get(name)
    return values[0] if values else None


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true", "yes"}


def model_info(repo: HubRepo, query: dict[str, list[str]], *, gated: bool) -> dict[str, Any]:
    """``GET /api/models/{repo}``: the repository's info (``blobs``, ``securityStatus``, ``expand``)."""
    card = repo.card()
    blobs = truthy(query_param(query, "blobs"))
    siblings = []
    for entry in repo.files.values():
        sibling: dict[str, Any] = {"rfilename": entry.path}
        if blobs:
            sibling.update(size=entry.size, blobId=entry.blob_id)
            if entry.is_lfs:
                sibling["lfs"] = {
                    "sha256": entry.sha256,
                    "size": entry.size,
                    "pointerSize": entry.pointer_size,
                }
        siblings.append(sibling)
    info: dict[str, Any] = {
        "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
        "id": repo.repo_id,
        "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0] if "/" in repo.repo_id else None,
        "sha": repo.sha,
        "lastModified": _COMMIT_DATE,
        "createdAt": _COMMIT_DATE,
        "private": False,
        "gated": "manual" if gated else False,
        "disabled": False,
        "downloads": 0,
        "downloadsAllTime": 0,
        "likes": 0,
        "tags": _tags(repo, card),
        "cardData": card or None,
        "config": _config_summary(repo),
        "siblings": siblings,
        "spaces": [],
        "usedStorage": sum(e.size for e in repo.files.values()),
        "widgetData": None,
        "model-index": None,
    }
    for name in ("library_name", "pipeline_tag"):
        if name in card:
            info[name] = card[name]
    weights = [e.local for p, e in repo.files.items() if re.fullmatch(r"model(-\d+-of-\d+)?\.safetensors", p)]
    if weights:
        counts = _safetensors_parameters(weights)
        info["safetensors"] = {"parameters": counts, "total": sum(counts.values())}
    if truthy(query_param(query, "securityStatus")):
        info["securityRepoStatus"] = {"scansDone": True, "filesWithIssues": []}
    expand = query.get("expand") or query.get("expand[]")
    if expand:
        unknown = sorted(set(expand) - _EXPAND_PROPERTIES)
        if unknown:
            raise HubError(400, None, f'"expand" must be one of {sorted(_EXPAND_PROPERTIES)} (got {unknown})')
        info = {k: v for k, v in info.items() if k in {"_id", "id"} or k in expand}
    return {k: v for k, v in info.items() if v is not None or k in {"cardData", "widgetData"}}


def _tags(repo: HubRepo, card: dict[str, Any]) -> list[str]:
    tags = [str(t) for t in card.get("tags") or []]
    if any(p.endswith(".safetensors") for p in repo.files):
        tags.append("safetensors")
    if isinstance(card.get("base_model"), str):
        tags.append(f"base_model:{card['base_model']}")
    if isinstance(card.get("license"), str):
        tags.append(f"license:{card['license']}")
    return [*tags, "region:us"]


def _config_summary(repo: HubRepo) -> dict[str, Any] | None:
    """What the Hub extracts from config.json, tokenizer_config.json and adapter_config.json."""
    summary: dict[str, Any] = {}
    config = repo.read_json("config.json")
    if config:
        summary.update({k: config[k] for k in ("architectures", "model_type") if k in config})
    tokenizer = repo.read_json("tokenizer_config.json")
    if tokenizer:
        keys = ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template")
        summary["tokenizer_config"] = {k: tokenizer[k] for k in keys if k in tokenizer}
    adapter = repo.read_json("adapter_config.json")
    if adapter:
        peft_keys = ("base_model_name_or_path", "task_type")
        summary["peft"] = {k: adapter[k] for k in peft_keys if k in adapter}
    return summary or None


def _safetensors_parameters(paths: Iterable[Path]) -> dict[str, int]:
    """Parameter counts per dtype from safetensors headers (the Hub's ``safetensors`` property)."""
    counts: dict[str, int] = {}
    for path in paths:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for key, info in header.items():
            if key != "__metadata__":
                n = 1
                for dim in info["shape"]:
                    n *= int(dim)
                counts[info["dtype"]] = counts.get(info["dtype"], 0) + n
    return counts


def tree_entry(repo: HubRepo, path: str, expand: bool) -> dict[str, Any] | None:
    """The listing entry of a file or folder (with ``lastCommit`` and the security scan when ``expand``)."""
    last_commit = {"id": repo.sha, "title": _COMMIT_TITLE, "date": _COMMIT_DATE}
    if path in repo.dirs and path:
        entry: dict[str, Any] = {"type": "directory", "oid": repo.dirs[path], "size": 0, "path": path}
        if expand:
            entry["lastCommit"] = last_commit
        return entry
    file = repo.files.get(path)
    if file is None:
        return None
    entry = {"type": "file", "oid": file.blob_id, "size": file.size, "path": path}
    if file.is_lfs:
        entry["lfs"] = {"oid": file.sha256, "size": file.size, "pointerSize": file.pointer_size}
    if expand:
        pickle = path.endswith((".pt", ".pth", ".bin", ".pkl", ".pickle"))
        entry["lastCommit"] = last_commit
        entry["securityFileStatus"] = {
            "status": "safe",
            "avScan": {"virusFound": False, "virusNames": None},
            "pickleImportScan": {"highestSafetyLevel": "innocuous", "imports": []} if pickle else None,
        }
    return entry


def tree_page(
    repo: HubRepo,
    revision: str,
    folder: list[str],
    query: dict[str, list[str]],
    *,
    endpoint: str,
    page_size: int,
    expand_page_size: int,
) -> tuple[list[dict[str, Any] | None], str | None]:
    """``GET /api/models/{repo}/tree/{revision}/{folder}``: one page of entries and the next page's URL.

    ``revision`` and ``folder`` are the URL's segments, still percent-encoded; the next page's URL (None on
    the last page) goes in a ``Link: <...>; rel="next"`` header.
    """
    # The folder may come %2F-encoded in one segment (huggingface_hub quotes it with safe="").
    directory = unquote("/".join(folder)).strip("/")
    if directory not in repo.dirs:
        raise HubError(404, "EntryNotFound", f'{directory} does not exist on "{unquote(revision)}"')
    recursive = truthy(query_param(query, "recursive"))
    expand = truthy(query_param(query, "expand"))
    listing = list(repo.walk(directory, recursive))
    size = expand_page_size if expand else page_size
    cursor = (query.get("cursor") or [""])[0]
    offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
    page = listing[offset : offset + size]
    entries = [tree_entry(repo, path, expand) for path, _ in page]
    if offset + size >= len(listing):
        return entries, None
    next_cursor = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
    params = {k: v[0] for k, v in query.items() if k != "cursor"} | {"cursor": next_cursor}
    path = "/" + quote(directory, safe="") if directory else ""
    return entries, f"{endpoint}/api/models/{repo.repo_id}/tree/{revision}{path}?{urlencode(params)}"


def paths_info(repo: HubRepo, form_body: bytes) -> list[dict[str, Any]]:
    """``POST /api/models/{repo}/paths-info/{revision}``: the entries of the form's ``paths`` that exist."""
    form = parse_qs(form_body.decode(), keep_blank_values=True)
    expand = truthy(query_param(form, "expand"))
    entries = [tree_entry(repo, p.strip("/"), expand) for p in form.get("paths", [])]
    return [e for e in entries if e is not None]


def refs(repo: HubRepo) -> dict[str, Any]:
    """``GET /api/models/{repo}/refs``: the one branch, ``main``."""
    branches = [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.sha}]
    return {"branches": branches, "converts": [], "tags": []}
