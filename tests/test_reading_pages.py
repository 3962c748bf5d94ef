"""The generated reading pages and the measures the learned-retrieval tests use.

The word boxes are the ground truth of every highlight check, so they are checked against the
pixels the product's renderer draws, on upright and on rotated pages; the measures get their
negative controls here too.
"""

from __future__ import annotations

import numpy as np
import pytest

from docretriever.highlight.regions import Region
from docretriever.testing.reading_eval import box_iou, measure, region_on_word
from docretriever.testing.reading_pages import (
    VOCABULARY,
    WordBox,
    held_out_set,
    make_page,
    render_reading_page,
)


def _ink_share(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Share of the page's dark pixels that lie inside ``box`` (pixels)."""
    dark = image.min(axis=2) < 110
    x0, y0, x1, y1 = (round(v) for v in box)
    inside = dark[max(0, y0) : y1, max(0, x0) : x1].sum()
    return float(inside) / max(1, int(dark.sum()))


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_word_boxes_sit_on_the_rendered_ink(rotation: int) -> None:
    for index in range(6):
        page = make_page(7, index, rotation=rotation)
        image = np.asarray(render_reading_page(page, 192))
        sx, sy = image.shape[1] / page.width_pt, image.shape[0] / page.height_pt
        boxes = [(b.x0 * sx - 2, b.y0 * sy - 2, b.x1 * sx + 2, b.y1 * sy + 2) for b in page.words]
        union = np.zeros(image.shape[:2], bool)
        dark = image.min(axis=2) < 110
        for x0, y0, x1, y1 in boxes:
            union[max(0, int(y0)) : int(y1) + 1, max(0, int(x0)) : int(x1) + 1] = True
        # Nearly all ink (the words; speckle and table lines are light or thin) is inside a box,
        # and each box holds ink.
        assert dark[union].sum() / max(1, dark.sum()) > 0.8, (rotation, index, page.layout)
        for box in boxes:
            assert _ink_share(image, box) > 0


def test_boxes_of_a_rotated_page_are_not_the_upright_ones() -> None:
    """Negative control for the check above: the upright boxes on a page turned by 90 degrees
    miss its ink."""
    upright, turned = make_page(7, 1, rotation=0), make_page(7, 1, rotation=90)
    image = np.asarray(render_reading_page(turned, 192))
    sx, sy = image.shape[1] / turned.width_pt, image.shape[0] / turned.height_pt
    shares = [_ink_share(image, (b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy)) for b in upright.words]
    right = [_ink_share(image, (b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy)) for b in turned.words]
    assert sum(shares) < 0.5 * sum(right)


def test_pages_depend_only_on_seed_and_index() -> None:
    # The PDF's file id differs between writes; the page itself does not.
    first, again = make_page(3, 11), make_page(3, 11)
    assert first.words == again.words and first.layout == again.layout
    assert render_reading_page(first, 96).tobytes() == render_reading_page(again, 96).tobytes()
    assert make_page(3, 11).words != make_page(3, 12).words


def test_held_out_key_words_are_on_exactly_one_page() -> None:
    pairs = held_out_set(2000, 200, rotations=(0, 90, 0, 180, 0, 270))
    keys = [key for _, key in pairs]
    assert len(set(keys)) == 200 and set(keys) <= set(VOCABULARY)
    for page, key in pairs:
        assert len(page.boxes_of(key)) == 1
    for i, (_, key) in enumerate(pairs):
        assert all(not other.boxes_of(key) for j, (other, _) in enumerate(pairs) if j != i)
    assert {page.rotation for page, _ in pairs} == {0, 90, 180, 270}


def test_iou_and_region_on_word() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    word = [WordBox("tower", 100, 100, 160, 120)]
    assert region_on_word(Region(95, 95, 165, 125, 1.0), word)
    assert not region_on_word(Region(300, 300, 360, 320, 1.0), word)
    assert region_on_word({"x0": 100, "y0": 100, "x1": 160, "y1": 120}, word)


def test_measure_counts_right_pages_and_regions_on_the_word() -> None:
    pairs = held_out_set(2000, 4)

    def perfect(word: str):
        number = [w for _, w in pairs].index(word) + 1
        box = pairs[number - 1][0].boxes_of(word)[0]
        return number, [Region(box.x0, box.y0, box.x1, box.y1, 1.0)]

    def wrong_page(word: str):
        number = [w for _, w in pairs].index(word) + 1
        return number % 4 + 1, []

    assert measure(pairs, perfect).recall_at_1 == 1.0 and measure(pairs, perfect).iou_rate == 1.0
    assert measure(pairs, wrong_page).recall_at_1 == 0.0
    assert measure(pairs, lambda word: None).right_hits == 0
