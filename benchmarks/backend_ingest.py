"""Ingest speed of the two back ends on the same files, through the same pipeline.

    uv run python -m docretriever.testing.tiny_model /tmp/tiny   # once
    uv run python benchmarks/backend_ingest.py --model /tmp/tiny [--repeats 3] [PDFs or folders]

Each repeat adds the files into a fresh local library and into a fresh Qdrant library in local
mode (qdrant-client's in-process engine, persisted to a temporary folder), one after the other
with the same loaded model, alternating which goes first. Reported: the median pages/s of each
back end (the model loaded beforehand, not counted), and the median ratio Qdrant / local of the
runs side by side. Timings on a shared 2-core machine are noisy: read the ratio, not the rates.
Default files: ../shared/corpus/sample-files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from docretriever.documents import find_documents
from docretriever.embedding import Embedder, ModelSpec, load_embedder
from docretriever.library import open_library

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sample-files"


def pages_per_second(location: str, files: list[Path], embedder: Embedder) -> tuple[int, float]:
    """Pages embedded and pages/s of one ``add`` of ``files`` into a new library at ``location``."""
    library = open_library(location, embedder=embedder)
    try:
        started = time.perf_counter()
        report = library.add(files)
        seconds = time.perf_counter() - started
    finally:
        library.close()
    return report.pages_embedded, report.pages_embedded / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, help=f"PDFs or folders (default {CORPUS})")
    parser.add_argument("--model", required=True, help="model folder or Hub id")
    parser.add_argument("--visual-tokens", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    files = find_documents(args.paths or [CORPUS]).files
    if not files:
        parser.error(f"no PDF found in {', '.join(map(str, args.paths or [CORPUS]))}")
    embedder = load_embedder(ModelSpec(args.model, "cpu", args.visual_tokens))
    rates: dict[str, list[float]] = {"local": [], "qdrant": []}
    ratios: list[float] = []
    pages = 0
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            locations = {"local": f"{folder}/local", "qdrant": f"qdrant+local://{folder}/qdrant/pages"}
            order = ["local", "qdrant"] if repeat % 2 == 0 else ["qdrant", "local"]
            run = {}
            for back_end in order:
                pages, run[back_end] = pages_per_second(locations[back_end], files, embedder)
                rates[back_end].append(run[back_end])
            ratios.append(run["qdrant"] / run["local"])
    result = {
        "files": len(files),
        "pages": pages,
        "repeats": args.repeats,
        "local_pages_per_s": round(statistics.median(rates["local"]), 2),
        "qdrant_pages_per_s": round(statistics.median(rates["qdrant"]), 2),
        "qdrant_over_local": round(statistics.median(ratios), 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
