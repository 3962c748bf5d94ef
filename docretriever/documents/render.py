"""Rendering pages straight at the model's pixel budget.

A page is rendered once, at the size the model's processor would resize it to, so the processor's
own resize is a no-op: no render-large-then-shrink, and the image's cell grid maps back to the
page exactly. MuPDF renders; poppler (through pdf2image) is the fallback for pages MuPDF fails on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pymupdf
from PIL import Image

from docretriever.documents.pdf import PageInfo
from docretriever.errors import PageError

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
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise PageError(f"The page is too narrow to embed ({width:g} x {height:g}; aspect ratio over 200).")
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
    when already open); if it fails, poppler renders the page. Raises :class:`PageError` when
    neither can.
    """
    try:
        if document is None:
            with pymupdf.open(path, filetype="pdf") as opened:
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
    page = document.load_page(index)
    rect = page.rect  # already rotated: the page as displayed
    width_px, height_px = fit_to_cell_budget(rect.width, rect.height, max_pixels)
    # Independent x and y zoom land exactly on the cell-aligned size; the distortion is under
    # one cell, the same the model's processor would apply.
    matrix = pymupdf.Matrix(width_px / rect.width, height_px / rect.height)
    pixmap = page.get_pixmap(matrix=matrix, alpha=False, colorspace=pymupdf.csRGB)
    image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    if image.size != (width_px, height_px):
        # MuPDF rounds the pixmap's bounding box outward; trim or pad the odd pixel.
        image = image.resize((width_px, height_px), Image.Resampling.BILINEAR)
    return RenderedPage(image, float(rect.width), float(rect.height), "mupdf")


def _render_with_poppler(path: Path, page: PageInfo, max_pixels: int) -> RenderedPage:
    import pdf2image  # only needed on the fallback path

    width_px, height_px = fit_to_cell_budget(page.width_pt, page.height_pt, max_pixels)
    # pdftoppm applies the page's /Rotate itself, like MuPDF.
    images = pdf2image.convert_from_path(
        str(path), first_page=page.index + 1, last_page=page.index + 1, size=(width_px, height_px)
    )
    if not images:
        raise PageError(f"Page {page.index + 1} of {path.name} could not be rendered.")
    image = images[0].convert("RGB")
    if image.size != (width_px, height_px):
        image = image.resize((width_px, height_px), Image.Resampling.BILINEAR)
    return RenderedPage(image, page.width_pt, page.height_pt, "poppler")
