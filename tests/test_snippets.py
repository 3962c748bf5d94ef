"""Text snippets, first tier: choosing words under a region, rotation, cutting, cleaning; reading a
page's words in the render workers (the wire format, a rotated corpus page, passwords)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from conftest import SAMPLES, corpus_or_skip
from password_fixtures import USER_PASSWORD, encrypted_pdf

from docretriever.documents.pdf import PageInfo, open_pdf, read_page_infos
from docretriever.documents.render_pool import RenderPool
from docretriever.documents.words import MAX_WORDS, PageWord, WordList, read_page_words, to_displayed
from docretriever.documents.worker_protocol import (
    MalformedMessage,
    decode_reply,
    read_frame,
    read_request,
    write_reply,
    write_request,
)
from docretriever.errors import EncryptedDocumentError, PageError, WrongPasswordError
from docretriever.highlight import to_unrotated
from docretriever.highlight.snippet import ELLIPSIS, clean, shorten, snippet_of, words_in

KINDS = {"document", "encrypted", "wrong_password", "page"}


def word(text: str, box: tuple[float, float, float, float], order: tuple[int, int, int]) -> PageWord:
    return PageWord(*box, text, *order)


# Two lines of four words on a 400 x 300 pt page, each word 40 x 10 pt, given out of order.
LINES = [
    word(f"w{line}{n}", (20 + 60 * n, 20 + 30 * line, 60 + 60 * n, 30 + 30 * line), (0, line, n))
    for line in (1, 0)
    for n in (3, 1, 0, 2)
]


def test_the_words_whose_centre_lies_in_the_region_come_in_reading_order() -> None:
    # The box takes the middle two words of both lines: centres at x 100 and 160.
    chosen = words_in(LINES, (90, 15, 170, 65))
    assert [w.text for w in chosen] == ["w01", "w02", "w11", "w12"]
    assert snippet_of(LINES, (90, 15, 170, 65)) == "w01 w02 w11 w12"
    # A box over the page's white space has no words: no snippet.
    assert snippet_of(LINES, (300, 200, 390, 290)) is None


def test_a_word_the_region_covers_for_the_most_part_counts_though_its_centre_is_outside() -> None:
    long_word = word("Donaudampfschifffahrt", (0, 100, 200, 110), (1, 0, 0))
    # The centre (x 100) is outside; 40 % of the word is inside: it counts.
    assert words_in([long_word], (120, 95, 240, 115)) == [long_word]
    # 30 % inside: it does not (the control).
    assert words_in([long_word], (140, 95, 240, 115)) == []


def test_to_displayed_is_mupdfs_rotation_and_the_inverse_of_to_unrotated() -> None:
    document = pymupdf.open()
    page = document.new_page(width=300, height=500)
    box = (30.0, 40.0, 90.0, 55.0)
    for rotation in (0, 90, 180, 270):
        page.set_rotation(rotation)
        displayed = (page.rect.width, page.rect.height)
        expected = tuple(pymupdf.Rect(box) * page.rotation_matrix)
        assert to_displayed(box, rotation, displayed) == pytest.approx(expected)
        assert to_unrotated(to_displayed(box, rotation, displayed), rotation, displayed) == pytest.approx(box)


def test_boxes_left_unrotated_pick_the_wrong_words_on_a_quarter_turned_page() -> None:
    """The negative control: words kept in MuPDF's unrotated frame, matched against a region on
    the page as displayed, give other words than the ones shown there."""
    rotation, displayed_size = 90, (500.0, 300.0)  # a 300 x 500 pt page turned a quarter
    raw = [
        ("north", (20.0, 20.0, 80.0, 32.0)),
        ("middle", (120.0, 240.0, 180.0, 252.0)),
        ("south", (220.0, 460.0, 280.0, 472.0)),
    ]
    shown = [word(t, to_displayed(b, rotation, displayed_size), (0, i, 0)) for i, (t, b) in enumerate(raw)]
    left_as_is = [word(t, b, (0, i, 0)) for i, (t, b) in enumerate(raw)]
    # On the displayed page "north" sits at the top right: x 468-480, y 20-80.
    region = (440.0, 0.0, 500.0, 100.0)
    assert snippet_of(shown, region) == "north"
    assert snippet_of(left_as_is, region) != "north"


def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "one two three four five"
    assert shorten(text, 100) == text
    assert shorten(text, len(text)) == text
    assert shorten(text, 14) == "one two three" + ELLIPSIS
    assert shorten(text, 13) == "one two" + ELLIPSIS  # "three" + ellipsis would not fit
    for limit in range(1, len(text)):
        cut = shorten(text, limit)
        assert len(cut) <= limit and cut.endswith(ELLIPSIS)
        kept = cut.removesuffix(ELLIPSIS)
        assert kept == "" or (text.startswith(kept) and (limit < 5 or text[len(kept)] == " "))
    # One long word is cut inside rather than dropped.
    assert shorten("x" * 50, 10) == "x" * 9 + ELLIPSIS
    # Trailing punctuation before the ellipsis goes.
    assert shorten("first, second third", 12) == "first" + ELLIPSIS


def test_clean_drops_terminal_escapes_and_bidi_overrides() -> None:
    hostile = "safe\x1b[2J\x1b]0;owned\x07 \u202etxt.exe\nnext\tline"
    cleaned = clean(hostile)
    assert "\x1b" not in cleaned and "\x07" not in cleaned and "\u202e" not in cleaned
    assert "\n" not in cleaned and "\t" not in cleaned
    assert cleaned == "safe [2J ]0;owned txt.exe next line"
    assert clean("  يبيبح  habibi ") == "يبيبح habibi"  # right-to-left text itself is kept
    # Glyphs the file maps to no character (MuPDF's U+FFFD) say nothing: dropped, and a word of
    # nothing else with them.
    assert clean("habibi\ufffd\ufffd \ufffd\ufffd text") == "habibi text"


def test_words_and_their_replies_survive_the_wire_and_bad_ones_are_malformed() -> None:
    info = PageInfo(1, 500.0, 300.0, 90, "ii")
    stream = io.BytesIO()
    write_request(stream, ("words", "/tmp/a.pdf", info, "secret"))
    stream.seek(0)
    assert read_request(stream) == ("words", "/tmp/a.pdf", info, "secret")
    words = WordList(LINES)
    stream = io.BytesIO()
    write_reply(stream, ("ok", words))
    stream.seek(0)
    status, decoded = decode_reply(*read_frame(stream), KINDS, "words")
    assert status == "ok" and isinstance(decoded, WordList) and decoded == words
    good = [1.0, 2.0, 3.0, 4.0, "word", 0, 0, 0]
    assert decode_reply({"status": "ok", "words": [good]}, b"", KINDS, "words")[1][0].text == "word"
    for bad in (
        [[1.0, 2.0, 3.0, 4.0, "word", 0, 0]],
        [[float("nan"), 2.0, 3.0, 4.0, "word", 0, 0, 0]],
        [[1.0, 2.0, 3.0, 4.0, 7, 0, 0, 0]],
        [[1.0, 2.0, 3.0, 4.0, "word", -1, 0, 0]],
        [[1.0, 2.0, 3.0, 4.0, "w" * 1000, 0, 0, 0]],
        [good] * (MAX_WORDS + 1),
        "word",
    ):
        with pytest.raises(MalformedMessage):
            decode_reply({"status": "ok", "words": bad}, b"", KINDS, "words")
    with pytest.raises(MalformedMessage):  # a page list where words were asked for
        decode_reply({"status": "ok", "pages": [], "note": None}, b"", KINDS, "words")


def _ink_box(page: pymupdf.Page) -> tuple[float, float, float, float]:
    """Where the page's dark pixels are, in points of the page as displayed (drawn at 72 dpi)."""
    pixmap = page.get_pixmap(dpi=72, alpha=False)
    pixels = np.frombuffer(pixmap.samples, dtype=np.uint8).reshape(pixmap.height, pixmap.width, 3)
    ys, xs = np.nonzero(pixels.min(axis=2) < 128)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def test_a_rotated_corpus_pages_words_lie_where_its_ink_is() -> None:
    """habibi-rotated.pdf holds one line of text on four pages turned 0, 90, 180 and 270
    degrees: each page's words, as read, lie over the ink drawn on the page as displayed."""
    path = corpus_or_skip(SAMPLES / "015-arabic") / "habibi-rotated.pdf"
    with open_pdf(path) as document:
        infos = read_page_infos(document)
        assert {info.rotation for info in infos} == {0, 90, 180, 270}
        for info in infos:
            words = read_page_words(document, info)
            assert words, info
            ink = _ink_box(document.load_page(info.index))
            x0, y0 = min(w.x0 for w in words), min(w.y0 for w in words)
            x1, y1 = max(w.x1 for w in words), max(w.y1 for w in words)
            # The text's boxes cover its ink (glyph boxes run a little past the strokes).
            assert x0 - 3 <= ink[0] and ink[2] <= x1 + 3 and y0 - 3 <= ink[1] and ink[3] <= y1 + 3, info
            # The ink's centre region gives the page's Latin word.
            assert "habibi" in (snippet_of(words, ink) or ""), info


