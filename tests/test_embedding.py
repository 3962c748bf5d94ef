"""The ColQwen2 backend on the tiny random-weight model: the real loading and embedding path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SAMPLES, corpus_or_skip

from docretriever.documents import open_pdf, read_page_infos, render_page
from docretriever.embedding.families import COLQWEN2
from docretriever.embedding.model_files import locate_model
from docretriever.errors import ModelError
from docretriever.testing.tiny_model import build_tiny_model


def rendered_pages(embedder, relative: str, count: int = 2) -> list:
    path = corpus_or_skip(SAMPLES) / relative
    with open_pdf(path) as document:
        return [
            render_page(path, document, p, embedder.render_size(p.width_pt, p.height_pt))
            for p in read_page_infos(document)[:count]
        ]


def test_page_rows_are_the_rendered_cells_then_the_prompt(tiny_embedder) -> None:
    pages = rendered_pages(tiny_embedder, "015-arabic/habibi-rotated.pdf", 1)
    pages += rendered_pages(tiny_embedder, "001-trivial/minimal-document.pdf", 1)
    embeddings = tiny_embedder.embed_pages([p.image for p in pages])
    for page, embedding in zip(pages, embeddings, strict=True):
        width, height = page.image.size
        # Rendered at the budget, the processor does not resize: one cell per 28 x 28 px.
        assert embedding.grid == (width // 28, height // 28)
        prompt_rows = len(embedding.vectors) - embedding.n_cells
        assert 0 < prompt_rows < 20
        norms = np.linalg.norm(embedding.vectors, axis=1)
        np.testing.assert_allclose(norms, 1.0, rtol=1e-4)
        assert embedding.vectors.dtype == np.float32 and embedding.vectors.shape[1] == 128
    # The rotated page is displayed landscape: more cells across than down.
    assert embeddings[0].grid[0] > embeddings[0].grid[1]


def test_rows_follow_the_page_row_major(tiny_embedder) -> None:
    """Paint one spot on a blank page: the rows that change most are that spot's cells."""
    from PIL import Image, ImageDraw

    blank = Image.new("RGB", (644, 924), "white")  # 23 x 33 cells
    spots = {(17, 4), (3, 29)}
    changed_cells = []
    for x, y in spots:
        painted = blank.copy()
        ImageDraw.Draw(painted).rectangle((x * 28 + 4, y * 28 + 4, x * 28 + 23, y * 28 + 23), fill="black")
        before, after = tiny_embedder.embed_pages([blank, painted])
        assert before.grid == after.grid == (23, 33)
        change = np.linalg.norm(after.vectors[: after.n_cells] - before.vectors[: before.n_cells], axis=1)
        row = int(np.argmax(change))
        changed_cells.append((row % 23, row // 23))
    assert set(changed_cells) == spots


def test_a_page_embeds_the_same_alone_and_in_a_padded_batch(tiny_embedder) -> None:
    pages = rendered_pages(tiny_embedder, "015-arabic/habibi-rotated.pdf", 1)
    pages += rendered_pages(tiny_embedder, "022-pdfkit/pdfkit.pdf", 1)
    together = tiny_embedder.embed_pages([p.image for p in pages])
    alone = [tiny_embedder.embed_pages([p.image])[0] for p in pages]
    for batched, single in zip(together, alone, strict=True):
        assert batched.grid == single.grid
        np.testing.assert_allclose(batched.vectors, single.vectors, atol=1e-4)


def test_queries_carry_the_training_prefix_and_mark_the_words(tiny_embedder) -> None:
    query = tiny_embedder.embed_queries(["where is the map"])[0]
    text = "".join(query.tokens)
    assert text.startswith(COLQWEN2.query_prefix + "where is the map")
    assert text.endswith("<|endoftext|>" * 10)
    words = "".join(t for t, w in zip(query.tokens, query.is_word, strict=True) if w)
    assert words.strip() == "where is the map"
    assert not query.is_word[-10:].any()
    assert query.vectors.shape == (len(query.tokens), 128)


def test_fingerprint_follows_the_weights_not_the_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "moved"
    shutil.copytree(tiny_model_dir, copy)
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert locate_model(str(copy)).fingerprint() == locate_model(str(tiny_model_dir)).fingerprint()
    assert locate_model(str(other)).fingerprint() != locate_model(str(tiny_model_dir)).fingerprint()


def test_missing_models_give_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match="does not exist"):
        locate_model(str(tmp_path / "no" / "such" / "folder"))
    # conftest sets HF_HUB_OFFLINE=1: the message names that setting...
    with pytest.raises(ModelError, match=r"offline mode is on \(HF_HUB_OFFLINE\): unset"):
        locate_model("vidore/colqwen2-v1.0")
    # ...and a caller that forbids downloads (the app, outside its set-up dialog) says how to set up.
    with pytest.raises(ModelError, match=r"not on this computer yet\. Set it up first"):
        locate_model("vidore/colqwen2-v1.0", offline=True)
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(ModelError, match="not a model folder"):
        locate_model(str(tmp_path / "not-a-model"))


def test_batch_size_follows_free_gpu_memory() -> None:
    from docretriever.embedding.colqwen import MAX_BATCH, batch_size_for_memory

    gib = 1 << 30
    sizes = [batch_size_for_memory(free * gib, 768) for free in (0, 1, 4, 16, 80)]
    assert sizes[0] == 1 and sizes[-1] == MAX_BATCH
    assert sizes == sorted(sizes) and len(set(sizes)) >= 4  # more memory, bigger batches
    assert batch_size_for_memory(4 * gib, 256) > batch_size_for_memory(4 * gib, 768)  # smaller pages


def test_prepared_pages_embed_exactly_as_plain_images(tiny_embedder) -> None:
    # Same-size pages take the one-copy path, mixed sizes colpali-engine's padding path.
    same = rendered_pages(tiny_embedder, "004-pdflatex-4-pages/pdflatex-4-pages.pdf", 3)
    mixed = same[:1] + rendered_pages(tiny_embedder, "015-arabic/habibi-rotated.pdf", 1)
    for pages in (same, mixed):
        images = [p.image for p in pages]
        prepared = tiny_embedder.prepare_pages(images)
        assert len(prepared) == len(images)
        reference = tiny_embedder._processor.process_images(images)  # colpali-engine's own
        (batch,) = prepared.batches
        assert set(batch.keys()) == set(reference.keys())
        for key in reference:
            assert torch.equal(batch[key], reference[key]), key
        for a, b in zip(tiny_embedder.embed_pages(prepared), tiny_embedder.embed_pages(images), strict=True):
            assert a.grid == b.grid
            np.testing.assert_array_equal(a.vectors, b.vectors)


def test_the_random_full_size_architecture_has_colqwen2s_parameter_count() -> None:
    from docretriever.testing.full_size_model import FULL_SIZE_PARAMETERS, build_full_size_model

    model, processor = build_full_size_model("meta")  # shapes only: no memory, no compute
    assert sum(p.numel() for p in model.parameters()) == FULL_SIZE_PARAMETERS == 2_209_182_336
    assert model.config.image_token_id == processor.image_token_id
