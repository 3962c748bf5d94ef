"""How well a model reads: recall@1 of key-word queries and where its highlights land.

Used by the retrieval tests (:mod:`tests.test_learned_retrieval`), by the training script's
manifest and by the negative controls, so that all three measure the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from docretriever.highlight.regions import Region
from docretriever.library.hits import Hit
from docretriever.testing.reading_pages import ReadingPage, WordBox

# The best region counts as on the word when its intersection over union with the word's box
# is at least this (the bar). A ColQwen2 cell is coarse next to a word, so a region that
# covers the word and one cell around it still passes; one a few cells away does not.
IOU_THRESHOLD = 0.3


@dataclass(frozen=True)
class ReadingQuality:
    """recall@1 over ``queries`` and, among the right top hits, the share whose best region
    overlaps the queried word's box with IoU >= :data:`IOU_THRESHOLD`."""

    queries: int
    recall_at_1: float
    iou_rate: float
    right_hits: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "queries": self.queries,
            "recall_at_1": round(self.recall_at_1, 4),
            "iou_rate": round(self.iou_rate, 4),
            "right_hits": self.right_hits,
        }


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0.0 when either is empty."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def region_on_word(region: Region | dict[str, float], boxes: Sequence[WordBox]) -> bool:
    """Whether ``region`` (a Region, or its JSON form, in points) overlaps one of ``boxes``."""
    if isinstance(region, Region):
        box = (region.x0, region.y0, region.x1, region.y1)
    else:
        box = (region["x0"], region["y0"], region["x1"], region["y1"])
    return any(box_iou(box, (w.x0, w.y0, w.x1, w.y1)) >= IOU_THRESHOLD for w in boxes)


def measure(
    pairs: Sequence[tuple[ReadingPage, str]],
    top_hit: Callable[[str], tuple[int, list[Region] | list[dict[str, float]]] | None],
) -> ReadingQuality:
    """Quality of ``top_hit`` over ``pairs`` (page i of the list is page i+1 of the library).

    ``top_hit(word)`` returns the 1-based page of the best hit and its regions (best first),
    or None when nothing was found.
    """
    right = on_word = 0
    for number, (page, word) in enumerate(pairs, start=1):
        found = top_hit(word)
        if found is None or found[0] != number:
            continue
        right += 1
        regions = found[1]
        if regions and region_on_word(regions[0], page.boxes_of(word)):
            on_word += 1
    return ReadingQuality(len(pairs), right / len(pairs), on_word / right if right else 0.0, right)


def hit_answer(hits: Sequence[Hit]) -> tuple[int, list[Region]] | None:
    """What :func:`measure` wants from a library search's hits."""
    return (hits[0].page, hits[0].regions()) if hits else None


def scrambled_rows(hit: Hit) -> Hit:
    """``hit`` with its cells read in column-major order: the class of bug where a grid is
    transposed or its rows are stored in the wrong order (a negative control)."""
    from dataclasses import replace

    n_tokens, n_y, n_x = hit.similarity.shape
    flat = hit.similarity.reshape(n_tokens, -1)
    wrong = flat.reshape(n_tokens, n_x, n_y).transpose(0, 2, 1)
    return replace(hit, similarity=np.ascontiguousarray(wrong))


def measure_library(
    model_dir: str, pairs: Sequence[tuple[ReadingPage, str]], visual_tokens: int, folder: str
) -> dict[str, object]:
    """Index ``pairs``' pages with the model at ``model_dir`` in a new library in ``folder``
    (through the product's ingest and search) and measure recall@1 and the IoU rate, over all
    pages and for upright and rotated pages apart."""
    from pathlib import Path

    from docretriever.embedding import ModelSpec
    from docretriever.library import open_library
    from docretriever.testing.reading_pages import write_pdf

    pdf = write_pdf([page for page, _ in pairs], Path(folder) / "held-out.pdf")
    library = open_library(
        Path(folder) / "lib", ModelSpec(model_dir, device="cpu", visual_tokens=visual_tokens)
    )
    try:
        library.add([pdf])
        answers = {word: hit_answer(library.search(word, k=1)) for _, word in pairs}
    finally:
        library.close()
    number = {word: n for n, (_, word) in enumerate(pairs, start=1)}
    figures: dict[str, object] = {"visual_tokens": visual_tokens}
    for name, chosen in (
        ("all", list(pairs)),
        ("upright", [p for p in pairs if p[0].rotation == 0]),
        ("rotated", [p for p in pairs if p[0].rotation != 0]),
    ):
        words = [w for _, w in chosen]

        def renumbered(word: str, words: list[str] = words) -> tuple[int, list[Region]] | None:
            found = answers[word]
            if found is None or found[0] != number[word]:
                return None
            return words.index(word) + 1, found[1]

        figures[name] = measure(chosen, renumbered).as_dict()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Measure a reading model on held-out pages and write its manifest.json (see the module)."""
    import argparse
    import hashlib
    import json
    import tempfile
    from pathlib import Path

    from docretriever.testing.reading_pages import GENERATOR_VERSION, held_out_set

    parser = argparse.ArgumentParser(prog="python -m docretriever.testing.reading_eval")
    parser.add_argument("model", type=Path, help="the model folder (models/tiny-reader)")
    parser.add_argument("--seed", type=int, default=2000, help="held-out generator seed (the tests': 2000)")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--budgets", type=int, nargs="+", default=[128, 192])
    args = parser.parse_args(argv)
    pairs = held_out_set(args.seed, args.pages, rotations=(0, 90, 0, 180, 0, 270))
    results = []
    for budget in args.budgets:
        with tempfile.TemporaryDirectory() as folder:
            results.append(measure_library(str(args.model), pairs, budget, folder))
            print(json.dumps(results[-1]), flush=True)
    training_file = args.model / "training.json"
    manifest = {
        "what": "a tiny ColQwen2 trained to read generated pages: for tests only, never for real search",
        "weights_sha256": hashlib.sha256((args.model / "model.safetensors").read_bytes()).hexdigest(),
        "generator_version": GENERATOR_VERSION,
        "held_out": {
            "seed": args.seed,
            "pages": args.pages,
            "rotations": "half upright; /Rotate 90, 180, 270 in turn on the other half",
            "chance_recall_at_1": round(1 / args.pages, 4),
            "iou_threshold": IOU_THRESHOLD,
            "measured": results,
        },
        "training": json.loads(training_file.read_text()) if training_file.exists() else None,
    }
    (args.model / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
