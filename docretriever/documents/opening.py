"""Opening any supported document for its pages, whatever its format.

:func:`open_document` decides the format (:func:`~docretriever.documents.formats.detect_format`)
and gives an :class:`OpenedDocument`: its pages (:meth:`~OpenedDocument.page_infos`) and each
page drawn at a size (:meth:`~OpenedDocument.render`). PDFs, XPS, EPUB, CBZ, SVG, FB2 and MOBI
are opened by MuPDF, Office files by MuPDF once LibreOffice has made a PDF of them, images by
Pillow. Everything after this (the catalog, the model, display) sees pages, never formats.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from docretriever.documents import office
from docretriever.documents.formats import IMAGE, OFFICE, PAGES, DocumentFormat, detect_format
from docretriever.documents.images import ImagePages
from docretriever.documents.pdf import (
    PageInfo,
    PageList,
    Password,
    mupdf,
    open_pdf,
    open_pdf_or_none,
    read_page_infos,
)
from docretriever.documents.render import RenderedPage, display_size, render_page
from docretriever.errors import DocumentError

if TYPE_CHECKING:
    import pymupdf


class OpenedDocument(Protocol):
    """A document open for reading its pages."""

    def page_infos(self) -> PageList:
        """Every page's size (points, as displayed) and rotation; raises :class:`DocumentError`."""
        ...

    def render(self, info: PageInfo, size: tuple[int, int]) -> RenderedPage:
        """Page ``info`` as an RGB image of exactly ``size`` (width, height) pixels; raises
        :class:`~docretriever.errors.PageError`."""
        ...


class MuPdfPages:
    """A document MuPDF has open (``document``; None for a PDF that MuPDF cannot open, which
    poppler may still draw). ``pdf_file``: the PDF that holds the pages when ``path`` is not
    one; ``fallback``: whether poppler may draw what MuPDF cannot (a PDF)."""

    def __init__(
        self,
        path: Path,
        document: pymupdf.Document | None,
        *,
        pdf_file: Path | None = None,
        fallback: bool = True,
    ) -> None:
        self.path = path
        self.document = document
        self.pdf_file = pdf_file
        self.fallback = fallback

    def page_infos(self) -> PageList:
        if self.document is None:
            raise DocumentError(f"{self.path.name} is not a readable PDF (damaged or not a PDF at all).")
        return read_page_infos(self.document)

    def render(self, info: PageInfo, size: tuple[int, int]) -> RenderedPage:
        return render_page(
            self.path, self.document, info, size, pdf_file=self.pdf_file, fallback=self.fallback
        )


@contextmanager
def open_document(
    path: Path,
    password: Password = None,
    *,
    tolerant: bool = False,
    conversion_timeout_s: float = office.DEFAULT_TIMEOUT_S,
    sha256: str | None = None,
) -> Iterator[OpenedDocument]:
    """Open the document at ``path`` (any supported format) for its pages.

    ``password`` opens a PDF that needs one (see :func:`~docretriever.documents.pdf.open_pdf`);
    other formats take none. ``tolerant``: a PDF (or an Office file's PDF) that MuPDF cannot
    open is still given, for poppler to draw (display), instead of raising. An Office file is
    converted within ``conversion_timeout_s`` seconds unless its PDF is cached (looked up by
    ``sha256``, the file's digest, when given).

    Raises :class:`DocumentError` (and its password errors) for a file that cannot be opened,
    whose content is not what its name says, or of a kind this app does not read.
    """
    found = detect_format(path)
    with ExitStack() as stack:
        if found.family == IMAGE:
            images = ImagePages(path, found)
            stack.callback(images.close)
            yield images
        elif found.family == PAGES:
            yield MuPdfPages(path, stack.enter_context(_open_pages(path, found)), fallback=False)
        elif found.family == OFFICE:
            pdf = office.converted_pdf(path, found.label, conversion_timeout_s, sha256)
            opener = open_pdf_or_none if tolerant else open_pdf
            try:
                document = stack.enter_context(opener(pdf))
            except DocumentError as exc:
                raise DocumentError(
                    f"LibreOffice's PDF of {path.name} cannot be read.", details=str(exc)
                ) from exc
            yield MuPdfPages(path, document, pdf_file=pdf)
        else:
            opener = open_pdf_or_none if tolerant else open_pdf
            yield MuPdfPages(path, stack.enter_context(opener(path, password)))


@contextmanager
def _open_pages(path: Path, found: DocumentFormat) -> Iterator[pymupdf.Document]:
    """A page format MuPDF reads, opened as the type its content was checked to be."""
    try:
        document = mupdf().open(path, filetype=found.filetype)
    except Exception as exc:  # MuPDF's own error types
        raise DocumentError(
            f"{path.name} is not a readable {found.label} (damaged).", details=repr(exc)
        ) from exc
    try:
        if document.page_count == 0:
            raise DocumentError(f"{path.name} has no pages.")
        yield document
    finally:
        document.close()


def render_for_display(
    path: Path, info: PageInfo, max_pixels: int, password: Password = None, sha256: str | None = None
) -> RenderedPage:
    """Page ``info`` of the document at ``path``, drawn for display within ``max_pixels``
    pixels (:func:`~docretriever.documents.render.display_size`), as a viewer shows it (a PDF's
    rotation, an image's EXIF orientation). An Office file's PDF comes from the cache, by
    ``sha256`` (the digest the library recorded) when given, made again if it was pruned.
    Raises :class:`DocumentError` when the file cannot be opened and
    :class:`~docretriever.errors.PageError` when the page cannot be drawn."""
    with open_document(path, password, tolerant=True, sha256=sha256) as opened:
        return opened.render(info, display_size(info.width_pt, info.height_pt, max_pixels))
