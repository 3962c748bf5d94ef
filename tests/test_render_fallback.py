"""The poppler fallback draws the same picture as MuPDF: crop box, rotation, size (issue 15, part 2).

Each test PDF is built with PyMuPDF and carries distinctive content (coloured blocks near each
corner and a line of text), so a wrong crop, a squeeze or a wrong rotation shows as a large mean
pixel difference between the two renderers; a correct fallback differs only by anti-aliasing.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
import pytest
from PIL import Image

from docretriever.documents import open_pdf, read_page_infos, render_page
from docretriever.documents import render as render_module
from docretriever.documents.pdf import PageInfo
from docretriever.embedding.geometry import COLQWEN2_GEOMETRY
from docretriever.errors import PageError

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdfinfo") is None,
    reason="poppler (pdftoppm, pdfinfo) is not installed",
)

BUDGET = 768 * 28 * 28
fit_to_cell_budget = COLQWEN2_GEOMETRY.fit_pixels


def model_size(page: PageInfo) -> tuple[int, int]:
    """The size ColQwen2 at 768 cells renders ``page`` at."""
    return fit_to_cell_budget(page.width_pt, page.height_pt, BUDGET)


# Mean absolute difference per channel, on 0..255, that two renders of the same picture stay
# under (measured: 0.2 to 3.3, text anti-aliasing). A squeezed crop box measures about 50, a
# page turned the wrong way 60 to 80 (see the negative controls below).
SAME_PICTURE = 5.0
A4 = (595.0, 842.0)  # points


def mean_abs_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference of two RGB images of the same size, per channel, on 0..255."""
    assert first.size == second.size, (first.size, second.size)
    a = np.asarray(first.convert("RGB"), dtype=np.float64)
    b = np.asarray(second.convert("RGB"), dtype=np.float64)
    return float(np.abs(a - b).mean())


def make_pdf(
    path: Path,
    *,
    rotate: int = 0,
    cropbox: tuple[float, float, float, float] | None = None,
    mediabox: tuple[float, float, float, float] | None = None,
    user_unit: float | None = None,
) -> Path:
    """An A4 page with coloured blocks near each corner and text, then its boxes, /Rotate and
    UserUnit set as given (boxes in PDF units, as written in the file: y grows upwards)."""
    document = pymupdf.open()
    page = document.new_page(width=A4[0], height=A4[1])
    page.draw_rect(pymupdf.Rect(40, 40, 200, 160), color=None, fill=(1, 0, 0))
    page.draw_rect(pymupdf.Rect(400, 60, 560, 300), color=None, fill=(0, 0.6, 0))
    page.draw_rect(pymupdf.Rect(60, 600, 300, 800), color=None, fill=(0, 0, 1))
    page.draw_rect(pymupdf.Rect(350, 500, 550, 780), color=None, fill=(1, 0.8, 0))
    page.draw_rect(pymupdf.Rect(250, 330, 330, 450), color=None, fill=(0.5, 0, 0.5))
    page.insert_text((90, 420), "Fallback 15", fontsize=44)
    # The boxes and /Rotate are written as raw keys: PyMuPDF's setters refuse values that real
    # files carry (a crop box in MediaBox-relative form, /Rotate -90 or 450, UserUnit).
    xref = document.page_xref(0)
    if mediabox is not None:
        document.xref_set_key(xref, "MediaBox", "[{:g} {:g} {:g} {:g}]".format(*mediabox))
    if cropbox is not None:
        document.xref_set_key(xref, "CropBox", "[{:g} {:g} {:g} {:g}]".format(*cropbox))
    if rotate:
        document.xref_set_key(xref, "Rotate", str(rotate))
    if user_unit is not None:
        document.xref_set_key(xref, "UserUnit", f"{user_unit:g}")
    document.save(path)
    document.close()
    return path


def both_renders(path: Path) -> tuple[PageInfo, Image.Image, Image.Image]:
    """The page info, MuPDF's render and the fallback's render of the first page."""
    with open_pdf(path) as document:
        info = read_page_infos(document)[0]
        mupdf = render_page(path, document, info, model_size(info))
    poppler = render_module._render_with_poppler(path, info, model_size(info))
    assert (mupdf.renderer, poppler.renderer) == ("mupdf", "poppler")
    expected = fit_to_cell_budget(info.width_pt, info.height_pt, BUDGET)
    assert mupdf.image.size == poppler.image.size == expected
    assert (poppler.width_pt, poppler.height_pt) == (mupdf.width_pt, mupdf.height_pt)
    return info, mupdf.image, poppler.image


CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    # A crop box inside the media box, in each corner and in the middle.
    "crop-middle": {"cropbox": (100, 150, 500, 700)},
    "crop-bottom-left": {"cropbox": (0, 0, 300, 400)},
    "crop-top-left": {"cropbox": (0, 442, 300, 842)},
    "crop-top-right": {"cropbox": (295, 442, 595, 842)},
    "crop-bottom-right": {"cropbox": (295, 0, 595, 400)},
    "crop-beyond-media": {"cropbox": (-100, -100, 400, 500)},  # clipped to the media box
    # Every rotation, also negative and over 360.
    "rotate-90": {"rotate": 90},
    "rotate-180": {"rotate": 180},
    "rotate-270": {"rotate": 270},
    "rotate-minus-90": {"rotate": -90},
    "rotate-minus-180": {"rotate": -180},
    "rotate-minus-270": {"rotate": -270},
    "rotate-450": {"rotate": 450},
    "rotate-720": {"rotate": 720},
    # Crop and rotation together.
    "crop-top-right-rotate-90": {"cropbox": (295, 442, 595, 842), "rotate": 90},
    "crop-bottom-left-rotate-270": {"cropbox": (0, 0, 300, 400), "rotate": 270},
    "crop-middle-rotate-minus-90": {"cropbox": (100, 150, 500, 700), "rotate": -90},
    # A media box that does not start at 0, 0.
    "media-offset": {"mediabox": (100, 100, 695, 942)},
    "media-negative-offset-crop-rotate-180": {
        "mediabox": (-50, -80, 545, 762),
        "cropbox": (0, 0, 400, 500),
        "rotate": 180,
    },
    # UserUnit: MuPDF scales the page by it, poppler does not; the picture is the same.
    "user-unit-2": {"user_unit": 2},
    "user-unit-2-crop-rotate-270": {"user_unit": 2, "cropbox": (100, 100, 400, 600), "rotate": 270},
}


@pytest.mark.parametrize("case", list(CASES))
def test_fallback_draws_what_mupdf_draws(tmp_path: Path, case: str) -> None:
    path = make_pdf(tmp_path / f"{case}.pdf", **CASES[case])
    _, mupdf, poppler = both_renders(path)
    assert mean_abs_difference(mupdf, poppler) < SAME_PICTURE, case


def test_rotated_a4_comes_out_landscape_at_the_requested_size(tmp_path: Path) -> None:
    # The reported case: /Rotate 90 on A4 gave a 644 x 924 portrait image for a requested
    # 924 x 644, which was then stretched.
    info, mupdf, poppler = both_renders(make_pdf(tmp_path / "a4-90.pdf", rotate=90))
    assert (info.width_pt, info.height_pt) == (A4[1], A4[0])
    assert poppler.size == (924, 644)
    # The red block (x 40-200, y 40-160 pt from the top left of the unrotated page) is at the
    # top right once turned 90° clockwise: x 682-802, y 40-200 pt, i.e. about x 748-880 px,
    # y 44-219 px at this scale (924 / 842 px per point), in both renders.
    for image in (mupdf, poppler):
        red = np.asarray(image)[70:200, 770:870]
        assert (red[..., 0] > 200).mean() > 0.9 and (red[..., 1] < 60).mean() > 0.9


def test_user_unit_page_reports_its_real_size(tmp_path: Path) -> None:
    info, _, _ = both_renders(make_pdf(tmp_path / "uu.pdf", user_unit=2))
    assert (info.width_pt, info.height_pt) == (2 * A4[0], 2 * A4[1])


def test_render_page_falls_back_to_the_same_picture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_pdf(tmp_path / "crop-rot.pdf", cropbox=(295, 442, 595, 842), rotate=90)
    with open_pdf(path) as document:
        info = read_page_infos(document)[0]
        mupdf = render_page(path, document, info, model_size(info))

    def broken(*args: object) -> None:
        raise RuntimeError("simulated MuPDF failure")

    monkeypatch.setattr(render_module, "_render_with_mupdf", broken)
    fallback = render_page(path, None, info, model_size(info))
    assert fallback.renderer == "poppler"
    assert mean_abs_difference(mupdf.image, fallback.image) < SAME_PICTURE


