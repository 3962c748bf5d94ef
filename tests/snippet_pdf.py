"""A PDF with known words at known places for the snippet tests (core, CLI, GUI): two pages
filled edge to edge with unique words (the second turned a quarter), a third only a picture."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw

FONT_SIZE, LINE_STEP, COLUMN_STEP = 9.0, 12.0, 36.0
Box = tuple[float, float, float, float]


def _word_grid(page: pymupdf.Page, prefix: str) -> dict[str, Box]:
    """Fill ``page`` edge to edge with lines of unique words ("a03c05": page a, line 3, word 5), so
    that any region of a cell or more lies over words; each word's box in the page's unrotated
    coordinates, as placed."""
    boxes: dict[str, Box] = {}
    width, height = page.rect.width, page.rect.height
    for line, y in enumerate(np.arange(FONT_SIZE + 2, height - 2, LINE_STEP)):
        words = [f"{prefix}{line:02d}c{column:02d}" for column in range(int((width - 4) // COLUMN_STEP))]
        x = 4.0
        for text in words:
            page.insert_text((x, float(y)), text, fontsize=FONT_SIZE, fontname="helv")
            length = pymupdf.get_text_length(text, fontname="helv", fontsize=FONT_SIZE)
            boxes[text] = (x, float(y) - FONT_SIZE, x + length, float(y) + 0.3 * FONT_SIZE)
            x += COLUMN_STEP
    return boxes


def _picture_page(document: pymupdf.Document) -> None:
    """A page that is only a picture of text (a scan): no text layer."""
    image = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(image)
    for row in range(20):
        draw.text((40, 30 + 36 * row), "a scanned line of words, drawn, not typed", fill="black")
    png = io.BytesIO()
    image.save(png, "PNG")
    document.new_page(width=612, height=792).insert_image(pymupdf.Rect(0, 0, 612, 792), stream=png.getvalue())


def make_pdf(path: Path) -> dict[int, dict[str, Box]]:
    """The test PDF: page 1 upright, page 2 turned 90 degrees, page 3 a picture. Returns each
    text page's words with their boxes on the page as displayed (MuPDF's own rotation of the
    boxes placed: an oracle independent of the code under test)."""
    document = pymupdf.open()
    shown: dict[int, dict[str, Box]] = {}
    for number, (prefix, rotation) in enumerate((("a", 0), ("b", 90)), start=1):
        page = document.new_page(width=612, height=792)
        placed = _word_grid(page, prefix)
        page.set_rotation(rotation)
        shown[number] = {t: tuple(pymupdf.Rect(b) * page.rotation_matrix) for t, b in placed.items()}
    _picture_page(document)
    document.save(path)
    return shown
