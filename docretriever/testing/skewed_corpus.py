"""A skewed search benchmark corpus: real PDFs embedded by the tiny random-weight model.

The random-weight model makes every page look alike (skewed codes, long inverted lists), the
case where a first stage tuned on the synthetic corpus loses recall. The pages are the real
PDFs of ``../shared/corpus`` (``sample-files``, and ``qpdf-malformed`` where they open), each
page drawn several ways to reach 10,000+ distinct pages: at different visual-token budgets,
rotated by a quarter turn or more, and cropped to a part of the page (margins trimmed, a half
or a quadrant). Every variant is still a real page, rendered and embedded as the product does
(:func:`~docretriever.documents.render.render_page`, then ``embed_pages``). Variant ``v`` of a
page depends only on ``v``; a library built once is reused by later runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from docretriever.documents.pdf import PageInfo, mupdf
from docretriever.documents.render import render_page
from docretriever.embedding.base import Embedder, PageEmbedding, QueryEmbedding

if TYPE_CHECKING:
    from PIL import Image

    from docretriever.library.local import LocalLibrary

PAGES_PER_DOCUMENT = 20
BUDGETS = (64, 96, 128, 192, 256, 384, 512, 768)  # visual tokens; cycled fastest
ROTATIONS = (0, 90, 180, 270)
# Crop boxes as (left, top, right, bottom) fractions of the page.
CROPS = (
    (0.0, 0.0, 1.0, 1.0),
    (0.06, 0.06, 0.94, 0.94),
    (0.0, 0.0, 1.0, 0.5),
    (0.0, 0.5, 1.0, 1.0),
    (0.0, 0.0, 0.5, 0.5),
    (0.5, 0.5, 1.0, 1.0),
)
QUERIES = (
    "topology",
    "a form with fields",
    "arabic text",
    "a photograph",
    "a table",
    "the table of contents",
    "definition of a compact space",
    "theorem and proof",
    "homotopy equivalence",
    "lecture notes chapter 3",
    "an invoice total",
    "page number in the footer",
    "a bar chart",
    "hello world",
    "name and address",
    "date of birth",
    "signature line",
    "a scanned image",
    "the bibliography",
    "figure caption",
    "a list of references",
    "continuous function",
    "the fundamental group",
    "a title page",
    "an empty page",
    "rotated text",
    "a blue heading",
    "two columns of text",
    "a footnote",
    "the abstract",
    "exercise solutions",
    "a diagram with arrows",
    "checkbox options",
    "password protected document",
    "lorem ipsum dolor sit amet",
    "a formula with integrals",
    "the index at the end",
    "a map",
    "outline and bookmarks",
    "a logo in the corner",
    "metric space",
    "open and closed sets",
    "a numbered list",
    "pdf producer libreoffice",
    "an image of a cat",
    "quarterly report revenue",
    "contact information",
    "the conclusion",
    "greek letters",
    "german text",
)


def corpus_pdfs(root: Path) -> list[Path]:
    """The PDFs of ``root``'s sample-files and qpdf-malformed folders, in a fixed order."""
    return sorted(p for folder in ("sample-files", "qpdf-malformed") for p in (root / folder).rglob("*.pdf"))


_VARIANTS = [(b, r, c) for b in BUDGETS for r in ROTATIONS for c in CROPS]
random.Random(0).shuffle(_VARIANTS)  # any prefix mixes budgets, rotations and crops


def _variant(number: int) -> tuple[int, int, tuple[float, float, float, float]]:
    return _VARIANTS[number % len(_VARIANTS)]