# Negative controls: the comparison catches the two faults the old fallback had.


def test_comparison_catches_a_squeezed_media_box(tmp_path: Path) -> None:
    """The old fallback: the whole media box squeezed into the crop box's pixel size."""
    path = make_pdf(tmp_path / "crop.pdf", cropbox=(100, 150, 500, 700))
    _, mupdf, poppler = both_renders(path)
    width, height = mupdf.size
    squeezed_ppm = subprocess.run(
        ["pdftoppm", "-singlefile", "-scale-to-x", str(width), "-scale-to-y", str(height), str(path)],
        capture_output=True,
        check=True,
    ).stdout
    squeezed = Image.open(io.BytesIO(squeezed_ppm)).convert("RGB")
    assert squeezed.size == mupdf.size
    assert mean_abs_difference(mupdf, squeezed) > 4 * SAME_PICTURE
    # An 8 % margin (the report) is also far outside the tolerance.
    margin_w, margin_h = round(width * 0.04), round(height * 0.04)
    shrunk = poppler.resize((width - 2 * margin_w, height - 2 * margin_h), Image.Resampling.BILINEAR)
    framed = Image.new("RGB", poppler.size, (255, 255, 255))
    framed.paste(shrunk, (margin_w, margin_h))
    assert mean_abs_difference(mupdf, framed) > 2 * SAME_PICTURE


def test_comparison_catches_a_wrongly_rotated_page(tmp_path: Path) -> None:
    """The old fallback on /Rotate 90: the page drawn portrait, then stretched to landscape."""
    path = make_pdf(tmp_path / "a4-90.pdf", rotate=90)
    _, mupdf, poppler = both_renders(path)
    unrotated = poppler.transpose(Image.Transpose.ROTATE_90)  # back to portrait
    stretched = unrotated.resize(mupdf.size, Image.Resampling.BILINEAR)
    assert mean_abs_difference(mupdf, stretched) > 4 * SAME_PICTURE
    upside_down = poppler.transpose(Image.Transpose.ROTATE_180)
    assert mean_abs_difference(mupdf, upside_down) > 4 * SAME_PICTURE


# A result of any other size than the one asked for is an error, never resized.


def test_fallback_image_of_the_wrong_size_is_a_page_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pdftoppm handing back the old portrait image for a /Rotate 90 page fails the page."""
    path = make_pdf(tmp_path / "a4-90.pdf", rotate=90)
    with open_pdf(path) as document:
        info = read_page_infos(document)[0]
    real_run = render_module._run_poppler

    def portrait_anyway(command: list[str]) -> bytes:
        if Path(command[0]).name != "pdftoppm":
            return real_run(command)
        output = io.BytesIO()
        Image.new("RGB", (644, 924), (255, 255, 255)).save(output, format="PPM")
        return output.getvalue()

    monkeypatch.setattr(render_module, "_run_poppler", portrait_anyway)
    with pytest.raises(PageError, match=r"poppler drew 644 x 924 px where 924 x 644 px were asked for"):
        render_module._render_with_poppler(path, info, model_size(info))


def test_mupdf_image_of_the_wrong_size_is_a_page_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_pdf(tmp_path / "a4.pdf")
    real_get_pixmap = pymupdf.Page.get_pixmap

    def oversized(self: pymupdf.Page, *args: object, matrix: pymupdf.Matrix, **kwargs: object) -> object:
        return real_get_pixmap(self, *args, matrix=matrix * pymupdf.Matrix(1.05, 1.05), **kwargs)

    monkeypatch.setattr(pymupdf.Page, "get_pixmap", oversized)
    with open_pdf(path) as document, pytest.raises(PageError, match=r"MuPDF drew .* were asked for"):
        info = read_page_infos(document)[0]
        render_page(path, document, info, model_size(info))


def test_fallback_refuses_a_page_whose_shape_poppler_sees_otherwise(tmp_path: Path) -> None:
    """Geometry the two engines disagree on (here: a page info with its sides swapped) fails
    with a reason instead of being drawn distorted to the requested size."""
    path = make_pdf(tmp_path / "a4.pdf")
    swapped = PageInfo(0, A4[1], A4[0], 0)
    with pytest.raises(PageError, match="disagree on its shape"):
        render_module._render_with_poppler(path, swapped, model_size(swapped))
