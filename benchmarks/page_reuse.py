"""What reusing unchanged pages' vectors saves: re-indexing a file after a metadata-only
incremental save, with reuse off and on, side by side in one run (tiny model, CPU).

    uv run python benchmarks/page_reuse.py [PDF]

The default PDF is the 117-page GeoTopo file of the sample corpus (../shared/corpus).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pymupdf

from docretriever.embedding import ModelSpec, load_embedder
from docretriever.library.ingest import add_paths
from docretriever.library.local import LocalLibrary
from docretriever.progress import CancelToken, ignore_progress
from docretriever.testing.tiny_model import build_tiny_model

DEFAULT = (
    Path(__file__).resolve().parents[2]
    / "shared/corpus/sample-files/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"
)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    scratch = Path(tempfile.mkdtemp())
    embedder = load_embedder(ModelSpec(str(build_tiny_model(scratch / "tiny")), device="cpu"))
    for reuse in (False, True):
        folder = scratch / f"files-{reuse}"
        folder.mkdir()
        path = Path(shutil.copy(source, folder / "filing.pdf"))
        library = LocalLibrary(scratch / f"library-{reuse}", embedder=embedder)
        library.add([folder])
        with pymupdf.open(path) as document:  # a metadata-only incremental save
            document.set_metadata({**document.metadata, "title": "Amended"})
            document.saveIncr()
        started = time.perf_counter()
        with library.writer:
            report = add_paths(library, [folder], ignore_progress, CancelToken(), reuse=reuse)
        seconds = time.perf_counter() - started
        library.close()
        print(
            f"reuse {'on ' if reuse else 'off'}: re-indexed in {seconds:.1f} s, "
            f"{report.pages_embedded} pages embedded, {report.pages_reused} reused"
        )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
