"""Every model family end to end on tiny random-weight checkpoints built with its real structure:
rows map to the page cells they come from, the budget is honoured, the row width is the family's
(320 for ColQwen3 and ColQwen3.5) on both back ends, and a library refuses another family."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, corpus_or_skip
from PIL import Image, ImageDraw

from docretriever.cli import main
from docretriever.embedding import ModelSpec, load_embedder, model_family, model_geometry
from docretriever.embedding.families import (
    COLMODERNVBERT,
    COLQWEN2,
    COLQWEN2_5,
    COLQWEN3,
    COLQWEN3_5,
    family_named,
)
from docretriever.embedding.geometry import TiledGeometry
from docretriever.errors import InvalidInputError, ModelError, ModelMismatchError
from docretriever.library.local import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary
from docretriever.testing.tiny_families import build_tiny_family_model
from docretriever.testing.tiny_model import build_tiny_model

FAMILIES = [COLQWEN2, COLQWEN2_5, COLQWEN3, COLQWEN3_5]
# Every family end to end through the CLI: the ColQwen ones and the tiled ColModernVBert (its own
# row tests are in test_tiled_family.py).
ALL_FAMILIES = [*FAMILIES, COLMODERNVBERT]
PDF = "004-pdflatex-4-pages/pdflatex-4-pages.pdf"


@pytest.fixture(scope="session")
def family_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    folders = {COLQWEN2.name: build_tiny_model(root / "colqwen2")}
    for family in ALL_FAMILIES[1:]:
        folders[family.name] = build_tiny_family_model(root / family.name.lower(), family)
    folders["ColQwen3.5 without dim"] = build_tiny_family_model(
        root / "colqwen3.5-no-dim", COLQWEN3_5, dim_in_config=False
    )
    return folders


def lined_page(size: tuple[int, int]) -> Image.Image:
    """A white page image of ``size`` with grey text-like lines every 12 px."""
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    for y in range(0, size[1], 12):
        draw.line([(0, y), (size[0], y)], fill=(190, 190, 190))
    return page


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
def test_each_row_comes_from_its_own_cell(family_models: dict[str, Path], family) -> None:
    embedder = load_embedder(ModelSpec(str(family_models[family.name]), device="cpu", visual_tokens=300))
    assert embedder.geometry is family.geometry and embedder.identity.family == family.name
    assert embedder.identity.dim == family.row_dim
    size = embedder.render_size(612, 792)  # a letter page
    cell = family.geometry.cell_px
    assert size[0] % cell == 0 and size[1] % cell == 0 and size[0] * size[1] <= 300 * cell * cell
    page = lined_page(size)
    [plain] = embedder.embed_pages([page])
    n_x, n_y = plain.grid
    # The processor kept the image as rendered: one row per cell of the family's size.
    assert (n_x, n_y) == (size[0] // cell, size[1] // cell) and n_x != n_y
    assert plain.vectors.shape[1] == family.row_dim
    assert np.allclose(np.linalg.norm(plain.vectors, axis=1), 1, atol=1e-4)
    for x, y in [(1, 2), (n_x - 2, 3), (4, n_y - 1)]:
        marked = page.copy()
        ImageDraw.Draw(marked).rectangle(
            [x * cell, y * cell, (x + 1) * cell - 1, (y + 1) * cell - 1], fill="black"
        )
        [changed] = embedder.embed_pages([marked])
        moved = np.linalg.norm(changed.cells() - plain.cells(), axis=1)
        assert int(np.argmax(moved)) == y * n_x + x, (family.name, x, y)
        # Negative control: a column-major reading of the rows would name another cell.
        assert x * n_y + y != y * n_x + x


@pytest.mark.parametrize("family", [COLQWEN2, COLQWEN3_5, COLMODERNVBERT], ids=lambda family: family.name)
def test_the_budget_is_honoured_and_checked_against_the_family(
    family_models: dict[str, Path], family
) -> None:
    folder = str(family_models[family.name])
    assert model_family(folder) is family
    assert model_geometry(ModelSpec(folder)) is family.geometry
    for budget in (family.geometry.min_cells, 200, 1000):
        embedder = load_embedder(ModelSpec(folder, device="cpu", visual_tokens=budget))
        for width, height in [(612, 792), (842, 595), (300, 2000)]:
            [page] = embedder.embed_pages([lined_page(embedder.render_size(width, height))])
            assert family.geometry.min_cells <= page.n_cells <= max(budget, family.geometry.min_cells)
    with pytest.raises(InvalidInputError, match=f"most {family.name} takes"):
        ModelSpec(folder, visual_tokens=family.geometry.max_cells + 1)


def test_a_checkpoint_that_does_not_state_its_row_width_loads_at_the_width_of_its_weights(
    family_models: dict[str, Path],
) -> None:
    folder = family_models["ColQwen3.5 without dim"]
    assert "dim" not in json.loads((folder / "config.json").read_text())
    embedder = load_embedder(ModelSpec(str(folder), device="cpu"))
    assert embedder.identity.dim == 320
    # Negative control: colpali-engine's class on its own would build 128-wide rows and refuse them.
    from docretriever.embedding.checkpoint_loading import load_checkpoint
    from docretriever.embedding.model_files import locate_model

    with pytest.raises(ModelError):
        import colpali_engine.models
        import torch

        load_checkpoint(colpali_engine.models.ColQwen3_5, locate_model(str(folder)), torch.float32)


def test_catalogue_models_are_known_by_family_before_download() -> None:
    assert model_family("vultr/VultronRetrieverFlash-Qwen3.5-0.8B@main") is COLQWEN3_5
    assert model_family("vidore/colqwen2.5-v0.2") is COLQWEN2_5
    assert model_family("ModernVBERT/colmodernvbert") is COLMODERNVBERT
    assert model_family("someone/not-listed-and-not-here") is None
    assert family_named("ColQwen3") is COLQWEN3
    with pytest.raises(ModelError, match="update DocRetriever"):
        family_named("ColFuture9")
    # 32-px cells: the 0.8B model takes no fewer than 64 per page.
    with pytest.raises(InvalidInputError, match="at least 64"):
        ModelSpec("vultr/VultronRetrieverFlash-Qwen3.5-0.8B", visual_tokens=32)
    assert ModelSpec("vidore/colqwen2-v1.0", visual_tokens=32).visual_tokens == 32


@pytest.mark.parametrize("family", ALL_FAMILIES, ids=lambda family: family.name)
def test_add_and_search_from_the_command_line(
    tmp_path: Path, family_models: dict[str, Path], family, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = corpus_or_skip(SAMPLES) / PDF
    model = str(family_models[family.name])
    library = str(tmp_path / "library")
    assert main(["--library", library, "--model", model, "--visual-tokens", "256", "add", str(pdf)]) == 0
    capsys.readouterr()
    assert (
        main(["--library", library, "--model", model, "search", "a page of text", "--json", "-k", "2"]) == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2
    for hit in hits:
        n_x, n_y = hit["grid"]
        expected = family.geometry.render_size(hit["page_width"], hit["page_height"], 256)
        assert (n_x, n_y) == (expected[0] // family.geometry.cell_px, expected[1] // family.geometry.cell_px)
        if isinstance(family.geometry, TiledGeometry):  # whole 512-px tiles of 8 x 8 cells
            assert n_x % family.geometry.cells_per_side == 0 and n_y % family.geometry.cells_per_side == 0
        column, row = hit["page_width"] / n_x, hit["page_height"] / n_y
        assert hit["regions"]
        for region in hit["regions"]:  # on the family's cell lines (boxes and sizes rounded to 0.01 pt)
            for edge, step in ((region["x0"], column), (region["x1"], column), (region["y0"], row)):
                assert abs(edge - round(edge / step) * step) <= 0.02
    info = LocalLibrary(tmp_path / "library").identity()
    assert info is not None and info.family == family.name and info.dim == family.row_dim
    # The library remembers its model: a search that names none uses it, not the default model.
    assert main(["--library", library, "search", "a page of text", "--json", "-k", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == hits


@pytest.mark.parametrize(
    ("own", "other"), [(COLQWEN2, COLQWEN3_5), (COLMODERNVBERT, COLQWEN2)], ids=lambda family: family.name
)
def test_a_library_refuses_a_model_of_another_family(
    tmp_path: Path, family_models: dict[str, Path], own, other, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = corpus_or_skip(SAMPLES) / PDF
    spec = ModelSpec(str(family_models[own.name]), device="cpu", visual_tokens=128)
    LocalLibrary(tmp_path / "library", model=spec).add([pdf])
    other_library = LocalLibrary(
        tmp_path / "library", model=ModelSpec(str(family_models[other.name]), device="cpu")
    )
    with pytest.raises(
        ModelMismatchError, match=re.escape(f"a {own.name} model, not with a {other.name} model")
    ):
        other_library.search("a page of text")
    # Refused before the other model is loaded (an 8 B model would take minutes and 34 GB first).
    import docretriever.library.embedding_library as library_base

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the other family's model was loaded before the refusal")

    monkeypatch.setattr(library_base, "load_embedder", no_loading)
    late = LocalLibrary(tmp_path / "library", model=ModelSpec(str(family_models[other.name]), device="cpu"))
    with pytest.raises(ModelMismatchError, match=re.escape(f"{other.name} model")):
        late.search("a page of text")
    monkeypatch.undo()
    # The library is untouched and still searchable with its own model.
    again = LocalLibrary(tmp_path / "library", model=spec)
    assert again.search("a page of text", k=1) and again.geometry is own.geometry


def test_rows_of_320_go_through_qdrant_as_they_do_locally(
    tmp_path: Path, family_models: dict[str, Path]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(corpus_or_skip(SAMPLES) / PDF, folder)
    embedder = load_embedder(ModelSpec(str(family_models[COLQWEN3_5.name]), device="cpu", visual_tokens=128))
    local = LocalLibrary(tmp_path / "local", embedder=embedder)
    local.add([folder])
    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=embedder)
    remote.add([folder])
    assert remote.identity() is not None and remote.identity().dim == 320  # type: ignore[union-attr]
    assert remote.identity().family == COLQWEN3_5.name  # type: ignore[union-attr]
    expected = local.search("a page of text", k=4, exact=True)
    for exact in (False, True):
        hits = remote.search("a page of text", k=4, exact=exact)
        assert [(h.doc_id, h.page) for h in hits] == [(h.doc_id, h.page) for h in expected]
        np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], rtol=0, atol=5e-6)
        assert hits[0].geometry is COLQWEN3_5.geometry


def test_the_models_readme_shows_the_catalogue_as_it_is() -> None:
    from dataclasses import replace

    from docretriever.embedding import catalogue, catalogue_table

    readme = (Path(__file__).parent.parent / "models" / "README.md").read_text()
    assert catalogue_table.catalogue_markdown() in readme
    for entry in catalogue.CATALOGUE:
        assert f"`{entry.hub_id}`" in readme and entry.quality.source
    # Negative control: a figure changed in the catalogue no longer matches the README.
    changed = replace(catalogue.CATALOGUE[2], parameters=catalogue.CATALOGUE[2].parameters * 2)
    original = catalogue.CATALOGUE
    try:
        catalogue_table.CATALOGUE = (original[0], original[1], changed, *original[3:])  # type: ignore[misc]
        assert catalogue_table.catalogue_markdown() not in readme
    finally:
        catalogue_table.CATALOGUE = original  # type: ignore[misc]


def test_copies_between_back_ends_keep_the_model_and_its_limits_are_the_library_s(
    tmp_path: Path, family_models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = corpus_or_skip(SAMPLES) / PDF
    local, copied = str(tmp_path / "local"), str(tmp_path / "copied")
    remote = f"qdrant+local://{tmp_path}/q/pages"
    model = str(family_models[COLQWEN3_5.name])
    assert main(["--library", local, "--model", model, "--visual-tokens", "128", "add", str(pdf)]) == 0
    assert main(["--library", local, "export", "--to", remote]) == 0
    assert main(["--library", copied, "import", "--from", remote]) == 0
    capsys.readouterr()
    # Each copy loads the model the pages were embedded with, though no command names it.
    for library in (remote, copied):
        assert main(["--library", library, "search", "a page of text", "--json", "-k", "1"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 1
    # A budget is checked against the library's model family, not the default model's: 32 cells
    # is a ColQwen2 budget, not a ColQwen3.5 one.
    assert main(["--library", local, "--visual-tokens", "32", "search", "a page of text"]) == 1
    error = capsys.readouterr().err
    assert "at least 64" in error and "ColQwen3.5" in error and "ColQwen2 " not in error
    # Beyond every family's limits: refused at once, naming no family.
    assert main(["--library", local, "--visual-tokens", "20000", "search", "a page of text"]) == 1
    assert "the most any model DocRetriever loads takes" in capsys.readouterr().err
