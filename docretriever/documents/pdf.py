"""Opening PDFs with PyMuPDF and reading what the catalog needs about them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
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
        yield document
    finally:
        document.close()


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
