"""From a page's words and a hit's best region to the snippet shown beside the hit: pure functions.

Boxes are PDF points of the page as displayed (rotation applied, origin top-left), the frame of
:mod:`docretriever.highlight.regions`; the words' boxes must be in it too (see
:func:`docretriever.documents.words.to_displayed`), or a rotated page yields the wrong words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from docretriever.documents.words import PageWord

# What a snippet holds at most, in characters: two lines of a result card's tooltip, a line of
# JSON. Shells cut it shorter to fit (a terminal line).
SNIPPET_CHARS = 200
ELLIPSIS = "…"
# A word counts as under the region when its centre lies in it, or when at least this share of
# its box does: a long word whose centre falls just outside. (At a half or more the centre rule
# alone would decide: a box covering half of a word's width or height holds its centre line.)
OVERLAP_SHARE = 0.4

Box = tuple[float, float, float, float]

# Characters a hostile text layer could use to spoof or garble what is shown: bidi overrides
# and isolates (text that reads backwards), line and paragraph separators.
_SPOOFING = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"), " ")


def words_in(words: Sequence[PageWord], box: Box, share: float = OVERLAP_SHARE) -> list[PageWord]:
    """The ``words`` under ``box`` (x0, y0, x1, y1): those whose centre lies in it or which it
    covers by at least ``share`` of their area, in reading order (block, line, word number)."""
    x0, y0, x1, y1 = box
    chosen = []
    for word in words:
        centre_x, centre_y = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
        if x0 <= centre_x <= x1 and y0 <= centre_y <= y1:
            chosen.append(word)
            continue
        area = max(0.0, word.x1 - word.x0) * max(0.0, word.y1 - word.y0)
        across = max(0.0, min(x1, word.x1) - max(x0, word.x0))
        overlap = across * max(0.0, min(y1, word.y1) - max(y0, word.y0))
        if area > 0 and overlap >= share * area:
            chosen.append(word)
    return sorted(chosen, key=lambda word: word.order)


def clean(text: str) -> str:
    """``text`` safe to print and show on one line: control characters (a terminal's escape
    sequences too) and bidi overrides become spaces, runs of white space one space. U+FFFD, which
    MuPDF gives for a glyph the file maps to no character, is dropped: it says nothing to a reader."""
    text = text.translate(_SPOOFING).replace("\ufffd", "")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)
    return re.sub(r"\s+", " ", text).strip()


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters (at least 1) at a word boundary, with an
    ellipsis when anything was cut; a first word longer than that is cut inside."""
    limit = max(1, max_chars)
    if len(text) <= limit:
        return text
    room = text[: limit - len(ELLIPSIS) + 1]  # one more: a space right after the cut is a boundary
    cut = room.rfind(" ")
    kept = (room[:cut] if cut > 0 else "").rstrip(" ,;:.-–—")
    return (kept or text[: limit - len(ELLIPSIS)]) + ELLIPSIS


def snippet_of(words: Sequence[PageWord], box: Box, max_chars: int = SNIPPET_CHARS) -> str | None:
    """The words under ``box`` joined with spaces, cleaned (:func:`clean`) and cut to
    ``max_chars`` (:func:`shorten`); None when no word with any text lies there."""
    text = clean(" ".join(word.text for word in words_in(words, box)))
    return shorten(text, max_chars) if text else None
