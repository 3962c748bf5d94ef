"""Where ingest time goes: each stage alone, then the whole pipeline, on the same PDFs.

    uv run python benchmarks/ingest_bench.py --model /tmp/tiny --json
    uv run python benchmarks/ingest_bench.py --model vidore/colqwen2-v1.0 --device cuda
    uv run python benchmarks/ingest_bench.py --random-full-size --device cuda --json

``--random-full-size`` builds the full-size ColQwen2 architecture (2.2 B parameters) with random
weights in memory, bf16 on a GPU: the real compute per page, no download
(with ``--full-size-model colqwen3.5-flash``: the 0.85 B ColQwen3.5 Flash instead).

Reported: render-only pages/s (the render worker processes, as ingest uses them), embed-only
pages/s (pre-rendered images, in the embedder's batches: preparing them and the model; both
parts are also reported apart, because ingest prepares on the rendering thread), end-to-end
pages/s (``add`` into a fresh library: render, embed, store, index; the model is loaded
beforehand and not counted),
the ratio of end-to-end to the slower stage alone, and the peak resident memory of this process
during the end-to-end run. On a CPU every stage competes for the same cores, so it also reports
the CPU seconds each run used per page and the most the cores could give if they were never
idle: cores / (render + embed CPU seconds per page), storing not even counted.
Default PDFs: ../shared/corpus/sample-files, which includes the 117-page GeoTopo-komprimiert.pdf.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from docretriever.documents import find_documents
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_pool import RenderPool, default_worker_count
from docretriever.embedding import Embedder, ModelSpec, load_embedder, render_sizes
from docretriever.errors import DocumentError
from docretriever.library.local import LocalLibrary

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sample-files"


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the render workers, once closed)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def end_to_end(files: list[Path], embedder: object, token_pooling: int = 1) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as folder:
        library = LocalLibrary(folder, embedder=embedder, token_pooling=token_pooling)  # type: ignore[arg-type]
        started = time.perf_counter()
        report = library.add(files)
        seconds = time.perf_counter() - started
        library.close()
    return report.pages_embedded, seconds


def render_only(files: list[Path], embedder: Embedder) -> tuple[list[RenderedPage], float]:
    """Every page of ``files`` rendered at ``embedder``'s render size, and the seconds it took."""
    pool = RenderPool()
    try:
        started = time.perf_counter()
        images: list[RenderedPage] = []
        for path in files:
            try:
                infos = pool.inspect(path)
            except DocumentError:
                continue
            sizes = render_sizes(embedder, infos)
            images += [r for r in pool.render(path, infos, sizes) if isinstance(r, RenderedPage)]
        return images, time.perf_counter() - started
    finally:
        pool.close()


def prepare_and_model(images: list[RenderedPage], embedder: object) -> tuple[float, float]:
    """Seconds for the embedder's two parts apart: preparing every batch, then the model alone."""
    batch = int(getattr(embedder, "batch_size", 4))
    started = time.perf_counter()
    prepared = [
        embedder.prepare_pages([r.image for r in images[start : start + batch]])  # type: ignore[attr-defined]
        for start in range(0, len(images), batch)
    ]
    middle = time.perf_counter()
    for pages in prepared:
        embedder.embed_pages(pages)  # type: ignore[attr-defined]
    return middle - started, time.perf_counter() - middle


def embed_only(images: list[RenderedPage], embedder: object) -> float:
    batch = int(getattr(embedder, "batch_size", 4))
    started = time.perf_counter()
    for start in range(0, len(images), batch):
        embedder.embed_pages([r.image for r in images[start : start + batch]])  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, help=f"PDFs or folders (default {CORPUS})")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="model folder or Hub id")
    source.add_argument(
        "--random-full-size", action="store_true", help="the full-size architecture, random weights"
    )
    parser.add_argument(
        "--full-size-model",
        default="colqwen2",
        choices=("colqwen2", "colqwen3.5-flash"),
        help="which architecture --random-full-size builds (default colqwen2)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--visual-tokens", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--token-pooling", type=int, default=1, metavar="FACTOR", help="pool the end-to-end library's pages"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    files = find_documents(args.paths or [CORPUS]).files
    if args.random_full_size:
        from docretriever.testing.full_size_model import load_full_size_embedder

        embedder: object = load_full_size_embedder(
            args.device, args.visual_tokens, args.batch_size, args.full_size_model
        )
    else:
        embedder = load_embedder(ModelSpec(args.model, args.device, args.visual_tokens, args.batch_size))
    cpu = {"end_to_end": -cpu_seconds()}
    pages, e2e_s = end_to_end(files, embedder, args.token_pooling)
    cpu["end_to_end"] += cpu_seconds()
    peak = peak_rss_mb()
    cpu["render"] = -cpu_seconds()
    images, render_s = render_only(files, embedder)  # type: ignore[arg-type]
    cpu["render"] += cpu_seconds()
    cpu["embed"] = -cpu_seconds()
    embed_s = embed_only(images, embedder)
    cpu["embed"] += cpu_seconds()
    prepare_s, model_s = prepare_and_model(images, embedder)
    render_rate, embed_rate, e2e_rate = len(images) / render_s, len(images) / embed_s, pages / e2e_s
    cores = os.cpu_count() or 1
    ceiling = cores * len(images) / (cpu["render"] + cpu["embed"])
    figures = {
        "files": len(files),
        "pages": pages,
        "device": getattr(embedder, "device", "?"),
        "render_only_pages_per_s": round(render_rate, 2),
        "embed_only_pages_per_s": round(embed_rate, 2),
        "end_to_end_pages_per_s": round(e2e_rate, 2),
        "of_embed_only_prepare_pages_per_s": round(len(images) / prepare_s, 2),
        "of_embed_only_model_pages_per_s": round(len(images) / model_s, 2),
        "end_to_end_vs_slowest_stage": round(e2e_rate / min(render_rate, embed_rate), 3),
        "cpu_seconds_per_page": {stage: round(seconds / len(images), 4) for stage, seconds in cpu.items()},
        "cpu_bound_ceiling_pages_per_s": round(ceiling, 2),
        "end_to_end_vs_cpu_ceiling": round(e2e_rate / ceiling, 3),
        "cores": cores,
        "render_workers": default_worker_count(),
        "batch_size": getattr(embedder, "batch_size", None),
        "token_pooling": args.token_pooling,
        "peak_rss_mb_end_to_end": round(peak),
    }
    if args.random_full_size and args.full_size_model == "colqwen2" and args.visual_tokens == 768:
        # Issue 6's arithmetic: about 7.5 TFLOP a page at 768 visual tokens, and ~790 TFLOP/s of
        # dense bf16 for an H100 (the figure; SXM boards list ~989, PCIe ~756), so
        # about 100 pages/s at most. Other budgets are left out: attention is not linear.
        figures["embed_only_tflop_per_s_estimate"] = round(embed_rate * 7.5, 1)
        figures["embed_only_vs_h100_bf16_peak"] = round(embed_rate * 7.5 / 790, 3)
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
