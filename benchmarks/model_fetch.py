"""Getting vidore/colqwen2-v1.0's layout from a Hub, measured against the local stand-in.

    uv run python benchmarks/model_fetch.py [--rounds 5] [--json]

Builds the tiny repositories in the real layouts (docretriever/testing/hub_layout.py), serves
them on 127.0.0.1 (tests/helpers/hub_stand_in/) and reports:

- bytes announced by the plan before the first byte, against the bytes of each planned file
  that went over the wire, the bytes of files outside the plan (must be 0) and the plan's own
  header reads (Range requests that count parameters);
- a download killed with SIGKILL part-way through a weight file, then started again: the bytes
  the partial file kept and the Range the second run asked for;
- a cached model loaded with the network unreachable (every connect refused, HF_HUB_OFFLINE not
  set): the model's location, and the whole load, against the same load from its folder path
  (medians of ``--rounds``); the difference is the overhead of finding it in the cache.

The repositories are tiny, so the byte figures check the accounting, not a real line's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.hub_stand_in import HubStandIn  # noqa: E402

from docretriever.embedding import ModelSpec, load_embedder  # noqa: E402
from docretriever.embedding.hub_plan import plan_download  # noqa: E402
from docretriever.embedding.model_files import locate_model  # noqa: E402
from docretriever.testing.hub_layout import build_hub_repos  # noqa: E402

ADAPTER = "vidore/colqwen2-v1.0"
SHARD = "vidore/colqwen2-base/model-00002-of-00002.safetensors"
HEADER_RANGE = "bytes=0-100000"


def _environment(hub: HubStandIn, home: Path) -> None:
    import huggingface_hub.constants as constants

    os.environ.update(
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(home),
        HF_HUB_CACHE=str(home / "hub"),
        HF_HUB_OFFLINE="0",
        TRANSFORMERS_OFFLINE="0",
        DOCRETRIEVER_CACHE_DIR=str(home / "docretriever-cache"),
    )
    constants.HF_HUB_OFFLINE = False


def _accounting(hub: HubStandIn, home: Path) -> dict[str, object]:
    plan = plan_download(ADAPTER)
    planned = {f"{f.repo_id}/{f.path}": f.size for f in plan.files}
    hub.clear_log()
    done: list[int] = []
    locate_model(ADAPTER, lambda progress: done.append(progress.done))
    whole: dict[str, int] = {}
    headers = outside = 0
    for request in hub.log:
        if request.method != "GET" or not request.file:
            continue
        if request.range == HEADER_RANGE:
            headers += request.body_bytes
        elif request.file in planned:
            whole[request.file] = whole.get(request.file, 0) + request.body_bytes
        else:
            outside += request.body_bytes
    weights = {name: size for name, size in planned.items() if name.endswith(".safetensors")}
    return {
        "announced_bytes": plan.total_bytes,
        "already_cached_at_plan_bytes": plan.cached_bytes,
        "weight_files_announced_bytes": sum(weights.values()),
        "weight_files_downloaded_bytes": sum(whole.get(name, 0) for name in weights),
        "other_files_downloaded_bytes_gzip": sum(n for name, n in whole.items() if name not in weights),
        "bytes_of_files_outside_the_plan": outside,
        "header_reads_bytes": headers,
        "progress_monotone": done == sorted(done),
        "progress_last_equals_announced": bool(done) and done[-1] == plan.total_bytes,
        "files_planned": len(planned),
    }


def _resume(hub: HubStandIn, repos: dict[str, Path], home: Path) -> dict[str, object]:
    size = (repos["vidore/colqwen2-base"] / "model-00002-of-00002.safetensors").stat().st_size
    hub.throttle(size / 4)
    hub.clear_log()
    script = (
        "import huggingface_hub.constants as c; c.DOWNLOAD_CHUNK_SIZE = 16_384\n"  # scaled to the tiny shard
        "from docretriever.embedding.model_files import locate_model\n"
        f"locate_model({ADAPTER!r})"
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ), cwd=ROOT)
    hub.wait_for_bytes(SHARD, 100_001 + size // 2, timeout=120)
    child.send_signal(signal.SIGKILL)
    child.wait()
    kept = sum(p.stat().st_size for p in (home / "hub").rglob("*.partial"))
    hub.throttle(None)
    hub.clear_log()
    locate_model(ADAPTER)
    gets = [r for r in hub.log if r.file == SHARD and r.method == "GET" and r.range != HEADER_RANGE]
    return {
        "shard_bytes": size,
        "kept_after_kill_bytes": kept,
        "second_run_ranges": [r.range for r in gets],
        "second_run_shard_bytes": sum(r.body_bytes for r in gets),
    }


def _offline_load(rounds: int) -> dict[str, object]:
    files = locate_model(ADAPTER)
    snapshot_folder = str(files.folder)
    os.environ.pop("HF_HUB_OFFLINE", None)

    def refuse(self: socket.socket, address: object) -> None:
        raise OSError(101, "Network is unreachable")

    original = socket.socket.connect
    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        locate_s, by_id_s, by_folder_s = [], [], []
        for _ in range(rounds):
            started = time.perf_counter()
            locate_model(ADAPTER)
            locate_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            load_embedder(ModelSpec(ADAPTER, device="cpu"))
            by_id_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            load_embedder(ModelSpec(snapshot_folder, device="cpu"))
            by_folder_s.append(time.perf_counter() - started)
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
    return {
        "locate_median_ms": 1000 * statistics.median(locate_s),
        "load_by_hub_id_median_s": statistics.median(by_id_s),
        "load_by_folder_median_s": statistics.median(by_folder_s),
        "overhead_median_ms": 1000 * (statistics.median(by_id_s) - statistics.median(by_folder_s)),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="loads timed each way (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        repos = build_hub_repos(Path(scratch) / "repos")
        with HubStandIn(repos) as hub:
            home = Path(scratch) / "hf-home"
            _environment(hub, home)
            figures = {"accounting": _accounting(hub, home)}
            home = Path(scratch) / "hf-home-2"  # a fresh cache for the kill and resume
            _environment(hub, home)
            figures["resume"] = _resume(hub, repos, home)
            hub.stop()
            figures["offline_load"] = _offline_load(args.rounds)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for section, values in figures.items():
        print(f"{section}:")
        for name, value in values.items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
