"""``search --like DOC:PAGE`` (and the shell's ``:like``): pages like a page of the library."""

from __future__ import annotations

from docretriever.errors import InvalidInputError

LIKE_FORM = "DOC:PAGE (a doc id or a file's path, a colon, then the page number from 1)"


def parse_like(text: str, option: str = "--like") -> tuple[str, int]:
    """``"3f2a9c:4"`` or ``"~/papers/report.pdf:4"`` as (the document's reference, its 1-based
    page). Split at the last colon, so that a path may hold colons itself ("C:\\a.pdf:2");
    ``option`` names what took it in an error (the shell's ``:like``).

    Raises:
        InvalidInputError: no page number after the last colon, or no document before it.
    """
    reference, colon, page = text.strip().rpartition(":")
    if not colon or not reference.strip():
        raise InvalidInputError(f"{option} takes {LIKE_FORM}, such as 3f2a9c01:4; got {text!r}.")
    try:
        number = int(page.strip())
    except ValueError:
        raise InvalidInputError(
            f"{option} takes {LIKE_FORM}: {page.strip()!r} after the last colon is not a page number."
        ) from None
    return reference.strip(), number
