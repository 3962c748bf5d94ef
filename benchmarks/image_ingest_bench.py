"""Ingest speed of a folder of page images against the same pages as one PDF, side by side.

    uv run python benchmarks/image_ingest_bench.py --model /tmp/tiny --json
    uv run python benchmarks/image_ingest_bench.py --tiny --pages 200 --repeats 3 --json

Makes ``--pages`` page scans (at most the pages the corpus opens: 164 in sample-files) by
rendering the corpus PDFs' pages at ``--dpi`` (default 150, a common scanner setting), saved
alternately as JPEG (quality 90) and PNG, every fifth JPEG as a phone stores a sideways photo
(pixels turned, EXIF orientation 6); then the same pages, in the same order, as one PDF (copied
from their sources, not from the images), and as one-page PDFs (the per-file cost apart from
the format's: an image is a document of its own). Each run is ``add`` into a fresh local
library, the model loaded beforehand and not counted; the three alternate, ``--repeats`` times,
and the medians are reported (pages indexed per second, and seconds). Pages indexed count those
that reuse an identical stored page's vectors (the corpus repeats a few pages), reported apart;
identical image files are one document.
``--tiny`` builds the tiny random-weight test model (the pipeline's own cost, not a model's).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from docretriever.documents import find_documents
from docretriever.documents.pdf import mupdf
from docretriever.embedding import ModelSpec, load_embedder
from docretriever.library.local import LocalLibrary

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sample-files"


def make_pages(sources: list[Path], count: int, dpi: int, folder: Path) -> tuple[Path, Path, Path]:
    """At most ``count`` pages of ``sources`` as image files in ``folder / "images"``, as one
    PDF ``folder / "pages.pdf"`` and as one-page PDFs in ``folder / "one-page-pdfs"``; returns
    the three."""
    images = folder / "images"
    images.mkdir()
    singles = folder / "one-page-pdfs"
    singles.mkdir()
    pymupdf = mupdf()  # quiet: MuPDF's warnings about the corpus's odd files are not the figures
    combined = pymupdf.open()
    made = 0
    for source in sources:
        try:
            document = pymupdf.open(source, filetype="pdf")
        except Exception:
            continue
        with document:
            if document.needs_pass:
                continue
            for index in range(document.page_count):
                if made == count:
                    break
                pixmap = document[index].get_pixmap(dpi=dpi, alpha=False)
                image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
                name = images / f"scan-{made:04}"
                if made % 2:
                    image.save(name.with_suffix(".png"), dpi=(dpi, dpi))
                elif made % 10 == 0:  # sideways, as a phone stores it
                    exif = Image.Exif()
                    exif[0x0112] = 6
                    image.transpose(Image.Transpose.ROTATE_90).save(
                        name.with_suffix(".jpg"), quality=90, dpi=(dpi, dpi), exif=exif
                    )
                else:
                    image.save(name.with_suffix(".jpg"), quality=90, dpi=(dpi, dpi))
                combined.insert_pdf(document, from_page=index, to_page=index)
                with pymupdf.open() as single:
                    single.insert_pdf(document, from_page=index, to_page=index)
                    single.save(singles / f"page-{made:04}.pdf")
                made += 1
        if made == count:
            break
    pdf = folder / "pages.pdf"
    combined.save(pdf)
    combined.close()
    return images, pdf, singles


def ingest(paths: list[Path], embedder: object) -> tuple[int, int, float]:
    """Pages indexed (embedded, or reusing the vectors of an identical page already stored: the
    corpus repeats some pages), of those embedded, and seconds, of one ``add``."""
    with tempfile.TemporaryDirectory() as folder:
        library = LocalLibrary(folder, embedder=embedder)  # type: ignore[arg-type]
        started = time.perf_counter()
        report = library.add(paths)
        seconds = time.perf_counter() - started
        library.close()
    return report.pages_embedded + report.pages_reused, report.pages_embedded, seconds


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="model folder or Hub id")
    source.add_argument("--tiny", action="store_true", help="build and use the tiny random-weight test model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        model = args.model
        if args.tiny:
            from docretriever.testing.tiny_model import build_tiny_model

            model = str(build_tiny_model(folder / "tiny"))
        embedder = load_embedder(ModelSpec(model, args.device))
        images, pdf, singles = make_pages(find_documents([CORPUS]).files, args.pages, args.dpi, folder)
        runs: dict[str, list[tuple[int, int, float]]] = {"images": [], "pdf": [], "one_page_pdfs": []}
        for _ in range(args.repeats):
            runs["images"].append(ingest([images], embedder))
            runs["pdf"].append(ingest([pdf], embedder))
            runs["one_page_pdfs"].append(ingest([singles], embedder))
        image_bytes = sum(p.stat().st_size for p in images.iterdir())
        figures: dict[str, object] = {
            "pages_made": len(list(images.iterdir())),
            "pages_indexed": {kind: sorted({pages for pages, _, _ in done}) for kind, done in runs.items()},
            "of_which_embedded": {kind: sorted({e for _, e, _ in done}) for kind, done in runs.items()},
            "dpi": args.dpi,
            "repeats": args.repeats,
            "image_folder_mb": round(image_bytes / 1e6, 1),
            "pdf_mb": round(pdf.stat().st_size / 1e6, 1),
        }
        for kind, done in runs.items():
            figures[f"{kind}_median_s"] = round(statistics.median(s for _, _, s in done), 2)
            figures[f"{kind}_median_pages_per_s"] = round(statistics.median(p / s for p, _, s in done), 2)
            figures[f"{kind}_pages_per_s_each_run"] = [round(p / s, 2) for p, _, s in done]
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
