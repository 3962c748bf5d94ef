"""Rendered pages of known words: the data a tiny ColQwen2 learns to read from, and tests check against.

Every page is a real one-page PDF written with PyMuPDF (base-14 fonts, several sizes and
colours, headings, lines, two columns, tables, light speckle like a scan, /Rotate 90/180/270)
and is rendered through the product's own path (:func:`docretriever.documents.render.render_page`)
at a given visual-token budget. Each word's box is known in points of the page as displayed
(rotation applied, origin top-left), the frame of :class:`docretriever.highlight.regions.Region`.

The output depends only on ``(seed, index)`` and :data:`GENERATOR_VERSION`: page ``i`` of a seed
is the same whether it is made alone or in a run of thousands, so a held-out set is a seed that
training never used. Command line: ``python -m docretriever.testing.reading_pages OUT.pdf``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from docretriever.embedding.geometry import COLQWEN2_GEOMETRY, CellGeometry

GENERATOR_VERSION = 3

# Common English words, lower case, letters only.
_VOCABULARY_TEXT = """
able about above accept account across action active actor address admit adult advice affect
after again agent agree ahead allow almost alone along already always amount animal answer
anyone appear apply area argue army around arrive artist assume attack author autumn avoid
baby back ball bank base basket beach bear beat beauty become before begin behind believe
bench best better beyond bill bird black blade blood blue board boat body bone book border
bottle bottom brain branch bread break bridge bright bring brother brown budget build burn
butter buyer cable camera camp candle capital captain carbon card care carry case castle
catch cause cell center chain chair chance change chapter charge cheap check cheese chest
chief child choice church circle city claim class clean clear client climb clock close cloud
coach coast coffee cold collect color column common copper corner cotton count country court
cover crash cream credit crowd cycle daily damage dance danger dark data daughter dealer debate
decade decide deep defend degree deliver demand design desk detail device diary dinner direct
doctor dollar door double dozen draft drama dream dress drink driver during duty eager early
earth east easy edge effect effort eight either elbow election eleven empty energy engine enjoy
enough entry equal error escape evening event exact exam expert export fabric factor factory
fair family famous farmer father fault feather feature fence field fifty figure final finger
fire firm first fish flag flame flight floor flower focus follow forest forget fork formal
fortune forty forward frame fresh friend front fruit funny future garden gather gentle giant
gift glass glove goal gold golf grace grain grand grape grass great green ground group growth
guard guest guide guitar habit hammer handle happy harbor health heart heavy height hello
helmet hidden highway history hobby holiday honey horse hotel hour house human hunger hunter
idea image impact income index inside invoice island jacket jelly jewel journey judge juice
jungle kettle kitchen knee knife label ladder lake lamp language laptop large laser later
laugh lawyer layer leader league leather lemon lesson letter level library light limit linen
liquid listen little local lock lunch machine magnet manager mango marble market master matter
meadow medal member memory metal method middle minute mirror model moment money monkey month
morning mother motor mountain mouse movie muscle museum music napkin narrow nation nature
needle nephew never night noble noise normal north notice number object ocean office olive
onion orange orbit order organ outer oven owner oxygen paint palace panel paper parent parrot
party pattern peace pencil people pepper period person phone piano picture pilot pillow planet
plastic plate pocket poem police policy potato powder power prize profit public pupil purple
puzzle quarter queen quick quiet rabbit radio railway random rapid reader record region remote
rescue result revenue ribbon rifle river rocket roof rubber ruler saddle safety salad salmon
sample sand school science screen season second secret senior series server shadow shelf shell
shield shirt shoe signal silver simple singer sister skill sleep slope smoke snake solar soldier
sound source space spider spirit spring square stable stage star station steam steel stone
storm story street student sugar summer sunset supply survey sweet switch symbol system table
tablet talent target teacher temple tennis theory ticket tiger timber toast tomato tongue tower
trade traffic train travel treaty tunnel turtle uncle union unit valley value velvet village
violin visit voice volume wagon wallet water wealth weather wheel whisper window winter wisdom
wolf wonder wooden worker yellow young zebra
"""
# Every other word of the list: 289 words. A model this small, trained for minutes on a CPU,
# learns a few hundred word shapes from a few thousand pages; with all 578 (version 2) each word
# was seen too rarely and nothing beyond "text is here" was learnt.
VOCABULARY: tuple[str, ...] = tuple(dict.fromkeys(_VOCABULARY_TEXT.split()))[::2]

# Base-14 fonts by their PyMuPDF names: Helvetica, Times and Courier, regular and bold.
FONTS = ("helv", "hebo", "tiro", "tibo", "cour", "cobo")
# Small pages with large type: at the budgets a test can afford on a CPU (128-192 cells), a
# 30-pt word on these pages is about one cell tall and three wide, as 12-pt text is on a
# letter page at ColQwen2's 768 cells. Version 1 drew 16-28 pt words on pages up to A4 and a
# tiny model could not tell the words apart at 96-192 cells (7-px letters).
PAGE_SIZES = ((298.0, 420.0), (420.0, 298.0), (320.0, 320.0), (280.0, 360.0))
LAYOUTS = ("lines", "heading", "columns", "table", "scattered")
ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class WordBox:
    """One word on a page and its box in points of the displayed page (origin top-left)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class ReadingPage:
    """One generated page: the one-page PDF, its words (in writing order) and how it was made."""

    pdf: bytes
    words: tuple[WordBox, ...]
    layout: str
    rotation: int
    width_pt: float  # as displayed, rotation applied
    height_pt: float

    def boxes_of(self, word: str) -> list[WordBox]:
        return [box for box in self.words if box.text == word]


