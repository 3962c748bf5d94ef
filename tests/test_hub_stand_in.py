"""The local Hub stand-in and the tiny repositories, checked through huggingface_hub's public API.

The stand-in is only worth something if huggingface_hub cannot tell it from the Hub: these tests drive it with
the same calls the app makes (model_info, list_repo_tree, hf_hub_download, snapshot_download) and check both
what the client sees and what went over the wire.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import time
from pathlib import Path

import httpx
import pytest
import torch
from helpers.hub_stand_in import HubStandIn
from hub_fixtures import use_hub
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from docretriever.testing.hub_layout import (
    ADAPTER_REPO,
    BASE_REPO,
    CHECKPOINT_DIR,
    HF_NATIVE_REPO,
    build_hub_repos,
)

LFS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _safetensors_header(path: Path) -> dict[str, dict]:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return json.loads(handle.read(length))


# --------------------------------------------------------------------------- the tiny repositories


def test_layouts_match_the_real_repositories(hub_repos: dict[str, Path]) -> None:
    adapter, base = hub_repos[ADAPTER_REPO], hub_repos[BASE_REPO]
    assert {
        ".gitattributes",
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "added_tokens.json",
        "chat_template.json",
        "git_hash.txt",
        "merges.txt",
        "preprocessor_config.json",
        "results.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    } <= set(_files(adapter))
    assert not (adapter / "config.json").exists()
    checkpoint = {p.name for p in (adapter / CHECKPOINT_DIR).iterdir()}
    assert checkpoint == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "optimizer.pt",
        "rng_state.pth",
        "scheduler.pt",
        "trainer_state.json",
        "training_args.bin",
    }
    # Downloading the checkpoint by mistake must show in byte counts.
    optimizer = (adapter / CHECKPOINT_DIR / "optimizer.pt").stat().st_size
    assert optimizer > 3 * (adapter / "adapter_model.safetensors").stat().st_size

    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == BASE_REPO
    assert (adapter_config["r"], adapter_config["lora_alpha"], adapter_config["lora_dropout"]) == (
        32,
        32,
        0.1,
    )
    assert adapter_config["peft_type"] == "LORA" and adapter_config["task_type"] == "FEATURE_EXTRACTION"
    assert adapter_config["target_modules"].startswith("(.*(model).*(down_proj|")

    lora = _safetensors_header(adapter / "adapter_model.safetensors")
    lora.pop("__metadata__")
    assert {info["dtype"] for info in lora.values()} == {"BF16"}
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in lora
    assert "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight" in lora
    assert "base_model.model.custom_text_proj.lora_B.weight" in lora
    assert all(
        k.startswith(("base_model.model.model.layers.", "base_model.model.custom_text_proj.")) for k in lora
    )

    config = json.loads((base / "config.json").read_text())
    assert config["model_type"] == "qwen2_vl" and config["architectures"] == ["ColQwen2"]
    assert "text_config" not in config and config["rope_scaling"]["type"] == "mrope"
    assert (config["torch_dtype"], config["transformers_version"]) == ("float32", "4.45.0")
    index = json.loads((base / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    total, keys = 0, set()
    for shard in shards:
        header = _safetensors_header(base / shard)
        header.pop("__metadata__")
        assert {info["dtype"] for info in header.values()} == {"F32"}
        total += sum(info["data_offsets"][1] - info["data_offsets"][0] for info in header.values())
        keys |= set(header)
    assert index["metadata"]["total_size"] == total and keys == set(index["weight_map"])
    assert {"model.embed_tokens.weight", "model.norm.weight", "custom_text_proj.weight"} <= keys
    assert not any(k.startswith("language_model.") for k in keys)

    processor = json.loads((base / "preprocessor_config.json").read_text())
    assert processor["size"] == {"max_pixels": 12845056, "min_pixels": 3136}

    native = json.loads((hub_repos[HF_NATIVE_REPO] / "config.json").read_text())
    assert native["model_type"] == "colqwen2" and native["architectures"] == ["ColQwen2ForRetrieval"]
    assert sum(len(b) for folder in hub_repos.values() for b in _files(folder).values()) < 5_000_000


def test_same_seed_same_bytes(hub_repos: dict[str, Path], tmp_path: Path) -> None:
    again = build_hub_repos(tmp_path, seed=0)
    for repo, folder in hub_repos.items():
        assert _files(again[repo]) == _files(folder), repo


def test_adapter_loads_exactly_through_the_hub(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    """What the app relies on: loading by Hub id gets the base and every LoRA value, and nothing else."""
    from colpali_engine.models import ColQwen2
    from safetensors import safe_open

    base, info = ColQwen2.from_pretrained(
        str(hub_repos[BASE_REPO]), dtype=torch.float32, output_loading_info=True, local_files_only=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    model, info = ColQwen2.from_pretrained(ADAPTER_REPO, dtype=torch.float32, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    params = dict(model.named_parameters())
    with safe_open(str(hub_repos[ADAPTER_REPO] / "adapter_model.safetensors"), "pt") as weights:
        for key in weights.keys():  # noqa: SIM118 (safe_open has no __iter__)
            name = key.removeprefix("base_model.model.").replace("model.layers.", "language_model.layers.")
            loaded = params[name.replace(".weight", ".default.weight")].detach().to(torch.bfloat16)
            assert torch.equal(loaded, weights.get_tensor(key)), key

    ids = torch.tensor([[5, 6, 7, 8]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        delta = (model(input_ids=ids, attention_mask=mask) - base(input_ids=ids, attention_mask=mask)).abs()
    assert delta.max() > 0.05

    paths = [path for _, path, _ in hub.requests]
    assert any(path.startswith(f"/{BASE_REPO}/resolve/") for path in paths)  # the base, fetched by its Hub id
    assert not any("checkpoint-" in path for path in paths)
    assert not any("checkpoint-" in key for key in hub.bytes_served())


# --------------------------------------------------------------------------- repository information


def test_model_info(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    api = HfApi(endpoint=hub.endpoint)
    files = _files(hub_repos[ADAPTER_REPO])
    info = api.model_info(ADAPTER_REPO)
    assert info.id == ADAPTER_REPO and info.sha == hub.commit(ADAPTER_REPO)
    assert [s.rfilename for s in info.siblings or []] == sorted(files)
    assert info.card_data is not None and info.card_data.base_model == BASE_REPO
    assert info.siblings and info.siblings[0].size is None  # only with files_metadata

    detailed = api.model_info(ADAPTER_REPO, files_metadata=True, revision=hub.commit(ADAPTER_REPO))
    for sibling in detailed.siblings or []:
        data = files[sibling.rfilename]
        assert sibling.size == len(data)
        lfs = sibling.rfilename.endswith(LFS_SUFFIXES) or sibling.rfilename == "tokenizer.json"
        if lfs:
            assert sibling.lfs is not None and sibling.lfs.sha256 == hashlib.sha256(data).hexdigest()
            assert sibling.lfs.size == len(data)
            spec = "version https://git-lfs.github.com/spec/v1"
            pointer = f"{spec}\noid sha256:{sibling.lfs.sha256}\nsize {len(data)}\n"
            assert sibling.lfs.pointer_size == len(pointer) and sibling.blob_id == _git_blob(pointer.encode())
        else:
            assert sibling.lfs is None and sibling.blob_id == _git_blob(data)

    narrow = api.model_info(BASE_REPO, expand=["sha", "safetensors"])
    assert narrow.sha == hub.commit(BASE_REPO) and narrow.siblings is None
    assert narrow.safetensors is not None and set(narrow.safetensors.parameters) == {"F32"}
    assert api.repo_info(BASE_REPO).sha == hub.commit(BASE_REPO)
    assert api.list_repo_refs(BASE_REPO).branches[0].target_commit == hub.commit(BASE_REPO)


def test_list_repo_tree(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    api = HfApi(endpoint=hub.endpoint)
    files = _files(hub_repos[ADAPTER_REPO])
    everything = list(api.list_repo_tree(ADAPTER_REPO, recursive=True))
    assert {e.path for e in everything if isinstance(e, RepoFile)} == set(files)
    assert [e.path for e in everything if isinstance(e, RepoFolder)] == [CHECKPOINT_DIR]

    top = list(api.list_repo_tree(ADAPTER_REPO))
    assert CHECKPOINT_DIR in {e.path for e in top if isinstance(e, RepoFolder)}
    assert not any("/" in e.path for e in top)
    inside = {e.path: e for e in api.list_repo_tree(ADAPTER_REPO, path_in_repo=CHECKPOINT_DIR, expand=True)}
    optimizer = inside[f"{CHECKPOINT_DIR}/optimizer.pt"]
    assert isinstance(optimizer, RepoFile) and optimizer.lfs is not None
    assert optimizer.size == len(files[f"{CHECKPOINT_DIR}/optimizer.pt"])
    assert optimizer.last_commit is not None and optimizer.last_commit.oid == hub.commit(ADAPTER_REPO)
    assert optimizer.security is not None and optimizer.security.safe

    with pytest.raises(RemoteEntryNotFoundError):
        list(api.list_repo_tree(ADAPTER_REPO, path_in_repo="no-such-folder"))
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree(ADAPTER_REPO, revision="v9"))


def test_tree_pages_follow_the_link_header(
    hub_repos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with HubStandIn(hub_repos, tree_page_size=4) as small_pages:
        use_hub(monkeypatch, small_pages.endpoint, tmp_path)
        api = HfApi(endpoint=small_pages.endpoint)
        listed = [e.path for e in api.list_repo_tree(ADAPTER_REPO, recursive=True)]
        tree_calls = [r for r in small_pages.log if "/tree/" in r.path]
    assert len(listed) == len(set(listed)) == len(_files(hub_repos[ADAPTER_REPO])) + 1  # + the folder
    assert len(tree_calls) == -(-len(listed) // 4)
    assert all("cursor=" in r.query for r in tree_calls[1:])


# --------------------------------------------------------------------------- downloads


def test_file_metadata_like_the_hub(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    files = _files(hub_repos[ADAPTER_REPO])
    lfs = get_hf_file_metadata(hf_hub_url(ADAPTER_REPO, "adapter_model.safetensors", endpoint=hub.endpoint))
    data = files["adapter_model.safetensors"]
    assert lfs.etag == hashlib.sha256(data).hexdigest() and lfs.size == len(data)
    assert lfs.commit_hash == hub.commit(ADAPTER_REPO)
    assert lfs.location.startswith(hub.cdn_endpoint + "/repos/")  # the HEAD stopped at the 302

    regular = get_hf_file_metadata(hf_hub_url(ADAPTER_REPO, "adapter_config.json", endpoint=hub.endpoint))
    assert regular.etag == _git_blob(files["adapter_config.json"])
    assert regular.size == len(files["adapter_config.json"]) and regular.location.startswith(hub.endpoint)


def test_hf_hub_download(hub: HubStandIn, hub_repos: dict[str, Path], hub_cache: Path) -> None:
    files = _files(hub_repos[ADAPTER_REPO])
    commit = hub.commit(ADAPTER_REPO)
    for name in ("adapter_model.safetensors", "tokenizer_config.json", "adapter_config.json"):
        path = Path(hf_hub_download(ADAPTER_REPO, name))  # endpoint and cache from the environment
        assert path.read_bytes() == files[name]
        assert path.parent == hub_cache / "models--vidore--colqwen2-v1.0" / "snapshots" / commit
    storage = hub_cache / "models--vidore--colqwen2-v1.0"
    assert (storage / "refs" / "main").read_text() == commit
    assert (storage / "blobs" / hashlib.sha256(files["adapter_model.safetensors"]).hexdigest()).is_file()
    assert (storage / "blobs" / _git_blob(files["adapter_config.json"])).is_file()

    log = hub.log
    lfs_get = [r for r in log if r.method == "GET" and r.file == f"{ADAPTER_REPO}/adapter_model.safetensors"]
    assert [r.server for r in lfs_get] == ["cdn"] and lfs_get[0].status == 200
    # tokenizer_config.json went gzipped, as CloudFront sends it, and still arrived whole.
    text_get = next(r for r in log if r.method == "GET" and r.path.endswith("/tokenizer_config.json"))
    assert 0 < text_get.body_bytes < len(files["tokenizer_config.json"])


def test_token_is_not_sent_to_the_cdn(hub: HubStandIn, tmp_path: Path) -> None:
    hub.gate(ADAPTER_REPO, token="hf_good")
    hf_hub_download(ADAPTER_REPO, "adapter_model.safetensors", cache_dir=tmp_path, token="hf_good")
    transfers = [r for r in hub.log if "/resolve/" in r.path or r.server == "cdn"]
    assert {(r.server, r.authorization) for r in transfers} == {("hub", True), ("cdn", False)}


def test_download_after_a_drop(
    hub: HubStandIn, hub_repos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cut body is fetched again: from the start below 10 MiB, with a Range from the last whole chunk above.

    huggingface_hub writes what it receives in chunks of DOWNLOAD_CHUNK_SIZE (10 MiB); a chunk cut short is
    lost, so below 10 MiB the retry starts over (200, no Range). A smaller chunk size shows the Range resume
    the Hub's big files get.
    """
    name = "model-00002-of-00002.safetensors"
    data = _files(hub_repos[BASE_REPO])[name]

    hub.drop_after(name, 100_000)
    assert Path(hf_hub_download(BASE_REPO, name, cache_dir=tmp_path / "a")).read_bytes() == data
    gets = [(r.range, r.status, r.body_bytes) for r in hub.log if r.method == "GET" and r.server == "cdn"]
    assert gets == [(None, 200, 100_000), (None, 200, len(data))]

    hub.clear_log()
    chunk = 16 * 1024
    monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", chunk)
    hub.drop_after(name, 100_000)
    assert Path(hf_hub_download(BASE_REPO, name, cache_dir=tmp_path / "b")).read_bytes() == data
    kept = 100_000 // chunk * chunk
    gets = [(r.range, r.status, r.body_bytes) for r in hub.log if r.method == "GET" and r.server == "cdn"]
    assert gets == [(None, 200, 100_000), (f"bytes={kept}-", 206, len(data) - kept)]


