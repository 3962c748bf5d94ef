"""Opening PDFs with PyMuPDF and reading what the catalog needs about them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from docretriever.errors import DocumentError, EncryptedDocumentError

_HASH_CHUNK = 1 << 20

# MuPDF prints recoverable problems (a mislabelled ICC profile, a repaired xref) straight to the
# terminal. Pages it cannot handle raise exceptions, which are reported per file and page; the
# rest is noise to a person.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


@dataclass(frozen=True)
class PageInfo:
    """One page as a viewer displays it: size in PDF points (1/72 in) after rotation."""

    index: int  # 0-based
    width_pt: float
    height_pt: float
    rotation: int  # degrees clockwise, one of 0, 90, 180, 270


def sha256_of_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes: the document's identity in the library."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def open_pdf(path: Path) -> Iterator[pymupdf.Document]:
    """Open a PDF for reading, raising a :class:`DocumentError` a person understands.

    The file type is forced to PDF so that a text or image file named ``.pdf`` is refused
    instead of being converted. A PDF with an empty user password opens; one that needs a
    password raises :class:`EncryptedDocumentError`. A file that opens "repaired" with zero
    pages (typically a truncated download) is an error, not an empty document.
    """
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"Cannot read {name}: {exc.strerror or exc}.") from exc
    if size == 0:
        raise DocumentError(f"{name} is empty (0 bytes).")
    try:
        document = pymupdf.open(path, filetype="pdf")
    except Exception as exc:
        raise DocumentError(
            f"{name} is not a readable PDF (damaged or not a PDF at all).", details=repr(exc)
        ) from exc
    try:
        if document.needs_pass and not document.authenticate(""):
            raise EncryptedDocumentError(f"{name} is encrypted: a password is required to open it.")
        if document.page_count == 0:
            raise DocumentError(f"{name} has no pages (the file is probably truncated or damaged).")
        normalize_rotations(document)
        yield document
    finally:
        document.close()


@contextmanager
def open_pdf_or_none(path: Path) -> Iterator[pymupdf.Document | None]:
    """:func:`open_pdf`, or None when MuPDF cannot open the file (poppler may still render it).
    For renderers: a page is drawn from a document whose rotations are normalized."""
    with ExitStack() as stack:
        try:
            document: pymupdf.Document | None = stack.enter_context(open_pdf(path))
        except DocumentError:
            document = None
        yield document


def read_page_infos(document: pymupdf.Document) -> list[PageInfo]:
    """Size and rotation of every page, as displayed. Pages whose size cannot be read are
    given the size of the page before them so that rendering can still report its own error."""
    infos: list[PageInfo] = []
    for index in range(document.page_count):
        try:
            page = document.load_page(index)
            rect = page.rect
            info = PageInfo(index, float(rect.width), float(rect.height), int(page.rotation) % 360)
        except Exception:
            previous = infos[-1] if infos else PageInfo(index, 612.0, 792.0, 0)
            info = PageInfo(index, previous.width_pt, previous.height_pt, 0)
        infos.append(info)
    return infos


# Inheritance chains longer than this are damaged (or a loop); the page keeps what MuPDF made of it.
_MAX_PAGE_TREE_DEPTH = 64


def declared_rotation(document: pymupdf.Document, page: pymupdf.Page) -> object:
    """The page's /Rotate as written (inherited from the page tree when the page has none):
    an int or float, or None when there is none or it is not a number."""
    xref = page.xref
    for _ in range(_MAX_PAGE_TREE_DEPTH):
        kind, value = document.xref_get_key(xref, "Rotate")
        if kind in ("int", "float"):
            try:
                return int(value) if kind == "int" else float(value)
            except ValueError:
                return None
        if kind != "null":
            return None  # a name, a string, a reference...: not a number
        kind, parent = document.xref_get_key(xref, "Parent")
        if kind != "xref":
            return None
        xref = int(parent.split()[0])
    return None


def viewer_rotation(value: object) -> int:
    """The rotation a viewer applies for a /Rotate of ``value``: a multiple of 90 (negative or
    over 360 too, and 90.0 as 90) reduced to 0, 90, 180 or 270; anything else (94, 95.5, a
    name) is 0, as pdf.js and poppler treat it. MuPDF alone would snap 94 to 90 when drawing
    while PyMuPDF reports 0: the page would come out turned but be recorded as upright."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if value != value or value in (float("inf"), float("-inf")) or value % 90 != 0:
        return 0
    return int(value) % 360


def normalize_rotations(document: pymupdf.Document) -> None:
    """Make every page of ``document`` (in memory, nothing is saved) rotated as a viewer shows
    it (:func:`viewer_rotation`), so that its size, its reported rotation and MuPDF's drawing
    agree. Pages whose /Rotate is already a valid multiple of 90 are left alone."""
    for index in range(document.page_count):
        try:
            page = document.load_page(index)
            declared = declared_rotation(document, page)
            if declared is None or (isinstance(declared, int) and declared % 90 == 0):
                continue
            page.set_rotation(viewer_rotation(declared))
        except Exception:  # a damaged page: rendering reports it on its own
            continue
