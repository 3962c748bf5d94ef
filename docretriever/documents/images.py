"""Image files as documents, read with Pillow: one page per frame (a multi-page TIFF is a
document of pages), upright as the camera meant it (EXIF orientation applied), sized in points
from the resolution the file states.

Pages are read from the file's headers without decoding pixels (:meth:`ImagePages.page_infos`)
and a frame is decoded only when its page is drawn (:meth:`ImagePages.render`), so a TIFF of
thousands of frames is read like a PDF of thousands of pages: every page is indexed, as a PDF's
are (the PDF path has no page limit either).

Size limit: a frame of more than :data:`MAX_IMAGE_PIXELS` pixels is refused before any pixel
is decoded, with a reason. That is Pillow's own decompression-bomb threshold (about 89.5
megapixels: a 600 dpi scan of an A2 sheet); one such frame decoded takes over 268 MB (RGB),
and the model sees about a megapixel. JPEGs are decoded at a reduced scale when the page is
drawn much smaller than the photo (Pillow's ``draft``), which is faster, not a way round the
limit.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from docretriever.documents.formats import DocumentFormat
from docretriever.documents.pdf import PageInfo, PageList
from docretriever.documents.render import RenderedPage
from docretriever.errors import DocumentError, PageError

MAX_IMAGE_PIXELS = 89_478_485  # Pillow's Image.MAX_IMAGE_PIXELS default, fixed here
# An image that states no resolution (or an implausible one) is sized as a browser shows it at
# 100 %: 96 pixels to the inch. The size in points sets only the page's shape and the scale
# of its display, never the pixels the model sees.
DEFAULT_DPI = 96.0
_PLAUSIBLE_DPI = (20.0, 10_000.0)
_ORIENTATION = 0x0112
_SWAPS_SIDES = (5, 6, 7, 8)  # EXIF orientations that turn the image a quarter


def _open(path: Path, image_format: DocumentFormat) -> Image.Image:
    name = path.name
    with warnings.catch_warnings():  # a large image is refused below, with a reason
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path, formats=[image_format.filetype])
        except Image.DecompressionBombError as exc:
            raise DocumentError(_too_large(name, None), details=str(exc)) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            # SyntaxError: what Pillow's parsers raise for a malformed header
            raise DocumentError(
                f"{name} is not a readable {image_format.label} (damaged or not an image).", details=repr(exc)
            ) from exc


def _too_large(name: str, size: tuple[int, int] | None, frame: int | None = None) -> str:
    which = f"Frame {frame + 1} of {name}" if frame is not None else name
    dimensions = f" ({size[0]:,} x {size[1]:,} px)" if size else ""
    return (
        f"{which} is too large to index{dimensions}: images over {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels "
        "are refused, as decoding one would take over 268 MB of memory. Scale it down and add it again."
    )


class ImagePages:
    """An image file opened for its pages. ``close()`` releases the file."""

    def __init__(self, path: Path, image_format: DocumentFormat) -> None:
        self.path = path
        self.format = image_format
        self._image = _open(path, image_format)
        # Frames of a multi-page TIFF; other formats' extra frames (an animated WebP) are not pages.
        try:
            frames = getattr(self._image, "n_frames", 1) if self._image.format == "TIFF" else 1
        except (OSError, ValueError, SyntaxError, EOFError) as exc:  # a damaged chain of frames
            self._image.close()
            raise DocumentError(
                f"{path.name} cannot be read: its list of pages is damaged.", details=repr(exc)
            ) from exc
        self._frames = max(1, int(frames))

    def close(self) -> None:
        self._image.close()

    def page_infos(self) -> PageList:
        """Every frame's page: its size in points upright (EXIF orientation applied) at the
        resolution it states (else :data:`DEFAULT_DPI`), rotation 0 (the pixels are turned
        upright, not the page). A single-frame image is checked whole here (:meth:`_check_whole`),
        so that a damaged one (a truncated download) fails as a document, not as its only page.

        Raises :class:`DocumentError` for a frame over :data:`MAX_IMAGE_PIXELS` pixels (before
        decoding anything) and for an image that cannot be read."""
        pages = PageList()
        for index in range(self._frames):
            self._seek(index, DocumentError)
            width, height = _upright_size(self._image)
            if width * height > MAX_IMAGE_PIXELS:
                frame = index if self._frames > 1 else None
                raise DocumentError(_too_large(self.path.name, (width, height), frame))
            dpi_x, dpi_y = _dpi(self._image)
            if _orientation(self._image) in _SWAPS_SIDES:
                dpi_x, dpi_y = dpi_y, dpi_x
            pages.append(PageInfo(index, width * 72.0 / dpi_x, height * 72.0 / dpi_y, 0))
        if self._frames == 1:
            self._check_whole()
        return pages

    def _check_whole(self) -> None:
        """Raise :class:`DocumentError` when the (single-frame) image is damaged or truncated:
        a PNG's chunks are checked without inflating its pixels (Pillow's ``verify``), a JPEG
        is decoded at its smallest scale, other formats decoded."""
        try:
            if self._image.format == "PNG":
                with _open(self.path, self.format) as fresh:
                    fresh.verify()
            else:
                self._decoded(0, (1, 1))
        except PageError as exc:
            raise DocumentError(str(exc), details=exc.details) from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise DocumentError(
                f"{self.path.name} cannot be decoded: it is damaged or truncated.", details=repr(exc)
            ) from exc

    def render(self, info: PageInfo, size: tuple[int, int]) -> RenderedPage:
        """Page ``info`` (a frame) as an RGB image of exactly ``size`` (width, height) pixels,
        upright, transparency laid on white. Raises :class:`PageError` when the frame cannot be
        decoded (damaged, truncated) or is over :data:`MAX_IMAGE_PIXELS`."""
        frame = self._decoded(info.index, size)
        if frame.size != size:
            # A large reduction in steps (reducing_gap): as sharp as LANCZOS, a fraction of its time.
            frame = frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        return RenderedPage(frame, info.width_pt, info.height_pt, "pillow")

    def _seek(self, index: int, error: type[DocumentError] | type[PageError]) -> None:
        try:
            self._image.seek(index)
        except (EOFError, OSError, ValueError, SyntaxError) as exc:
            raise error(
                f"Frame {index + 1} of {self.path.name} cannot be read (the file is damaged).",
                details=repr(exc),
            ) from exc

    def _decoded(self, index: int, size: tuple[int, int]) -> Image.Image:
        """Frame ``index`` decoded, upright and RGB, at least ``size`` where the format can
        decode at a reduced scale (JPEG), else at its full size."""
        if self._frames > 1:
            # The open TIFF knows where its frames are; opening it again would read its
            # directories from the first up to this frame, for every page.
            self._seek(index, PageError)
            image = self._image
        else:
            # A fresh reader for every decode: a JPEG decoded at a reduced scale stays so.
            try:
                image = _open(self.path, self.format)
            except DocumentError as exc:
                raise PageError(str(exc), details=exc.details) from exc
        try:
            width, height = _upright_size(image)
            if width * height > MAX_IMAGE_PIXELS:
                raise PageError(_too_large(self.path.name, (width, height), index))
            if image.format == "JPEG":
                turned = _orientation(image) in _SWAPS_SIDES
                image.draft("RGB", (size[1], size[0]) if turned else size)
            image.load()
            return _rgb(ImageOps.exif_transpose(image))
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise PageError(
                f"{self.path.name} cannot be decoded{_frame(index, self._frames)}: "
                "it is damaged or truncated.",
                details=repr(exc),
            ) from exc
        finally:
            if image is not self._image:
                image.close()


def _frame(index: int, frames: int) -> str:
    return f" (frame {index + 1})" if frames > 1 else ""


def _orientation(image: Image.Image) -> int:
    if image.format == "PNG" and "exif" not in image.info:
        # The PNG specification puts eXIf before the pixels, where Pillow reads it on opening;
        # asking getexif() for one after them would decode the whole image to look.
        return 1
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: the image as stored
        return 1
    return value if isinstance(value, int) else 1


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) in pixels once EXIF orientation is applied, read from the header.
    Pillow's TIFF reader reports a TIFF's size already turned (and turns it when loading)."""
    width, height = image.size
    if image.format != "TIFF" and _orientation(image) in _SWAPS_SIDES:
        return height, width
    return width, height


def _dpi(image: Image.Image) -> tuple[float, float]:
    """The image's stated resolution (x, y) in pixels per inch, or :data:`DEFAULT_DPI` for a
    side where it states none or an implausible one (TIFF writers often put 1)."""
    stated: Any = image.info.get("dpi")
    low, high = _PLAUSIBLE_DPI
    try:
        x, y = (float(value) for value in stated)
    except (TypeError, ValueError):
        return DEFAULT_DPI, DEFAULT_DPI
    return (x if low <= x <= high else DEFAULT_DPI), (y if low <= y <= high else DEFAULT_DPI)


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB: transparency laid on white (as a viewer shows it on a page), 16-bit
    and float greys scaled to 8 bits rather than clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        extrema: Any = image.getextrema()
        low, span = float(extrema[0]), float(extrema[1]) - float(extrema[0]) or 1.0
        image = image.convert("F").point(lambda v: (v - low) * 255.0 / span).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image  # exif_transpose made a copy
