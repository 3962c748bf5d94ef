"""Similarity maps to regions on the page, including rotated pages."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
from PIL import Image

from docretriever.embedding.geometry import COLQWEN2_GEOMETRY
from docretriever.highlight import draw_highlights, heat_map, to_unrotated
from docretriever.highlight import find_regions as find_regions_in_boxes

cell_box = COLQWEN2_GEOMETRY.cell_box


def find_regions(heat: np.ndarray, page: tuple[float, float]) -> list:
    """The regions of ``heat`` on a page of ``page`` points, its cells placed by ColQwen2's geometry."""
    n_y, n_x = heat.shape
    return find_regions_in_boxes(heat, COLQWEN2_GEOMETRY.cell_boxes((n_x, n_y), page))


def injected_similarity(grid: tuple[int, int], best: tuple[int, int], n_tokens: int = 6) -> np.ndarray:
    """Low random similarities everywhere, with every token's best match in cell ``best``."""
    n_x, n_y = grid
    rng = np.random.default_rng(0)
    sims = rng.uniform(-0.1, 0.2, size=(n_tokens, n_y, n_x)).astype(np.float32)
    sims[:, best[1], best[0]] = 0.9
    return sims


def test_region_lands_on_the_injected_cell() -> None:
    grid, best, page = (24, 31), (17, 4), (612.0, 792.0)
    regions = find_regions(heat_map(injected_similarity(grid, best)), page)
    assert len(regions) == 1
    region = regions[0]
    x0, y0, x1, y1 = cell_box(*best, grid, page)
    assert (region.x0, region.y0, region.x1, region.y1) == pytest.approx((x0, y0, x1, y1))
    assert region.weight == pytest.approx(1.0)
    # Cell (17, 4) is in the upper right of the page.
    assert region.x0 > page[0] / 2 and region.y1 < page[1] / 4


def test_connected_cells_merge_and_regions_are_sorted_by_weight() -> None:
    heat = np.zeros((10, 8), np.float32)
    heat[2, 2:5] = [0.6, 0.9, 0.7]  # one horizontal run
    heat[7, 6] = 1.0  # a separate, stronger cell
    regions = find_regions(heat, (80.0, 100.0))
    assert [round(r.weight, 2) for r in regions] == [1.0, 0.9]
    assert (regions[1].x0, regions[1].x1, regions[1].y0, regions[1].y1) == pytest.approx((20, 50, 20, 30))


def test_token_mask_selects_the_words_shown() -> None:
    sims = np.full((2, 10, 10), 0.1, np.float32)
    sims[0, 1, 1] = 0.8  # token 0 matches the top-left
    sims[1, 8, 8] = 0.8  # token 1 the bottom-right
    only_second = heat_map(sims, np.array([False, True]))
    assert np.unravel_index(np.argmax(only_second), only_second.shape) == (8, 8)
    assert only_second[1, 1] == 0.0
    regions = find_regions(heat_map(sims), (100.0, 100.0))
    assert len(regions) == 2


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_regions_on_rotated_pages_map_to_the_pdf_like_pymupdf(rotation: int) -> None:
    document = pymupdf.open()
    page = document.new_page(width=595, height=842)
    page.set_rotation(rotation)
    displayed = (page.rect.width, page.rect.height)
    grid = (33, 23) if rotation in (90, 270) else (23, 33)
    region = find_regions(heat_map(injected_similarity(grid, (3, 2))), displayed)[0]
    box = (region.x0, region.y0, region.x1, region.y1)
    expected = tuple(pymupdf.Rect(box) * page.derotation_matrix)
    assert to_unrotated(box, rotation, displayed) == pytest.approx(expected)
    # Near the top-left as displayed, whatever the rotation.
    assert region.x1 < displayed[0] / 4 and region.y1 < displayed[1] / 4


def test_drawing_marks_the_region_and_leaves_cold_areas_alone() -> None:
    grid, page = (10, 10), (100.0, 100.0)
    heat = heat_map(injected_similarity(grid, (2, 3)))
    regions = find_regions(heat, page)
    image = Image.new("RGB", (500, 500), "white")
    drawn = np.asarray(draw_highlights(image, heat, regions, page))
    # The box outline (red) sits at the region's pixel edges: x 100..150, y 150..200.
    assert tuple(drawn[175, 101]) == (220, 30, 30)
    # The hot cell is tinted; a far corner stays white.
    assert drawn[175, 125, 2] < 200
    assert tuple(drawn[480, 480]) == (255, 255, 255)
