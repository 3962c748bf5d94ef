"""Rendering pages straight at the model's pixel budget.

A page is rendered once, at the size the model's processor would resize it to, so the processor's
own resize is a no-op: no render-large-then-shrink, and the image's cell grid maps back to the
page exactly. MuPDF renders; poppler (pdftoppm) is the fallback for pages MuPDF fails on, and draws the
same picture: the crop box, rotated, at the same size.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from docretriever.documents.pdf import PageInfo, mupdf
from docretriever.errors import PageError

if TYPE_CHECKING:
    import pymupdf

# Pages are rendered in cells of 28 x 28 px (14 px patches merged 2 x 2 by Qwen2-VL).
CELL_PX = 28
# Qwen2-VL refuses images whose aspect ratio exceeds 200.
MAX_ASPECT_RATIO = 200.0


@dataclass(frozen=True)
class RenderedPage:
    """A page rendered for the model or for display.

    ``image`` is RGB, ``width_pt`` x ``height_pt`` is the page as displayed (rotation applied),
    in PDF points; ``renderer`` names the engine that drew it ("mupdf" or "poppler").
    """

    image: Image.Image
    width_pt: float
    height_pt: float
    renderer: str


def fit_to_cell_budget(
    width: float, height: float, max_pixels: int, min_pixels: int = 56 * 56
) -> tuple[int, int]:
    """Pixel size (width, height), both multiples of 28, with area in [min_pixels, max_pixels].

    ``width`` x ``height`` is any size in any unit; the result keeps its aspect ratio as closely
    as multiples of 28 allow. This is the arithmetic of Qwen2-VL's ``smart_resize``, applied to
    the page scaled to the budget, except that an oversized rounding shrinks the one side that
    best keeps the page's shape; an image rendered at this size is not resized again.
    """
    if width <= 0 or height <= 0:
        raise PageError(f"The page has no area ({width:g} x {height:g}).")
    aspect = max(width, height) / min(width, height)
    if aspect > MAX_ASPECT_RATIO:
        shown = f"{aspect:.1f}".removesuffix(".0")
        raise PageError(
            f"The page is too narrow to embed: its aspect ratio is {shown}:1 ({width:g} x {height:g}), "
            f"over the model's limit of {MAX_ASPECT_RATIO:.0f}:1."
        )
    scale = math.sqrt(max_pixels / (width * height))
    w, h = width * scale, height * scale
    w_bar = max(CELL_PX, round(w / CELL_PX) * CELL_PX)
    h_bar = max(CELL_PX, round(h / CELL_PX) * CELL_PX)
    if w_bar * h_bar > max_pixels:
        # Shrink one side to fit; of the two choices keep the one closest to the page's shape.
        # (smart_resize floors both sides instead, which wastes up to a quarter of the budget on
        # long narrow pages; any cell-aligned size within the budget is left alone by it.)
        options = [
            (w_bar, (max_pixels // w_bar) // CELL_PX * CELL_PX),
            ((max_pixels // h_bar) // CELL_PX * CELL_PX, h_bar),
        ]
        w_bar, h_bar = min(
            (o for o in options if min(o) >= CELL_PX),
            key=lambda o: (max(abs(o[0] / w - 1), abs(o[1] / h - 1)), -o[0] * o[1]),
        )
    elif w_bar * h_bar < min_pixels:
        beta = math.sqrt(min_pixels / (w * h))
        w_bar = math.ceil(w * beta / CELL_PX) * CELL_PX
        h_bar = math.ceil(h * beta / CELL_PX) * CELL_PX
    return w_bar, h_bar


def render_page(
    path: Path,
    document: pymupdf.Document | None,
    page: PageInfo,
    max_pixels: int,
) -> RenderedPage:
    """Render ``page`` of the PDF at ``path`` to an RGB image of at most ``max_pixels`` pixels.

    The output size comes from :func:`fit_to_cell_budget` on the displayed page size, so a
    rotated page comes out upright as a viewer shows it. MuPDF is tried first (``document``
    when already open); if it fails, poppler renders the same picture (crop box, rotation,
    size). Raises :class:`PageError` when neither can, and when a renderer's image is not
    exactly the size asked for (never resized: that would hide a wrong box or rotation).
    """
    try:
        if document is None:
            with mupdf().open(path, filetype="pdf") as opened:
                return _render_with_mupdf(opened, page.index, max_pixels)
        return _render_with_mupdf(document, page.index, max_pixels)
    except PageError:
        raise
    except Exception as exc:  # MuPDF raises its own types (FzErrorLimit is no RuntimeError)
        mupdf_error = exc
    try:
        return _render_with_poppler(path, page, max_pixels)
    except PageError:
        raise
    except Exception as exc:
        raise PageError(
            f"Page {page.index + 1} of {path.name} could not be rendered.",
            details=f"MuPDF: {mupdf_error!r}\npoppler: {exc!r}",
        ) from exc


def _render_with_mupdf(document: pymupdf.Document, index: int, max_pixels: int) -> RenderedPage:
    """Draw page ``index`` with MuPDF at the cell-aligned size for ``max_pixels`` (pixels).

    MuPDF draws the crop box (intersected with the media box) with /Rotate and UserUnit applied;
    ``page.rect`` is that box as displayed, in points, with its origin at 0, 0.
    """
    page = document.load_page(index)
    rect = page.rect  # already rotated: the page as displayed
    width_px, height_px = fit_to_cell_budget(rect.width, rect.height, max_pixels)
    # Independent x and y zoom land exactly on the cell-aligned size; the distortion is under
    # one cell, the same the model's processor would apply.
    pymupdf = mupdf()
    matrix = pymupdf.Matrix(width_px / rect.width, height_px / rect.height)
    pixmap = page.get_pixmap(matrix=matrix, alpha=False, colorspace=pymupdf.csRGB)
    image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    _check_size(image, (width_px, height_px), "MuPDF", index)
    return RenderedPage(image, float(rect.width), float(rect.height), "mupdf")


# A fallback render that takes longer than this is stuck; it stays under the render pool's
# per-request limit, so the worker reports a reason instead of being killed.
POPPLER_TIMEOUT_S = 50.0
# How far (relative) poppler's displayed aspect ratio may differ from MuPDF's before the two
# are judged to disagree on the page's geometry (box or rotation) and the page fails.
_ASPECT_TOLERANCE = 0.01


def _render_with_poppler(path: Path, page: PageInfo, max_pixels: int) -> RenderedPage:
    """Draw ``page`` with poppler's ``pdftoppm``: the same picture MuPDF would draw.

    The output is exactly the size :func:`fit_to_cell_budget` gives for the displayed page
    (``page.width_pt`` x ``page.height_pt`` points), in pixels. pdftoppm is told to draw the crop
    box (``-cropbox``; its default is the whole media box), and the pixel size is given for
    the page as displayed (``-scale-dimension-before-rotation``: otherwise ``-scale-to-x``
    applies to the unrotated width, and a page with /Rotate 90 or 270 comes out with its
    sides swapped). ``-scale-to-x/-y`` set the x and y resolution from poppler's own page size,
    so UserUnit (which poppler ignores and MuPDF applies) changes nothing: it scales both
    engines' page alike. ``-W``/``-H`` pin the size against rounding. Before drawing, poppler's
    displayed aspect ratio is compared with MuPDF's; a page they disagree on (a different box
    or rotation) fails with a :class:`PageError` instead of coming out distorted, as does an
    image of any other size than the one asked for.
    """
    width_px, height_px = fit_to_cell_budget(page.width_pt, page.height_pt, max_pixels)
    number = str(page.index + 1)
    target = os.fspath(path.absolute())  # never read as an option, even if the name starts with "-"
    shown_width, shown_height = _poppler_displayed_size(path, page.index)
    if abs((shown_width / shown_height) / (page.width_pt / page.height_pt) - 1) > _ASPECT_TOLERANCE:
        raise PageError(
            f"Page {page.index + 1} of {path.name} could not be rendered: MuPDF and poppler disagree on "
            f"its shape ({page.width_pt:g} x {page.height_pt:g} pt against {shown_width:g} x "
            f"{shown_height:g} pt).",
        )
    command = [
        _tool("pdftoppm"),
        *("-f", number, "-l", number, "-singlefile", "-cropbox", "-scale-dimension-before-rotation"),
        *("-scale-to-x", str(width_px), "-scale-to-y", str(height_px)),
        *("-x", "0", "-y", "0", "-W", str(width_px), "-H", str(height_px)),
        target,
    ]
    output = _run_poppler(command)
    with Image.open(io.BytesIO(output)) as drawn:
        image = drawn.convert("RGB")
    _check_size(image, (width_px, height_px), "poppler", page.index)
    return RenderedPage(image, page.width_pt, page.height_pt, "poppler")


def _poppler_displayed_size(path: Path, index: int) -> tuple[float, float]:
    """Page ``index``'s crop box as poppler displays it (its /Rotate applied): (width, height),
    in PDF units (points, without UserUnit), read from ``pdfinfo -box``."""
    number = str(index + 1)
    text = _run_poppler([_tool("pdfinfo"), "-f", number, "-l", number, os.fspath(path.absolute())])
    found = re.search(
        rf"^Page\s+{number}\s+size:\s*([0-9.eE+-]+)\s*x\s*([0-9.eE+-]+)", text.decode("latin-1"), re.M
    )
    rotation = re.search(rf"^Page\s+{number}\s+rot:\s*(-?\d+)", text.decode("latin-1"), re.M)
    if found is None or rotation is None:
        raise RuntimeError(f"pdfinfo gave no size for page {number}")
    width, height = float(found.group(1)), float(found.group(2))
    if width <= 0 or height <= 0:
        raise PageError(f"Page {number} of {path.name} has no area for poppler ({width:g} x {height:g}).")
    if int(rotation.group(1)) % 180 == 90:
        width, height = height, width
    return width, height


def _tool(name: str) -> str:
    """The full path of poppler's command-line tool ``name``; raises when it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"poppler's {name} is not installed")
    return found


def _run_poppler(command: list[str]) -> bytes:
    """Run a poppler tool and return its standard output; raises on failure or timeout."""
    done = subprocess.run(command, capture_output=True, timeout=POPPLER_TIMEOUT_S, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise RuntimeError(f"{Path(command[0]).name} exited with status {done.returncode}: {message}")
    return done.stdout


def _check_size(image: Image.Image, size: tuple[int, int], renderer: str, index: int) -> None:
    """Raise :class:`PageError` unless ``image`` is exactly ``size`` (width, height) pixels.

    A renderer that draws another size has drawn another picture (a different box, a swapped
    rotation); resizing it would hide that, and the model's cell grid would no longer map back
    to the page.
    """
    if image.size != size:
        raise PageError(
            f"Page {index + 1} could not be rendered: {renderer} drew {image.width} x {image.height} px "
            f"where {size[0]} x {size[1]} px were asked for.",
        )