def make_page(
    seed: int,
    index: int,
    *,
    rotation: int | None = None,
    key_word: str | None = None,
    avoid: frozenset[str] = frozenset(),
) -> ReadingPage:
    """Page ``index`` of the pages of ``seed``: a one-page PDF with 1 to 8 words.

    ``rotation`` forces a /Rotate value (default: 0 for 3 pages in 4, else 90/180/270);
    ``key_word`` is written once, and no word of ``avoid`` appears on the page. Boxes are where
    each word was written, mapped to the displayed page. Raises ValueError for a word outside
    :data:`VOCABULARY`.
    """
    import pymupdf

    if key_word is not None and key_word not in VOCABULARY:
        raise ValueError(f"{key_word!r} is not in the vocabulary")
    rng = random.Random(f"{GENERATOR_VERSION}:{seed}:{index}")
    width, height = rng.choice(PAGE_SIZES)
    layout = rng.choice(LAYOUTS)
    if rotation is None:
        rotation = 0 if rng.random() < 0.75 else rng.choice(ROTATIONS[1:])
    pool = [w for w in VOCABULARY if w not in avoid and w != key_word]
    document = pymupdf.open()
    page = document.new_page(width=width, height=height)
    background = tuple(1.0 - rng.random() * 0.12 for _ in range(3))
    page.draw_rect(page.rect, color=None, fill=background, overlay=False)
    slots = _layout_slots(rng, layout, width, height)
    words = [rng.choice(pool) for _ in slots]
    if key_word is not None:
        words[rng.randrange(len(words))] = key_word
    written = []
    for (x, y, size, max_width), word in zip(slots, words, strict=True):
        font = rng.choice(FONTS)
        size = min(size, _fitting_size(pymupdf, word, font, size, max_width))
        ink = tuple(rng.random() * 0.45 for _ in range(3))
        page.insert_text((x, y), word, fontname=font, fontsize=size, color=ink)
        written.append((word, _ink_box(pymupdf, word, font, size, x, y)))
    if layout == "table":
        _draw_table_lines(page, slots)
    if rng.random() < 0.4:
        _speckle(page, rng)
    page.set_rotation(rotation)
    matrix = page.rotation_matrix
    boxes = []
    for word, box in written:
        shown = box * matrix
        boxes.append(WordBox(word, shown.x0, shown.y0, shown.x1, shown.y1))
    pdf = document.tobytes(garbage=1)
    displayed = page.rect
    document.close()
    return ReadingPage(pdf, tuple(boxes), layout, rotation, float(displayed.width), float(displayed.height))