def _text_pdf(path: Path) -> Path:
    document = pymupdf.open()
    document.new_page(width=300, height=200).insert_text((30, 60), "plain words here", fontsize=14)
    document.new_page(width=300, height=200)  # no text at all
    document.save(path)
    return path


def test_the_workers_read_words_and_say_when_a_password_is_needed(tmp_path: Path) -> None:
    plain = _text_pdf(tmp_path / "plain.pdf")
    locked = encrypted_pdf(tmp_path / "locked.pdf", pages=1)
    page = PageInfo(0, 300.0, 200.0, 0)
    locked_page = PageInfo(0, 595.0, 842.0, 0)
    pool = RenderPool(workers=1)
    try:
        requests = [
            (plain, page, None),
            (plain, PageInfo(1, 300.0, 200.0, 0), None),
            (locked, locked_page, None),
            (locked, locked_page, "guess"),
            (locked, locked_page, USER_PASSWORD),
            (plain, PageInfo(0, 600.0, 400.0, 0), None),  # not the page indexed: the file changed
        ]
        text, blank, no_password, wrong, right, changed = pool.words(requests)
        assert [w.text for w in text] == ["plain", "words", "here"]
        assert blank == []  # no text layer: no words (and no OCR)
        assert isinstance(no_password, EncryptedDocumentError) and not isinstance(
            no_password, WrongPasswordError
        )
        assert isinstance(wrong, WrongPasswordError)
        assert isinstance(right, WordList) and "Quarterly" in [w.text for w in right]
        assert isinstance(changed, PageError) and "changed since it was indexed" in str(changed)
    finally:
        pool.close()
