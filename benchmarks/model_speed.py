"""Seconds per page of the full-size architectures (random weights) on this machine, side by side.

    PYTHONPATH=.:ui python benchmarks/model_speed.py --models colqwen2,colqwen3.5-flash \\
        --visual-tokens 256,768 --pages 4 --repeats 3 --json /tmp/model_speed.json

Each model is built once (:mod:`docretriever.testing.full_size_model`: the published configuration,
random weights, float32 on a CPU, bf16 on a GPU) and embeds the same real pages, the first
``--pages`` of ``--pdf`` rendered at each model's own render size for the budget (whole cells of its
geometry). Per budget and repeat, every model runs in turn (the order rotates with the repeat), at
batch 1 and at the embedder's default batch size (4 on a CPU), so drift from other work on the
machine hits all of them alike. Timed: the image processor and the model together, as
``embed_pages`` does (the model alone is reported too), in wall and in CPU seconds of this process.
Reported: the median over repeats of seconds per page, and each model's ratio to the first model
(the ratio of the medians, and the median of the per-repeat ratios), the torch thread count,
whether Qwen3.5's gated-delta-net layers have their flash-linear-attention / causal-conv1d kernels
or fall back to transformers' torch reference code, the resident memory after building each model
and the peak of the whole process. On a shared machine single runs vary widely: read the paired
ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from docretriever.documents.pdf import open_pdf, read_page_infos
from docretriever.documents.render import render_page

DEFAULT_PDF = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "corpus"
    / "sample-files"
    / "009-pdflatex-geotopo"
    / "GeoTopo-komprimiert.pdf"
)


def rss_mb() -> float:
    """This process's resident memory now (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def render_pages(pdf: Path, count: int, embedder: Any) -> list[Any]:
    """The first ``count`` pages of ``pdf`` at ``embedder``'s render size."""
    with open_pdf(pdf) as document:
        infos = read_page_infos(document)[:count]
        return [
            render_page(pdf, document, info, embedder.render_size(info.width_pt, info.height_pt)).image
            for info in infos
        ]


def timed(embedder: Any, images: list[Any]) -> tuple[float, float, float]:
    """Per page of ``images``: (wall seconds preparing and embedding them, of which the model alone,
    CPU seconds of this process for both). CPU seconds move less than wall time when other work
    shares the cores (spinning threads still count)."""
    cpu_started = time.process_time()
    started = time.perf_counter()
    prepared = embedder.prepare_pages(images)
    model_started = time.perf_counter()
    embedder.embed_pages(prepared)
    ended = time.perf_counter()
    cpu = time.process_time() - cpu_started
    return (ended - started) / len(images), (ended - model_started) / len(images), cpu / len(images)


