"""Rendering pages at exactly the size asked for.

A page is rendered once, at the size its reader asks for: for the model, the size the model's
processor would resize it to (its embedder's ``render_size``, whole cells of its geometry), so
the processor's own resize is a no-op and the image's cell grid maps back to the page exactly;
for display, any size (:func:`display_size` fits a pixel budget). Nothing here knows about
cells. MuPDF renders; poppler (pdftoppm) is the fallback for pages MuPDF fails on, and draws the
same picture: the crop box, rotated, at the same size.
"""

from __future__ import annotations

import io
import math
import operator
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


def display_size(width_pt: float, height_pt: float, max_pixels: int) -> tuple[int, int]:
    """Pixel size (width, height) of a page of ``width_pt`` x ``height_pt`` points (as displayed)
    drawn for display within ``max_pixels`` pixels: the page's shape, scaled to the budget and
    rounded down, each side at least 1 px, the area at most ``max_pixels`` (at least 1).

    Raises :class:`PageError` for a page with no area.
    """
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
        raise PageError(f"The page has no area ({width_pt:g} x {height_pt:g}).")
    budget = max(1, int(max_pixels))
    scale = math.sqrt(budget / (width_pt * height_pt))
    # The small allowance keeps a side that is whole at this scale (200.0 written 199.99999...).
    width = max(1, math.floor(width_pt * scale + 1e-6))
    height = max(1, math.floor(height_pt * scale + 1e-6))
    if width * height > budget:  # a side raised to 1 px, or the allowance: trim the longer one
        if width >= height:
            width = max(1, budget // height)
        else:
            height = max(1, budget // width)
    return width, height


def render_page(
    path: Path,
    document: pymupdf.Document | None,
    page: PageInfo,
    size: tuple[int, int],
    *,
    pdf_file: Path | None = None,
    fallback: bool = True,
) -> RenderedPage:
    """Render ``page`` of the PDF at ``path`` to an RGB image of exactly ``size`` (width, height)
    pixels, the page as displayed (``page.width_pt`` x ``page.height_pt`` points), so a rotated
    page comes out upright as a viewer shows it.

    ``size`` is chosen by the caller for that displayed shape: an embedder's ``render_size`` for
    the model, :func:`display_size` for display. MuPDF is tried first (``document`` when already
    open); if it fails, poppler renders the same picture (crop box, rotation, size). Raises
    :class:`PageError` for a size that is not two positive whole numbers, when neither engine
    can draw the page, when an engine sees the page in another shape than ``page`` says (the
    size would stretch it), and when a renderer's image is not exactly the size asked for
    (never resized: that would hide a wrong box or rotation).

    ``pdf_file`` is the PDF that holds the pages when ``path`` is not one (an Office file's
    conversion): MuPDF opens it when ``document`` is None, poppler draws from it. ``fallback``
    False renders with MuPDF alone (``document``, a format poppler does not read).
    """
    try:
        width_px, height_px = (operator.index(side) for side in size)
    except (TypeError, ValueError) as exc:  # not two whole numbers
        raise PageError(f"Page {page.index + 1} cannot be rendered at a size of {size!r}.") from exc
    if width_px <= 0 or height_px <= 0:
        raise PageError(f"Page {page.index + 1} cannot be rendered at {width_px} x {height_px} px.")
    size = (width_px, height_px)
    source = pdf_file or path
    try:
        if document is None:
            with mupdf().open(source, filetype="pdf") as opened:
                return _render_with_mupdf(opened, page, size)
        return _render_with_mupdf(document, page, size)
    except PageError:
        raise
    except Exception as exc:  # MuPDF raises its own types (FzErrorLimit is no RuntimeError)
        if not fallback:
            raise PageError(
                f"Page {page.index + 1} of {path.name} could not be rendered.", details=repr(exc)
            ) from exc
        mupdf_error = exc
    try:
        return _render_with_poppler(source, page, size)
    except PageError:
        raise
    except Exception as exc:
        raise PageError(
            f"Page {page.index + 1} of {path.name} could not be rendered.",
            details=f"MuPDF: {mupdf_error!r}\npoppler: {exc!r}",
        ) from exc


def _render_with_mupdf(document: pymupdf.Document, info: PageInfo, size: tuple[int, int]) -> RenderedPage:
    """Draw page ``info.index`` with MuPDF at ``size`` (width, height) pixels.

    MuPDF draws the crop box (intersected with the media box) with /Rotate and UserUnit applied;
    ``page.rect`` is that box as displayed, in points, with its origin at 0, 0. A rect of another
    shape than ``info``'s (the size was chosen for that one) fails with a :class:`PageError`.
    """
    index = info.index
    page = document.load_page(index)
    rect = page.rect  # already rotated: the page as displayed
    _check_shape((rect.width, rect.height), info, "MuPDF")
    width_px, height_px = size
    # Independent x and y zoom land exactly on the size asked for; for a model's size the
    # distortion is under one cell, the same the model's processor would apply.
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


def _render_with_poppler(path: Path, page: PageInfo, size: tuple[int, int]) -> RenderedPage:
    """Draw ``page`` with poppler's ``pdftoppm``: the same picture MuPDF would draw.

    The output is exactly ``size`` (width, height) pixels, chosen for the displayed page
    (``page.width_pt`` x ``page.height_pt`` points). pdftoppm is told to draw the crop
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
    width_px, height_px = size
    number = str(page.index + 1)
    target = os.fspath(path.absolute())  # never read as an option, even if the name starts with "-"
    _check_shape(_poppler_displayed_size(path, page.index), page, "poppler", path.name)
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


def _check_shape(shown: tuple[float, float], page: PageInfo, renderer: str, name: str = "") -> None:
    """Raise :class:`PageError` unless ``shown`` (width, height), the page as ``renderer``
    displays it, has the shape of ``page`` (the size asked for was chosen for that one), within
    :data:`_ASPECT_TOLERANCE`. ``page`` was read by MuPDF, so poppler's disagreement is two
    engines that disagree on the page's geometry (box or rotation)."""
    shown_width, shown_height = shown
    if shown_width > 0 and shown_height > 0 and page.width_pt > 0 and page.height_pt > 0:
        ratio = (shown_width / shown_height) / (page.width_pt / page.height_pt)
        if abs(ratio - 1) <= _ASPECT_TOLERANCE:
            return
    where = f" of {name}" if name else ""
    against = f"{page.width_pt:g} x {page.height_pt:g} pt against {shown_width:g} x {shown_height:g} pt"
    if renderer == "poppler":
        message = f"MuPDF and poppler disagree on its shape ({against})."
    else:
        message = f"its size changed since it was read ({against})."
    raise PageError(f"Page {page.index + 1}{where} could not be rendered: {message}")


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
