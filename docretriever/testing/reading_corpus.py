"""A search benchmark corpus of learned embeddings: generated pages embedded by the reading model.

Unlike the synthetic corpus (:mod:`docretriever.testing.synthetic`), whose queries are noisy
copies of stored vectors, these pages and queries come out of a trained ColQwen2: page cells
from the vision tower, queries from text tokens ("Query: " + one to three words of a page),
so the modality gap between them is the real one. Page ``i`` depends only on ``(seed, i)``;
a library built once is reused by later runs (pages already stored are not embedded again).
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from docretriever.documents import PageInfo
from docretriever.embedding.base import Embedder, QueryEmbedding
from docretriever.testing.reading_pages import make_page, render_reading_page

if TYPE_CHECKING:
    from docretriever.library.local import LocalLibrary

PAGES_PER_DOCUMENT = 20
CORPUS_SEED = 5000  # apart from training (1), its monitor (1000) and the tests (2000)


def _render(job: tuple[int, int, int]) -> tuple[np.ndarray, float, float, int, list[str]]:
    seed, index, budget = job
    page = make_page(seed, index)
    image = render_reading_page(page, budget)
    return np.asarray(image), page.width_pt, page.height_pt, page.rotation, [w.text for w in page.words]


def reading_library(
    folder: str | os.PathLike[str],
    embedder: Embedder,
    pages: int,
    *,
    seed: int = CORPUS_SEED,
    visual_tokens: int = 128,
    workers: int = 2,
    progress: bool = True,
) -> tuple[LocalLibrary, list[list[str]]]:
    """A local library in ``folder`` of generated pages ``0 .. pages-1`` of ``seed``, embedded
    by ``embedder`` (the reading model) at ``visual_tokens`` cells per page; returns it and each
    page's words (in page order). Pages already stored by an earlier call are kept."""
    from docretriever.library.local import LocalLibrary

    library = LocalLibrary(folder, embedder=embedder)
    have = len(library.indexed_pages()) // PAGES_PER_DOCUMENT * PAGES_PER_DOCUMENT
    words: list[list[str]] = [[w.text for w in make_page(seed, i).words] for i in range(have)]
    with ProcessPoolExecutor(workers) as pool:
        for first in range(have, pages, PAGES_PER_DOCUMENT):
            numbers = range(first, min(first + PAGES_PER_DOCUMENT, pages))
            rendered = list(pool.map(_render, [(seed, n, visual_tokens) for n in numbers]))
            from PIL import Image

            embeddings = embedder.embed_pages([Image.fromarray(r[0]) for r in rendered])
            embedded = [
                (PageInfo(n - first, r[1], r[2], r[3]), e)
                for n, r, e in zip(numbers, rendered, embeddings, strict=True)
            ]
            sha = hashlib.sha256(f"reading-{seed}-{visual_tokens}-{first}".encode()).hexdigest()
            library.add_embedded_pages(
                sha, f"reading/{first // PAGES_PER_DOCUMENT}.pdf", embedded, save_index=False
            )
            words.extend(r[4] for r in rendered)
            if progress and first % 1000 == 0:
                print(f"  reading corpus: {first + len(numbers)}/{pages} pages", flush=True)
    library.candidates.save()
    return library, words


def reading_queries(
    embedder: Embedder, words: Sequence[Sequence[str]], count: int, seed: int = 0
) -> list[QueryEmbedding]:
    """``count`` text queries of one to three words, each taken from one random page of
    ``words`` (page i's words), embedded by ``embedder`` as a user's query would be."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        page_words = list(dict.fromkeys(words[rng.randrange(len(words))]))
        texts.append(" ".join(rng.sample(page_words, min(len(page_words), rng.choice((1, 2, 3))))))
    return embedder.embed_queries(texts)
