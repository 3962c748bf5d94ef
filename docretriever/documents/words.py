"""A page's own words (its text layer) with their boxes on the page as displayed.

Read in the render worker (:mod:`docretriever.documents.render_worker`), never in the app's
process: MuPDF parses the page's content stream to find them, as it does to draw it. Never OCR:
a page without a text layer (a scan) has no words here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docretriever.errors import PageError

if TYPE_CHECKING:
    import pymupdf

    from docretriever.documents.pdf import PageInfo

# A page holds a few hundred to a few thousand words; more than this is a hostile or generated
# file, whose first words are as good a snippet as any and whose reply stays small.
MAX_WORDS = 20_000
# Longer "words" (a run of characters without spaces) are cut: a snippet shows ~100 characters.
MAX_WORD_CHARS = 200
# How far (relative) the page's sides may differ from those recorded before its words are
# taken to belong to another version of the file (their boxes would not match the hit's).
_SHAPE_TOLERANCE = 0.01


@dataclass(frozen=True)
class PageWord:
    """One word of a page's text layer: its box in points on the page as displayed (rotation
    applied, origin top-left, x right, y down: the frame of :meth:`Hit.regions`), its text, and
    MuPDF's block, line and word numbers (reading order within the page's text)."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    block: int
    line: int
    word: int

    @property
    def order(self) -> tuple[int, int, int]:
        """Its place in reading order: (block, line, word number)."""
        return (self.block, self.line, self.word)


class WordList(list[PageWord]):
    """A page's words, as the worker sends them back (a type of its own, so that a reply of
    words is never taken for a page list)."""


def to_displayed(
    box: tuple[float, float, float, float], rotation: int, displayed_size: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Map a box from the page's unrotated coordinates (where MuPDF's text extraction puts
    words, origin at the crop box's top-left) to the page as displayed.

    ``rotation`` is the page's rotation in degrees clockwise (0, 90, 180 or 270; any other
    value counts as 0), ``displayed_size`` the displayed (width, height) in points. The inverse
    of :func:`docretriever.highlight.regions.to_unrotated`; the same as MuPDF's
    ``rect * page.rotation_matrix``.
    """
    width, height = displayed_size
    x0, y0, x1, y1 = box
    rotation = int(rotation) % 360 if rotation % 90 == 0 else 0
    corners = ((x0, y0), (x1, y1))
    if rotation == 90:
        mapped = [(width - y, x) for x, y in corners]
    elif rotation == 180:
        mapped = [(width - x, height - y) for x, y in corners]
    elif rotation == 270:
        mapped = [(y, height - x) for x, y in corners]
    else:
        mapped = list(corners)
    xs, ys = [c[0] for c in mapped], [c[1] for c in mapped]
    return (min(xs), min(ys), max(xs), max(ys))


def read_page_words(document: pymupdf.Document, info: PageInfo) -> WordList:
    """The words of page ``info.index`` of an open ``document`` (rotations normalized, as
    :func:`~docretriever.documents.pdf.open_pdf` leaves them), boxes on the page as displayed;
    empty for a page without a text layer. At most :data:`MAX_WORDS` words, each at most
    :data:`MAX_WORD_CHARS` characters.

    Raises :class:`PageError` when the page cannot be loaded or its text read, and when its
    size is not ``info``'s (the file changed since it was indexed: the words would not lie
    where the hit's regions are).
    """
    from docretriever.documents.pdf import mupdf

    pymupdf = mupdf()
    try:
        page = document.load_page(info.index)
        rect = page.rect  # the page as displayed
        width, height = float(rect.width), float(rect.height)
        _check_shape((width, height), info)
        # Text extraction only: the text layer the file carries. get_textpage_ocr (Tesseract) is
        # never called and no OCR option is given, so a scanned page has no words, not guessed ones.
        flags = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP  # ligatures split: "fi"
        raw: list[Any] = page.get_textpage(flags=flags).extractWORDS()
    except PageError:
        raise
    except Exception as exc:  # MuPDF raises its own types
        raise PageError(f"The text of page {info.index + 1} could not be read.", details=repr(exc)) from exc
    rotation = int(page.rotation) % 360
    words = WordList()
    for x0, y0, x1, y1, text, block, line, number in raw[:MAX_WORDS]:
        box = to_displayed((float(x0), float(y0), float(x1), float(y1)), rotation, (width, height))
        words.append(PageWord(*box, str(text)[:MAX_WORD_CHARS], int(block), int(line), int(number)))
    return words


def _check_shape(shown: tuple[float, float], info: PageInfo) -> None:
    width, height = shown
    recorded = (info.width_pt, info.height_pt)
    if all(abs(now - then) <= _SHAPE_TOLERANCE * then for now, then in zip(shown, recorded, strict=True)):
        return
    raise PageError(
        f"Page {info.index + 1} changed since it was indexed ({info.width_pt:g} x {info.height_pt:g} pt "
        f"then, {width:g} x {height:g} pt now)."
    )
