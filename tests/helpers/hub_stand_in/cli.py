"""Running the Hub stand-in by hand: serve a folder of repositories until Ctrl-C (see the package doc)."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from .server import HubStandIn

__all__ = ["main"]


def _discover(folder: Path) -> dict[str, Path]:
    """``{namespace/name: folder}`` for every non-empty two-level folder under ``folder``."""
    repos: dict[str, Path] = {}
    for namespace in sorted(p for p in folder.iterdir() if p.is_dir()):
        for repo in sorted(p for p in namespace.iterdir() if p.is_dir()):
            if any(repo.iterdir()):
                repos[f"{namespace.name}/{repo.name}"] = repo
    return repos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hub_stand_in", description="Serve repositories as a local Hugging Face Hub (tests only)."
    )
    parser.add_argument(
        "folder", type=Path, help="DIR/<namespace>/<name> folders; the tiny repos are built if empty"
    )
    parser.add_argument("--port", type=int, default=8765, help="Hub port (default 8765)")
    parser.add_argument("--cdn-port", type=int, default=0, help="CDN port (default: any free one)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed when building the repos")
    args = parser.parse_args(argv)
    folder: Path = args.folder
    if not folder.exists() or not any(folder.iterdir()):
        from docretriever.testing.hub_layout import build_hub_repos

        print(f"building the tiny repositories in {folder} ...", flush=True)
        build_hub_repos(folder, seed=args.seed)
    repos = _discover(folder)
    # Ctrl-C and kill both end it cleanly, even when started in the background (where SIGINT is ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with HubStandIn(repos, port=args.port, cdn_port=args.cdn_port) as hub:
        for repo_id in repos:
            print(f"  {repo_id}  commit {hub.commit(repo_id)}")
        print(f"HF_ENDPOINT={hub.endpoint}  (LFS files from {hub.cdn_endpoint}); Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
    return 0
