"""Where ingest time goes: each stage alone, then the whole pipeline, on the same PDFs.

    uv run python benchmarks/ingest_bench.py --model /tmp/tiny --json
    uv run python benchmarks/ingest_bench.py --model vidore/colqwen2-v1.0 --device cuda

Reported: render-only pages/s (the render worker processes, as ingest uses them), embed-only
pages/s (pre-rendered images, in the embedder's batches), end-to-end pages/s (``add`` into a
fresh library: render, embed, store, index; the model is loaded beforehand and not counted),
the ratio of end-to-end to the slower stage alone, and the peak resident memory of this process
during the end-to-end run. Default PDFs: ../shared/corpus/sample-files, which includes the
117-page GeoTopo-komprimiert.pdf.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from docretriever.documents import find_pdfs
from docretriever.documents.render import RenderedPage
from docretriever.documents.render_pool import RenderPool, default_worker_count
from docretriever.embedding import ModelSpec, load_embedder
from docretriever.errors import DocumentError
from docretriever.library.local import LocalLibrary

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sample-files"


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def end_to_end(files: list[Path], embedder: object) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as folder:
        library = LocalLibrary(folder, embedder=embedder)  # type: ignore[arg-type]
        started = time.perf_counter()
        report = library.add(files)
        seconds = time.perf_counter() - started
        library.close()
    return report.pages_embedded, seconds


def render_only(files: list[Path], max_pixels: int) -> tuple[list[RenderedPage], float]:
    pool = RenderPool()
    try:
        started = time.perf_counter()
        images: list[RenderedPage] = []
        for path in files:
            try:
                infos = pool.inspect(path)
            except DocumentError:
                continue
            images += [r for r in pool.render(path, infos, max_pixels) if isinstance(r, RenderedPage)]
        return images, time.perf_counter() - started
    finally:
        pool.close()


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
    parser.add_argument("--model", required=True, help="model folder or Hub id")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--visual-tokens", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    files = find_pdfs(args.paths or [CORPUS]).files
    spec = ModelSpec(args.model, args.device, args.visual_tokens, args.batch_size)
    embedder = load_embedder(spec)
    pages, e2e_s = end_to_end(files, embedder)
    peak = peak_rss_mb()
    images, render_s = render_only(files, embedder.max_pixels)
    embed_s = embed_only(images, embedder)
    render_rate, embed_rate, e2e_rate = len(images) / render_s, len(images) / embed_s, pages / e2e_s
    figures = {
        "files": len(files),
        "pages": pages,
        "device": getattr(embedder, "device", "?"),
        "render_only_pages_per_s": round(render_rate, 2),
        "embed_only_pages_per_s": round(embed_rate, 2),
        "end_to_end_pages_per_s": round(e2e_rate, 2),
        "end_to_end_vs_slowest_stage": round(e2e_rate / min(render_rate, embed_rate), 3),
        "render_workers": default_worker_count(),
        "batch_size": getattr(embedder, "batch_size", None),
        "peak_rss_mb_end_to_end": round(peak),
    }
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