def kernels() -> dict[str, Any]:
    """Which fast kernels Qwen3.5's linear-attention layers would find (transformers falls back to
    its torch implementations of the gated delta rule and the causal conv1d when absent)."""
    fla = importlib.util.find_spec("fla") is not None
    conv = importlib.util.find_spec("causal_conv1d") is not None
    return {
        "flash_linear_attention_installed": fla,
        "causal_conv1d_installed": conv,
        "gated_delta_rule": "fla" if fla else "torch reference (transformers torch_chunk_gated_delta_rule)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", default="colqwen2,colqwen3.5-flash", help="comma-separated; first is the reference"
    )
    parser.add_argument("--visual-tokens", default="256,768", help="comma-separated budgets")
    parser.add_argument(
        "--pages", type=int, default=4, help="pages per measurement (at least the largest batch)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="the default batch (default: the embedder's)"
    )
    parser.add_argument(
        "--batches",
        default="1,default",
        help="batch sizes to time, comma-separated ('default': the embedder's)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the figures here")
    args = parser.parse_args()
    if not args.pdf.is_file():
        parser.error(f"no PDF at {args.pdf} (give one with --pdf)")

    import torch

    from docretriever.embedding.colqwen import choose_device
    from docretriever.testing.full_size_model import (
        build_full_size_model,
        full_size_embedder,
        full_size_model,
    )

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    budgets = [int(value) for value in args.visual_tokens.split(",")]
    device = choose_device(args.device)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    built: dict[str, tuple[Any, Any]] = {}
    rss_after_build: dict[str, float] = {}
    for name in names:
        torch.manual_seed(0)
        started = time.perf_counter()
        built[name] = build_full_size_model(device, dtype, name)
        rss_after_build[name] = round(rss_mb())
        print(
            f"built {name} in {time.perf_counter() - started:.0f} s, rss {rss_after_build[name]} MB",
            flush=True,
        )

    def embedder(name: str, budget: int, batch: int | None) -> Any:
        model, processor = built[name]
        return full_size_embedder(model, processor, name, device, budget, batch)

    default_batch = args.batch_size or embedder(names[0], budgets[0], None).batch_size
    sizes = [default_batch if value == "default" else int(value) for value in args.batches.split(",")]
    batches = {f"batch_{size}": size for size in sizes}
    if args.pages < max(sizes):
        parser.error(f"--pages {args.pages} cannot fill a batch of {max(sizes)}")
    samples: dict[tuple[str, int, str], list[tuple[float, float, float]]] = {}
    page_sizes: dict[tuple[str, int], tuple[int, int]] = {}
    for budget in budgets:
        pages = {name: render_pages(args.pdf, args.pages, embedder(name, budget, None)) for name in names}
        page_sizes.update({(name, budget): pages[name][0].size for name in names})
        for repeat in range(args.repeats):
            order = names[repeat % len(names) :] + names[: repeat % len(names)]
            for label, batch in batches.items():
                for name in order:
                    seconds = timed(embedder(name, budget, batch), pages[name])
                    samples.setdefault((name, budget, label), []).append(seconds)
                    print(
                        f"{budget} {label} repeat {repeat} {name}: {seconds[0]:.2f} s/page, "
                        f"{seconds[2]:.2f} CPU s/page",
                        flush=True,
                    )

    rows = []
    for budget in budgets:
        for label in batches:
            reference = samples[(names[0], budget, label)]
            for name in names:
                runs = samples[(name, budget, label)]
                spec = full_size_model(name)
                width, height = page_sizes[(name, budget)]
                cell = spec.family.geometry.cell_px
                median = statistics.median(total for total, _, _ in runs)
                cpu_median = statistics.median(cpu for _, _, cpu in runs)
                rows.append(
                    {
                        "model": name,
                        "stands_for": spec.stands_for,
                        "parameters": spec.parameters,
                        "cell_px": spec.family.geometry.cell_px,
                        "visual_tokens": budget,
                        "first_page_px": [width, height],
                        "first_page_cells": (width // cell) * (height // cell),
                        "batch": label,
                        "s_per_page_median": round(median, 3),
                        "model_only_s_per_page_median": round(statistics.median(m for _, m, _ in runs), 3),
                        "cpu_s_per_page_median": round(cpu_median, 3),
                        "s_per_page_runs": [round(total, 3) for total, _, _ in runs],
                        "cpu_s_per_page_runs": [round(cpu, 3) for _, _, cpu in runs],
                        "ratio_to_reference": round(
                            median / statistics.median(t for t, _, _ in reference), 3
                        ),
                        "cpu_ratio_to_reference": round(
                            cpu_median / statistics.median(c for _, _, c in reference), 3
                        ),
                        "median_paired_ratio": round(
                            statistics.median(a[0] / b[0] for a, b in zip(runs, reference, strict=True)), 3
                        ),
                    }
                )
    figures = {
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "reference_model": names[0],
        "pdf": args.pdf.name,
        "pages": args.pages,
        "repeats": args.repeats,
        **kernels(),
        "rss_mb_after_building": rss_after_build,
        "peak_rss_mb": round(peak_rss_mb()),
        "rows": rows,
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