def _rendered_variants(
    root: Path, variants: int, embedder_for: dict[int, Embedder]
) -> Iterator[tuple[str, Image.Image, PageInfo]]:
    """(label, image, page info) for every page of every PDF that opens, ``variants`` ways each:
    variant-major, so that any prefix mixes every document. A variant of budget b is rendered at
    ``embedder_for[b]``'s render size."""
    documents = []
    for path in corpus_pdfs(root):
        try:
            opened = mupdf().open(path, filetype="pdf")
            if opened.needs_pass or opened.page_count == 0:
                continue
        except Exception:  # damaged beyond MuPDF's repair
            continue
        documents.append((path, opened))
    for number in range(variants):
        budget, rotation, (left, top, right, bottom) = _variant(number)
        for path, opened in documents:
            for index in range(opened.page_count):
                try:
                    page = opened.load_page(index)
                    box, turned = page.cropbox, page.rotation
                except Exception:  # a damaged page: leave it out
                    continue
                width, height = box.width, box.height
                try:
                    page.set_cropbox(
                        mupdf().Rect(
                            box.x0 + left * width,
                            box.y0 + top * height,
                            box.x0 + right * width,
                            box.y0 + bottom * height,
                        )
                    )
                    page.set_rotation((turned + rotation) % 360)
                    shown = page.rect  # the variant as displayed
                    whole = PageInfo(index, float(shown.width), float(shown.height), 0)
                    size = embedder_for[budget].render_size(whole.width_pt, whole.height_pt)
                    rendered = render_page(path, opened, whole, size)
                except Exception:  # a crop MuPDF refuses, or a page it cannot render: leave it out
                    continue
                finally:  # the page's own box and turn, for its next variant
                    with contextlib.suppress(Exception):
                        page.set_rotation(turned)
                        page.set_cropbox(box)
                info = PageInfo(index, rendered.width_pt, rendered.height_pt, 0)
                yield f"{path.name}#{index}@{number}", rendered.image, info


def skewed_library(
    folder: str | os.PathLike[str],
    embedder_for: dict[int, Embedder],
    pages: int,
    *,
    root: Path,
    progress: bool = True,
) -> LocalLibrary:
    """A local library in ``folder`` of the first ``pages`` page variants of the PDFs under
    ``root``, each embedded by ``embedder_for[budget]`` (one embedder per visual-token budget of
    ``BUDGETS``, all the same model). Documents of ``PAGES_PER_DOCUMENT`` pages already stored
    by an earlier call are kept."""
    from docretriever.library.local import LocalLibrary

    library = LocalLibrary(folder, embedder=embedder_for[BUDGETS[-1]])
    have = len(library.indexed_pages()) // PAGES_PER_DOCUMENT * PAGES_PER_DOCUMENT
    batch: list[tuple[str, Image.Image, PageInfo]] = []
    stored = 0
    for item in _rendered_variants(root, len(_VARIANTS), embedder_for):
        if stored >= pages:
            break
        batch.append(item)
        if len(batch) < PAGES_PER_DOCUMENT and stored + len(batch) < pages:
            continue
        if stored >= have:
            _store(library, embedder_for, batch, stored)
            if progress and stored % 1000 < PAGES_PER_DOCUMENT:
                print(f"  skewed corpus: {stored + len(batch)}/{pages} pages", flush=True)
        stored += len(batch)
        batch = []
    library.candidates.save()
    return library


def _store(
    library: LocalLibrary,
    embedder_for: dict[int, Embedder],
    batch: list[tuple[str, Image.Image, PageInfo]],
    first: int,
) -> None:
    embeddings: dict[int, PageEmbedding] = {}
    budgets = [_variant(int(label.rsplit("@", 1)[1]))[0] for label, _, _ in batch]
    for budget in set(budgets):  # one batch per budget: a variant's pages share one
        numbers = [n for n, b in enumerate(budgets) if b == budget]
        images = [batch[n][1] for n in numbers]
        embeddings |= dict(zip(numbers, embedder_for[budget].embed_pages(images), strict=True))
    embedded = [
        (PageInfo(n, info.width_pt, info.height_pt, 0), embeddings[n]) for n, (_, _, info) in enumerate(batch)
    ]
    sha = hashlib.sha256(f"skewed-{first}".encode()).hexdigest()
    library.add_embedded_pages(sha, f"skewed/{first // PAGES_PER_DOCUMENT}.pdf", embedded, save_index=False)


def skewed_queries(embedder: Embedder, count: int) -> list[QueryEmbedding]:
    """``count`` text queries (plausible searches of this corpus, cycled), embedded as a user's."""
    texts = [QUERIES[i % len(QUERIES)] for i in range(count)]
    return embedder.embed_queries(texts)
