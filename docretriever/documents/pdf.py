"""Opening PDFs with PyMuPDF and reading what the catalog needs about them."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from docretriever.errors import DocumentError, EncryptedDocumentError, WrongPasswordError

if TYPE_CHECKING:
    import pymupdf

_HASH_CHUNK = 1 << 20


@functools.cache
def mupdf() -> ModuleType:
    """PyMuPDF, imported on first use: importing it takes up to two seconds, which starting the
    app or a CLI command that opens no PDF should not pay."""
    import pymupdf

    # MuPDF prints recoverable problems (a mislabelled ICC profile, a repaired xref) straight to
    # the terminal. Pages it cannot handle raise exceptions, which are reported per file and
    # page; the rest is noise to a person.
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    return pymupdf


@dataclass(frozen=True)
class PageInfo:
    """One page as a viewer displays it: size in PDF points (1/72 in) after rotation, and the
    number printed on it when the PDF says (its page label: "iv", "92", "A-3"), else None."""

    index: int  # 0-based
    width_pt: float
    height_pt: float
    rotation: int  # degrees clockwise, one of 0, 90, 180, 270
    label: str | None = None


def sha256_of_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes: the document's identity in the library."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# The page count each document open in open_pdf declared when it was opened, by id(document)
# (a Document takes no weak references); None when it declared none that can be read.
_DECLARED_PAGES: dict[int, int | None] = {}


# A password, or what gives one when it is needed (looked up only for a file that needs one).
Password = str | Callable[[], str | None] | None


@contextmanager
def open_pdf(path: Path, password: Password = None) -> Iterator[pymupdf.Document]:
    """Open a PDF for reading, raising a :class:`DocumentError` a person understands.

    The file type is forced to PDF so that a text or image file named ``.pdf`` is refused
    instead of being converted. A PDF with an empty user password opens; one that needs a
    password opens with ``password`` (a callable is called only then), raises
    :class:`WrongPasswordError` when that does not open it and :class:`EncryptedDocumentError`
    without one. A file that opens "repaired" with zero pages (typically a truncated download)
    is an error, not an empty document.
    """
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"Cannot read {name}: {exc.strerror or exc}.") from exc
    if size == 0:
        raise DocumentError(f"{name} is empty (0 bytes).")
    try:
        document = mupdf().open(path, filetype="pdf")
    except Exception as exc:
        raise DocumentError(
            f"{name} is not a readable PDF (damaged or not a PDF at all).", details=repr(exc)
        ) from exc
    try:
        if document.needs_pass and not document.authenticate(""):
            _authenticate(document, name, password() if callable(password) else password)
        # Read before any page is loaded: loading a page beyond the real ones makes MuPDF
        # rewrite the /Count, in memory, to what the tree holds.
        _DECLARED_PAGES[id(document)] = declared_page_count(document)
        # Normalizing loads every page, which drops pages the page tree promises but lacks.
        normalize_rotations(document)
        if document.page_count == 0:
            raise DocumentError(f"{name} has no pages (the file is probably truncated or damaged).")
        yield document
    finally:
        _DECLARED_PAGES.pop(id(document), None)
        document.close()


def _authenticate(document: pymupdf.Document, name: str, password: str | None) -> None:
    """Open an encrypted ``document`` with ``password``; never puts the password in a message."""
    if password is None:
        raise EncryptedDocumentError(f"{name} is encrypted: a password is required to open it.")
    if not document.authenticate(password):
        raise WrongPasswordError(f"The password for {name} is not right.")


@contextmanager
def open_pdf_or_none(path: Path, password: Password = None) -> Iterator[pymupdf.Document | None]:
    """:func:`open_pdf`, or None when MuPDF cannot open the file (poppler may still render it).
    For renderers: a page is drawn from a document whose rotations are normalized. A file that
    needs a password raises as :func:`open_pdf` does: poppler is not given passwords (a command
    line is visible to every user of the computer)."""
    with ExitStack() as stack:
        try:
            document: pymupdf.Document | None = stack.enter_context(open_pdf(path, password))
        except EncryptedDocumentError:
            raise
        except DocumentError:
            document = None
        yield document


class PageList(list[PageInfo]):
    """The pages of a document, and ``note``: what the file promises that is not there (pages
    its page tree declares but does not hold), for the document's note; None when nothing is
    missing. The render worker sends it back through worker_protocol."""

    note: str | None = None


def declared_page_count(document: pymupdf.Document) -> int | None:
    """The /Count of the document's root page tree, or None when there is none or it is not a
    non-negative integer. MuPDF trusts it until a page beyond the real ones is loaded, and then
    rewrites it (in memory) to the pages the tree holds: read it before loading any page."""
    try:
        kind, value = document.xref_get_key(document.pdf_catalog(), "Pages")
        if kind != "xref":
            return None
        kind, count = document.xref_get_key(int(value.split()[0]), "Count")
        return int(count) if kind == "int" and int(count) >= 0 else None
    except Exception:  # a damaged catalog: MuPDF's own count is all there is
        return None


def missing_pages_note(declared: int | None, real: int) -> str | None:
    """The note for a file whose page tree declares ``declared`` pages but holds ``real``."""
    if declared is None or declared <= real:
        return None
    missing = declared - real
    which = f"page {real + 1}" if missing == 1 else f"pages {real + 1}-{declared}"
    return (
        f"The file declares {declared} pages but holds only {real}: {which} "
        f"{'does' if missing == 1 else 'do'} not exist and {'is' if missing == 1 else 'are'} not indexed."
    )


def read_page_infos(document: pymupdf.Document) -> PageList:
    """Size and rotation of every page, as displayed. Pages whose size cannot be read are
    given the size of the page before them so that rendering can still report its own error.

    Pages the page tree's /Count promises but does not hold are left out (MuPDF drops them from
    its count once it has looked for them), and :attr:`PageList.note` says so."""
    if id(document) in _DECLARED_PAGES:
        declared = _DECLARED_PAGES[id(document)]
    else:  # not opened by open_pdf: the /Count is as written while no page has been loaded
        declared = declared_page_count(document)
    infos = PageList()
    labels = page_labels(document)
    for index in range(document.page_count):
        label = labels(index)
        try:
            page = document.load_page(index)
            rect = page.rect
            info = PageInfo(index, float(rect.width), float(rect.height), int(page.rotation) % 360, label)
        except Exception:
            previous = infos[-1] if infos else PageInfo(index, 612.0, 792.0, 0)
            info = PageInfo(index, previous.width_pt, previous.height_pt, 0, label)
        infos.append(info)
    # Loading a page that does not exist makes MuPDF count the pages it really holds.
    real = document.page_count
    infos[:] = [info for info in infos if info.index < real]
    infos.note = missing_pages_note(declared, real)
    return infos


def page_labels(document: pymupdf.Document) -> Callable[[int], str | None]:
    """The label of each page (0-based index), as viewers show it beside the page number: None
    when the PDF has no labels, or none that can be read. The label rules are read once (each
    ``Page.get_label`` reads them again)."""
    from pymupdf.utils import get_label_pno

    try:
        rules = sorted(document._get_page_labels())
    except Exception:  # a damaged /PageLabels tree: the page numbers alone
        rules = []
    if not rules:
        return lambda index: None

    def label(index: int) -> str | None:
        try:
            return str(get_label_pno(index, rules)).strip() or None
        except Exception:
            return None

    return label


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