def render_reading_page(
    page: ReadingPage, visual_tokens: int, geometry: CellGeometry = COLQWEN2_GEOMETRY
) -> Image.Image:
    """``page`` rendered as the product renders a page for the model: RGB, whole cells of
    ``geometry`` (the reading model's family, ColQwen2: 28 px), at most ``visual_tokens`` of
    them, through :func:`docretriever.documents.render.render_page`."""
    import pymupdf

    from docretriever.documents.pdf import read_page_infos
    from docretriever.documents.render import render_page

    with pymupdf.open(stream=page.pdf, filetype="pdf") as document:
        info = read_page_infos(document)[0]
        size = geometry.render_size(info.width_pt, info.height_pt, visual_tokens)
        return render_page(Path("generated.pdf"), document, info, size).image


def held_out_set(
    seed: int, count: int, *, rotations: Sequence[int] | None = None
) -> list[tuple[ReadingPage, str]]:
    """``count`` pages, each with a key word that appears on no other page of the set.

    Returns (page, key word) pairs; a query of the key word has exactly one right page, so
    chance recall@1 is 1/count. The other words of the pages come from the rest of the
    vocabulary. ``rotations`` cycles /Rotate values over the pages (default: mostly upright, as
    :func:`make_page` draws). Raises ValueError when fewer than 40 words would be left for them.
    """
    if count > len(VOCABULARY) - 40:
        raise ValueError(f"at most {len(VOCABULARY) - 40} pages have unique key words")
    rng = random.Random(f"held-out:{GENERATOR_VERSION}:{seed}")
    keys = rng.sample(VOCABULARY, count)
    avoid = frozenset(keys)
    return [
        (make_page(seed, i, rotation=_cycle(rotations, i), key_word=key, avoid=avoid - {key}), key)
        for i, key in enumerate(keys)
    ]


def write_pdf(pages: Sequence[ReadingPage], destination: Path) -> Path:
    """All ``pages`` in order as one PDF at ``destination`` (page ``i`` of the list is page i+1)."""
    import pymupdf

    with pymupdf.open() as out:
        for page in pages:
            with pymupdf.open(stream=page.pdf, filetype="pdf") as one:
                out.insert_pdf(one)
        out.save(destination)
    return destination


def _cycle(values: Sequence[int] | None, index: int) -> int | None:
    return None if not values else values[index % len(values)]