def test_range_answers(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    data = _files(hub_repos[ADAPTER_REPO])["merges.txt"]
    url = hf_hub_url(ADAPTER_REPO, "merges.txt", endpoint=hub.endpoint)
    with httpx.Client() as client:
        partial = client.get(url, headers={"Range": "bytes=100-", "Accept-Encoding": "identity"})
        assert partial.status_code == 206 and partial.content == data[100:]
        assert partial.headers["Content-Range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
        suffix = client.get(url, headers={"Range": "bytes=-10", "Accept-Encoding": "identity"})
        assert suffix.status_code == 206 and suffix.content == data[-10:]
        beyond = client.get(url, headers={"Range": f"bytes={len(data)}-", "Accept-Encoding": "identity"})
        assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
        redirect = client.get(hf_hub_url(ADAPTER_REPO, "tokenizer.json", endpoint=hub.endpoint))
        assert redirect.status_code == 302 and redirect.headers["Location"].startswith(hub.cdn_endpoint)


def test_snapshot_without_the_checkpoint(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    folder = Path(snapshot_download(ADAPTER_REPO, ignore_patterns=[f"{CHECKPOINT_DIR}/*"]))
    expected = {k: v for k, v in _files(hub_repos[ADAPTER_REPO]).items() if not k.startswith(CHECKPOINT_DIR)}
    assert _files(folder) == expected
    assert not any("checkpoint-" in path for _, path, _ in hub.requests)
    assert not any("checkpoint-" in key for key in hub.bytes_served())


# --------------------------------------------------------------------------- errors


def test_repository_not_found(hub: HubStandIn, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub.endpoint)
    for token in (None, "hf_some_token"):
        with pytest.raises(RepositoryNotFoundError) as raised:
            api.model_info("vidore/no-such-model", token=token or False)
        assert type(raised.value) is RepositoryNotFoundError
        assert raised.value.response.status_code == (401 if token is None else 404)
    with pytest.raises(RepositoryNotFoundError) as raised:
        hf_hub_download("vidore/no-such-model", "config.json", cache_dir=tmp_path)
    assert type(raised.value) is RepositoryNotFoundError


def test_gated_repository(hub: HubStandIn, hub_repos: dict[str, Path], tmp_path: Path) -> None:
    hub.gate(ADAPTER_REPO, token="hf_allowed")
    for token, status in ((None, 401), ("hf_other", 403)):
        with pytest.raises(GatedRepoError) as raised:
            hf_hub_download(ADAPTER_REPO, "adapter_config.json", cache_dir=tmp_path / "a", token=token)
        assert raised.value.response.status_code == status
    # The repository page stays visible, as on the Hub; only the files are gated.
    assert HfApi(endpoint=hub.endpoint).model_info(ADAPTER_REPO).gated == "manual"
    path = hf_hub_download(ADAPTER_REPO, "adapter_config.json", cache_dir=tmp_path / "b", token="hf_allowed")
    assert Path(path).read_bytes() == (hub_repos[ADAPTER_REPO] / "adapter_config.json").read_bytes()


def test_entry_and_revision_not_found(hub: HubStandIn, hub_cache: Path) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(ADAPTER_REPO, "config.json")
    # huggingface_hub remembers the absence under the commit the 404 named.
    no_exist = hub_cache / "models--vidore--colqwen2-v1.0" / ".no_exist" / hub.commit(ADAPTER_REPO)
    assert (no_exist / "config.json").is_file()
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(ADAPTER_REPO, "adapter_config.json", revision="v9")
    with pytest.raises(RevisionNotFoundError):
        HfApi(endpoint=hub.endpoint).model_info(ADAPTER_REPO, revision="0" * 40)


def test_injected_failure(hub: HubStandIn) -> None:
    hub.fail(r"^/api/models/", 503, times=1)
    api = HfApi(endpoint=hub.endpoint)
    with pytest.raises(HfHubHTTPError) as raised:
        api.model_info(ADAPTER_REPO)
    assert raised.value.response.status_code == 503
    assert api.model_info(ADAPTER_REPO).sha == hub.commit(ADAPTER_REPO)


# --------------------------------------------------------------------------- slow and vanishing networks


def test_throttle_stop_and_come_back(hub: HubStandIn, hub_repos: dict[str, Path]) -> None:
    """A throttled download, the network gone mid-body, then back: huggingface_hub's retry completes it."""
    data = _files(hub_repos[BASE_REPO])["model-00001-of-00002.safetensors"]
    hub.throttle(200_000)
    result: dict[str, object] = {}

    def download() -> None:
        try:
            result["path"] = hf_hub_download(BASE_REPO, "model-00001-of-00002.safetensors")
        except Exception as error:  # reported below
            result["error"] = error

    worker = threading.Thread(target=download)
    worker.start()
    served = hub.wait_for_bytes("model-00001-of-00002.safetensors", 40_000)
    assert served < len(data)  # throttled: far from done
    began = time.monotonic()
    hub.stop()
    assert time.monotonic() - began < 1.0  # a throttled body does not hold the stop up
    hub.throttle(None)
    hub.start()
    worker.join(timeout=60)
    assert "error" not in result, result
    assert Path(str(result["path"])).read_bytes() == data
    gets = [r for r in hub.log if r.server == "cdn" and r.method == "GET"]
    assert len(gets) == 2 and gets[-1].body_bytes == len(data)


def test_cached_files_survive_an_outage(hub: HubStandIn) -> None:
    first = hf_hub_download(ADAPTER_REPO, "adapter_config.json")
    hub.stop()
    assert hf_hub_download(ADAPTER_REPO, "adapter_config.json") == first


def test_offline_again_outside_the_hub_fixture() -> None:
    """The hub fixture's online mode and endpoint do not leak into the tests after it."""
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE and os.environ["HF_HUB_OFFLINE"] == "1"
    assert not constants.ENDPOINT.startswith("http://127.0.0.1")
    assert not os.environ.get("HF_ENDPOINT", "").startswith("http://127.0.0.1")
