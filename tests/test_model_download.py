"""Getting the real model's layout from a Hub: the plan, the download, resume, Cancel, errors, and
the cache used with no network at all. Every test runs against the local stand-in of the Hub
(tests/helpers/hub_stand_in/) serving tiny repositories laid out like vidore/colqwen2-v1.0 (a
LoRA adapter with a training checkpoint) and vidore/colqwen2-base (two fp32 shards)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT

from docretriever.embedding.hub_plan import plan_download
from docretriever.embedding.model_files import locate_model, model_is_available
from docretriever.errors import Cancelled, ModelError
from docretriever.progress import CancelToken, Progress

ADAPTER = "vidore/colqwen2-v1.0"
BASE = "vidore/colqwen2-base"
SHARD = "model-00002-of-00002.safetensors"
# Bytes of each weight file the plan reads (a Range request) to count the model's parameters.
HEADER_READ = 100_001
# What the app reads: the adapter's weights, configuration, tokenizer and processor files, and
# the base's configuration and weights; never checkpoint-2310/, README.md, results.json...
ADAPTER_FILES = {
    "adapter_config.json",
    "adapter_model.safetensors",
    "added_tokens.json",
    "chat_template.json",
    "merges.txt",
    "preprocessor_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
}
BASE_FILES = {
    "config.json",
    "model.safetensors.index.json",
    "model-00001-of-00002.safetensors",
    SHARD,
}


def _sizes(folder: Path, names: set[str]) -> int:
    return sum((folder / name).stat().st_size for name in names)


def test_the_plan_names_exactly_the_files_read_and_the_download_matches_it(hub, hub_repos) -> None:
    plan = plan_download(ADAPTER)
    planned = {(f.repo_id, f.path) for f in plan.files}
    assert planned == {(ADAPTER, n) for n in ADAPTER_FILES} | {(BASE, n) for n in BASE_FILES}
    announced = _sizes(hub_repos[ADAPTER], ADAPTER_FILES) + _sizes(hub_repos[BASE], BASE_FILES)
    assert plan.total_bytes == announced
    assert plan.parameters and plan.memory_bytes("float32") == 2 * plan.memory_bytes("bfloat16")
    # Planning fetched the small files that say what else is needed, but it announces them: what
    # is "already on this computer" is what was there before.
    assert plan.cached_bytes == 0 and plan.download_bytes == announced

    reports: list[Progress] = []
    files = locate_model(ADAPTER, reports.append)

    done = [r.done for r in reports]
    assert done == sorted(done), "progress went backwards"
    assert {r.total for r in reports} == {announced}, "the total changed during the download"
    assert done[-1] == announced
    assert {r.stage for r in reports} == {f"Downloading {ADAPTER}"}
    paths = [request.path for request in hub.requests]
    for unwanted in ("checkpoint-", "README.md", "results.json", "git_hash.txt", "optimizer.pt"):
        assert not [p for p in paths if unwanted in p], f"{unwanted} was requested"
    # Each weight file went over the wire once, whole (besides the headers the plan read with
    # Range requests to count parameters).
    whole = {}
    for request in hub.log:
        if request.method == "GET" and request.range is None and request.file:
            whole[request.file] = whole.get(request.file, 0) + request.body_bytes
    for repo, name in ((ADAPTER, "adapter_model.safetensors"), (BASE, SHARD)):
        assert whole[f"{repo}/{name}"] == (hub_repos[repo] / name).stat().st_size
    assert files.revision == hub.commit(ADAPTER) and files.base_revision == hub.commit(BASE)
    assert "checkpoint-2310" not in os.listdir(files.folder)


def test_a_cached_model_loads_without_any_network_access(hub, monkeypatch) -> None:
    downloaded = locate_model(ADAPTER)
    hub.stop()
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def record(self: socket.socket, address: object) -> object:
        attempts.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the network is "up" as far as settings go
    started = time.monotonic()
    again = locate_model(ADAPTER)
    assert time.monotonic() - started < 1.0
    assert attempts == []
    assert again.folder == downloaded.folder and again.revision == downloaded.revision
    assert model_is_available(ADAPTER) and model_is_available(f"{ADAPTER}@{hub.commit(ADAPTER)}")


def test_a_download_killed_with_sigkill_resumes_where_it_stopped(hub, hub_cache, tmp_path) -> None:
    shard = (hub.repos[BASE].folder / SHARD).stat().st_size
    hub.throttle(shard / 4)  # about four seconds for the big shard
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
    }
    # huggingface_hub writes what arrives in chunks of 10 MB, a sliver of a real 5 GB shard; the
    # tiny shard is 0.5 MB, so the chunks are scaled down with it, else nothing would be written
    # before the end.
    script = (
        "import huggingface_hub.constants as c; c.DOWNLOAD_CHUNK_SIZE = 16_384\n"
        "from docretriever.embedding.model_files import locate_model\n"
        "locate_model('vidore/colqwen2-v1.0')"
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT)
    try:
        hub.wait_for_bytes(SHARD, HEADER_READ + shard // 3, timeout=60)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    partial = list(hub_cache.rglob("*.partial"))
    assert partial and all(p.stat().st_size > 0 for p in partial)
    kept = sum(p.stat().st_size for p in partial)
    hub.throttle(None)
    # The plan counts the kept bytes as here, and the download starts from them.
    plan = plan_download(ADAPTER)
    assert plan.cached_bytes >= kept and [f.partial for f in plan.files if f.path == SHARD] == [kept]

    hub.clear_log()
    files = locate_model(ADAPTER)
    assert (files.base_folder / SHARD).stat().st_size == shard
    # The plan reads the header with "bytes=0-100000"; the download itself resumes after what the
    # killed process had written.
    gets = [r for r in hub.log if r.file == f"{BASE}/{SHARD}" and r.method == "GET"]
    assert [r.range for r in gets] == ["bytes=0-100000", f"bytes={kept}-"]
    assert gets[-1].body_bytes == shard - kept


def test_cancel_returns_within_a_second_and_keeps_what_is_complete(hub) -> None:
    shard = (hub.repos[BASE].folder / SHARD).stat().st_size
    hub.throttle(shard / 20)
    cancel = CancelToken()
    outcome: list[BaseException] = []

    def download() -> None:
        try:
            locate_model(ADAPTER, cancel=cancel)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=download)
    worker.start()
    hub.wait_for_bytes(SHARD, HEADER_READ + shard // 10, timeout=60)
    started = time.monotonic()
    cancel.cancel()
    worker.join(5)
    assert time.monotonic() - started < 1.0
    assert outcome and isinstance(outcome[0], Cancelled)
    hub.throttle(None)
    hub.clear_log()
    locate_model(ADAPTER)
    # The files completed before the cancel were not fetched again.
    assert not [r for r in hub.requests if r.path.endswith("adapter_model.safetensors")]


def test_a_dropped_connection_mid_file_is_resumed(hub, hub_repos, monkeypatch) -> None:
    from huggingface_hub import constants

    # Chunks scaled down with the tiny shard, as in the kill test: a real shard is 500 chunks.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16_384)
    hub.drop_after(SHARD, 2 * HEADER_READ)  # past the plan's header read, inside the download
    files = locate_model(ADAPTER)
    assert (files.base_folder / SHARD).read_bytes() == (hub_repos[BASE] / SHARD).read_bytes()
    resumed = [r.range for r in hub.log if r.file == f"{BASE}/{SHARD}" and r.range != "bytes=0-100000"]
    assert resumed[-1] and resumed[-1].startswith("bytes=") and not resumed[-1].startswith("bytes=0-")


@pytest.mark.parametrize(
    ("source", "fault", "words"),
    [
        ("vidore/no-such-model", None, "has no model vidore/no-such-model"),
        (ADAPTER, "gate", "gated"),
        (f"{ADAPTER}@no-such-branch", None, "no such revision"),
        ("vidore/colqwen2-v1.0-hf", None, '"-hf"'),
    ],
)
def test_hub_answers_become_sentences(hub, source: str, fault: str | None, words: str) -> None:
    if fault == "gate":
        hub.gate(ADAPTER)
    with pytest.raises(ModelError) as raised:
        locate_model(source)
    assert words in str(raised.value)


def test_no_network_fails_fast_with_a_sentence(hub) -> None:
    hub.stop()
    started = time.monotonic()
    with pytest.raises(ModelError, match="Cannot reach the Hugging Face Hub"):
        locate_model(ADAPTER)
    assert time.monotonic() - started < 3.0  # no retry ladder (1 + 2 + 4 + 8 + 8 s)


@pytest.mark.filterwarnings("ignore:Not enough free disk space")
def test_not_enough_disk_space_is_said_before_any_byte(hub, monkeypatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(ModelError, match="free disk space"):
        locate_model(ADAPTER)
    weights = [r for r in hub.log if r.file and r.file.endswith(".safetensors") and r.method == "GET"]
    assert weights and all(r.range == f"bytes=0-{HEADER_READ - 1}" for r in weights)  # headers only


def test_a_pinned_revision_is_downloaded_and_found_again(hub) -> None:
    pinned = f"{ADAPTER}@{hub.commit(ADAPTER)}"
    files = locate_model(pinned)
    assert files.revision == hub.commit(ADAPTER)
    hub.stop()
    assert locate_model(pinned).folder == files.folder


def test_a_refusal_during_the_transfer_is_a_sentence_naming_the_repository(hub) -> None:
    hub.fail(r"model-00002-of-00002\.safetensors", 403)
    with pytest.raises(ModelError) as raised:
        locate_model(ADAPTER)
    message = str(raised.value)
    assert message.startswith(f"The Hugging Face Hub at {hub.endpoint} refused access to {BASE} (HTTP 403)")
    assert "resumes where it stopped" in message and "Error" not in message


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(28, "No space left on device"), "free some disk space"),
        (
            OSError(30, "Read-only file system", "/cache/.locks/x.lock"),
            "cannot be written (/cache/.locks/x.lock)",
        ),
        (OSError(13, "Permission denied"), "cannot be written"),
    ],
)
def test_disk_errors_during_a_download_become_sentences(error: OSError, words: str) -> None:
    from docretriever.embedding.hub_errors import explain_hub_error

    message = str(explain_hub_error(error, ADAPTER, resumable=True))
    assert words in message and "OSError" not in message