def _layout_slots(
    rng: random.Random, layout: str, width: float, height: float
) -> list[tuple[float, float, float, float]]:
    """Baseline origins (x, y), font size and available width, in unrotated page points."""
    margin = rng.uniform(0.06, 0.12) * min(width, height)
    usable = width - 2 * margin
    slots: list[tuple[float, float, float, float]] = []
    if layout in ("lines", "heading"):
        y = margin
        if layout == "heading":
            size = rng.uniform(40, 54)
            y += size
            slots.append((margin, y, size, usable))
            y += size * 0.3
        body = rng.uniform(26, 36)
        while len(slots) < 8:
            y += body * 1.5
            if y > height - margin:
                break
            x = margin
            for _ in range(rng.randint(1, 2)):
                slots.append((x, y, body, usable / 2 - 14))
                x += usable / 2
    elif layout == "columns":
        body = rng.uniform(24, 32)
        for column in range(2):
            y = margin
            for _ in range(rng.randint(2, 4)):
                y += body * rng.uniform(1.4, 2.2)
                if y > height - margin:
                    break
                slots.append((margin + column * usable / 2, y, body, usable / 2 - 14))
    elif layout == "table":
        columns, rows = 2, rng.randint(2, 3)
        cell_w, cell_h = usable / columns, min(80.0, (height - 2 * margin) / rows)
        size = min(34.0, cell_h * 0.5)
        for r in range(rows):
            for c in range(columns):
                slots.append(
                    (margin + c * cell_w + 5, margin + r * cell_h + cell_h * 0.65, size, cell_w - 10)
                )
    else:  # scattered: labels anywhere, like a figure or a form, never on top of each other
        taken: list[tuple[float, float, float, float]] = []
        for _ in range(40):
            if len(slots) >= rng.randint(3, 6):
                break
            size = rng.uniform(26, 48)
            reserved = 3.6 * size  # the word is shrunk to fit this width
            x = rng.uniform(margin, max(margin, width - margin - reserved))
            y = rng.uniform(margin + size, height - margin)
            box = (x - 4, y - size - 4, x + reserved + 4, y + 0.3 * size + 4)
            if any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
                continue
            taken.append(box)
            slots.append((x, y, size, min(reserved, width - margin - x)))
    return slots[:8] or [(margin, margin + 36, 36.0, usable)]


def _fitting_size(pymupdf: object, word: str, font: str, size: float, max_width: float) -> float:
    length = pymupdf.get_text_length(word, fontname=font, fontsize=size)  # type: ignore[attr-defined]
    return size if length <= max_width else max(8.0, size * max_width / length)


def _draw_table_lines(page: object, slots: Sequence[tuple[float, float, float, float]]) -> None:
    xs = sorted({round(x - 5, 1) for x, _, _, _ in slots})
    ys = sorted({round(y, 1) for _, y, _, _ in slots})
    step = (ys[1] - ys[0]) if len(ys) > 1 else 60.0
    left, right = xs[0], xs[-1] + (xs[1] - xs[0] if len(xs) > 1 else 100.0)
    top, bottom = ys[0] - step * 0.65, ys[-1] + step * 0.35
    for y in [top, *(v + step * 0.35 for v in ys)]:
        page.draw_line((left, y), (right, y), color=(0.3, 0.3, 0.3), width=0.8)  # type: ignore[attr-defined]
    for x in [*xs, right]:
        page.draw_line((x, top), (x, bottom), color=(0.3, 0.3, 0.3), width=0.8)  # type: ignore[attr-defined]


def _speckle(page: object, rng: random.Random) -> None:
    """Dots and short strokes of grey, as a scanner leaves them."""
    rect = page.rect  # type: ignore[attr-defined]
    for _ in range(rng.randint(30, 120)):
        x, y = rng.uniform(0, rect.width), rng.uniform(0, rect.height)
        radius = rng.uniform(0.3, 1.4)
        grey = rng.uniform(0.35, 0.8)
        page.draw_circle((x, y), radius, color=None, fill=(grey, grey, grey))  # type: ignore[attr-defined]


def _ink_box(pymupdf: Any, word: str, font: str, size: float, x: float, y: float) -> Any:
    """The box a word written at baseline origin (x, y) takes, in unrotated page points: its
    advance width, from the font's ascender to its descender. Known from the writing itself,
    not read back from the page (MuPDF's word list joins two words that nearly touch)."""
    metrics = pymupdf.Font(font)
    width = pymupdf.get_text_length(word, fontname=font, fontsize=size)
    return pymupdf.Rect(x, y - metrics.ascender * size, x + width, y - metrics.descender * size)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docretriever.testing.reading_pages",
        description="Write generated reading pages into one PDF (to look at them).",
    )
    parser.add_argument("destination", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args(argv)
    import pymupdf

    out = pymupdf.open()
    for i in range(args.count):
        with pymupdf.open(stream=make_page(args.seed, i).pdf, filetype="pdf") as one:
            out.insert_pdf(one)
    out.save(args.destination)
    print(args.destination)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
