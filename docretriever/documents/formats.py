"""Which kind of document a file is: decided by its name's extension and checked by its content.

The extension picks a family (PDF, image, a page format MuPDF reads, an Office file); the
file's first bytes must then belong to that family, so that a text file is never turned into
pages because of its name (a ``notes.svg`` that holds no SVG, a ``book.epub`` that is no zip,
an ``.fb2`` that is plain text: MuPDF would open each of these as something). Within a family
the content decides (a ``.jpg`` that is really a PNG is read as a PNG; LibreOffice tells DOC
from XLS itself). A file given by name with an extension that is none of these is taken when
its content is unmistakably one (a PDF or an image named ``scan.bin``) and refused otherwise.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from docretriever.errors import DocumentError

PDF = "pdf"
IMAGE = "image"
PAGES = "pages"  # a page format MuPDF opens itself (XPS, EPUB, CBZ, SVG, FB2, MOBI)
OFFICE = "office"  # converted to PDF by LibreOffice


@dataclass(frozen=True)
class DocumentFormat:
    """A kind of document: ``family`` (one of PDF, IMAGE, PAGES, OFFICE), ``label`` for a
    person ("PNG image"), and ``filetype``: MuPDF's name for a PAGES format, Pillow's format
    name for an image, "pdf" for a PDF, the extension for an Office file."""

    family: str
    label: str
    filetype: str


# Extension (lower case, with its dot) -> format. Folders are walked for exactly these.
_BY_EXTENSION: dict[str, DocumentFormat] = {
    ".pdf": DocumentFormat(PDF, "PDF", "pdf"),
    ".png": DocumentFormat(IMAGE, "PNG image", "PNG"),
    ".jpg": DocumentFormat(IMAGE, "JPEG image", "JPEG"),
    ".jpeg": DocumentFormat(IMAGE, "JPEG image", "JPEG"),
    ".jpe": DocumentFormat(IMAGE, "JPEG image", "JPEG"),
    ".jfif": DocumentFormat(IMAGE, "JPEG image", "JPEG"),
    ".tif": DocumentFormat(IMAGE, "TIFF image", "TIFF"),
    ".tiff": DocumentFormat(IMAGE, "TIFF image", "TIFF"),
    ".webp": DocumentFormat(IMAGE, "WebP image", "WEBP"),
    ".bmp": DocumentFormat(IMAGE, "BMP image", "BMP"),
    ".xps": DocumentFormat(PAGES, "XPS document", "xps"),
    ".oxps": DocumentFormat(PAGES, "OpenXPS document", "xps"),
    ".epub": DocumentFormat(PAGES, "EPUB book", "epub"),
    ".cbz": DocumentFormat(PAGES, "comic book archive (CBZ)", "cbz"),
    ".svg": DocumentFormat(PAGES, "SVG drawing", "svg"),
    ".fb2": DocumentFormat(PAGES, "FictionBook (FB2)", "fb2"),
    ".mobi": DocumentFormat(PAGES, "Mobipocket book (MOBI)", "mobi"),
    ".docx": DocumentFormat(OFFICE, "Word document", "docx"),
    ".doc": DocumentFormat(OFFICE, "Word document", "doc"),
    ".odt": DocumentFormat(OFFICE, "OpenDocument text", "odt"),
    ".rtf": DocumentFormat(OFFICE, "RTF document", "rtf"),
    ".pptx": DocumentFormat(OFFICE, "PowerPoint presentation", "pptx"),
    ".ppt": DocumentFormat(OFFICE, "PowerPoint presentation", "ppt"),
    ".odp": DocumentFormat(OFFICE, "OpenDocument presentation", "odp"),
    ".xlsx": DocumentFormat(OFFICE, "Excel spreadsheet", "xlsx"),
    ".xls": DocumentFormat(OFFICE, "Excel spreadsheet", "xls"),
    ".ods": DocumentFormat(OFFICE, "OpenDocument spreadsheet", "ods"),
}

DOCUMENT_EXTENSIONS: frozenset[str] = frozenset(_BY_EXTENSION)
IMAGE_EXTENSIONS: frozenset[str] = frozenset(e for e, f in _BY_EXTENSION.items() if f.family == IMAGE)
OFFICE_EXTENSIONS: frozenset[str] = frozenset(e for e, f in _BY_EXTENSION.items() if f.family == OFFICE)
PAGES_EXTENSIONS: frozenset[str] = frozenset(e for e, f in _BY_EXTENSION.items() if f.family == PAGES)

SUPPORTED_SUMMARY = (
    "PDF, images (PNG, JPEG, TIFF, WebP, BMP), XPS, EPUB, CBZ, SVG, FB2, MOBI "
    "and, with LibreOffice installed, Office files (Word, PowerPoint, Excel, OpenDocument, RTF)"
)

# How much of a file is read to recognise it: magic numbers sit in the first bytes; an SVG or
# FB2 root element after an XML declaration, comments and a DOCTYPE well within this.
_HEAD_BYTES = 8192
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # DOC, XLS, PPT (and other Microsoft compound files)
_ODF_TYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_OOXML_PARTS = {"word/": "docx", "ppt/": "pptx", "xl/": "xlsx"}
_COMIC_PAGE = re.compile(r"\.(jpe?g|png|gif|bmp|tiff?|webp|jxr|jp2)$", re.I)


def is_document_name(name: str) -> bool:
    """Whether a file named ``name`` is taken when its folder is walked (its extension is one
    of :data:`DOCUMENT_EXTENSIONS`, in any case)."""
    return Path(name).suffix.lower() in DOCUMENT_EXTENSIONS


def detect_format(path: Path) -> DocumentFormat:
    """The format of the file at ``path``, from its extension checked against its content.

    Raises :class:`DocumentError` for an empty or unreadable file, for content that does not
    belong to the family its extension names, and for a file whose extension is not one of
    :data:`DOCUMENT_EXTENSIONS` and whose content is not unmistakably a document. A ``.pdf``
    is not checked here: :func:`~docretriever.documents.pdf.open_pdf` refuses what is not one.
    """
    name = path.name
    named = _BY_EXTENSION.get(path.suffix.lower())
    if named is not None and named.family == PDF:
        return named
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise DocumentError(f"Cannot read {name}: {exc.strerror or exc}.") from exc
    if not head:
        raise DocumentError(f"{name} is empty (0 bytes).")
    found = sniff(path, head)
    if named is None:
        if found is None or (
            found.family not in (PDF, IMAGE, OFFICE) and found.filetype not in ("epub", "xps")
        ):
            raise DocumentError(
                f"{name} is not a kind of document DocRetriever reads. It reads {SUPPORTED_SUMMARY}."
            )
        return found
    if found is not None and found.family == named.family:
        if named.family in (IMAGE, OFFICE):
            return found
        if found.filetype == named.filetype:
            return named
    what = f"it holds {a(found.label)}" if found is not None else "its content is not one"
    raise DocumentError(f"{name} is named as {a(named.label)}, but {what}: it is not indexed.")


def a(label: str) -> str:
    """``label`` with its indefinite article, as it is read aloud: "an SVG drawing", "a PNG image"."""
    spoken_vowel = label[0] in "AEIOU" or label.split()[0] in ("SVG", "XPS", "RTF", "FB2")
    return f"{'an' if spoken_vowel else 'a'} {label}"


def sniff(path: Path, head: bytes) -> DocumentFormat | None:
    """The format ``head`` (the first bytes of the file at ``path``) shows, or None when it is
    none this app reads. Zip files are looked into (their list of names, and ODF's
    ``mimetype``) to tell EPUB, XPS, CBZ, OOXML and OpenDocument apart."""
    if b"%PDF-" in head[:1024]:
        return _BY_EXTENSION[".pdf"]
    for magic, pillow_name in _IMAGE_MAGIC:
        if head.startswith(magic):
            return _image(pillow_name)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _image("WEBP")
    if head.startswith(_OLE2):
        return _BY_EXTENSION[".doc"]
    if head.startswith(b"{\\rtf"):
        return _BY_EXTENSION[".rtf"]
    if head[60:68] in (b"BOOKMOBI", b"TEXtREAd"):
        return _BY_EXTENSION[".mobi"]
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path)
    return _sniff_xml(head)


def _image(pillow_name: str) -> DocumentFormat:
    return next(f for f in _BY_EXTENSION.values() if f.filetype == pillow_name)


def _sniff_zip(path: Path) -> DocumentFormat | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            mimetype = (
                archive.read("mimetype")[:100].decode("ascii", "replace") if "mimetype" in names else ""
            )
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, ValueError):
        return None  # a damaged zip: nothing can be told (or read) from it
    mimetype = mimetype.strip()
    if mimetype == "application/epub+zip":
        return _BY_EXTENSION[".epub"]
    if mimetype in _ODF_TYPES:
        return _BY_EXTENSION["." + _ODF_TYPES[mimetype]]
    if "[Content_Types].xml" in names:
        if any(n.lower().endswith(".fdseq") for n in names):
            return _BY_EXTENSION[".xps"]
        for prefix, extension in _OOXML_PARTS.items():
            if any(n.startswith(prefix) for n in names):
                return _BY_EXTENSION["." + extension]
    if any(_COMIC_PAGE.search(n) for n in names):
        return _BY_EXTENSION[".cbz"]
    return None


def _sniff_xml(head: bytes) -> DocumentFormat | None:
    """An SVG or FB2 file: XML text whose root element is ``svg`` or ``FictionBook``."""
    if b"\x00" in head:
        return None  # binary, or UTF-16 text (neither MuPDF's SVG nor FB2 reader takes it)
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if not text.startswith("<"):
        return None
    root = re.search(r"<(?![?!])([A-Za-z_][\w.:-]*)", _without_comments(text))
    if root is None:
        return None
    element = root.group(1).split(":")[-1]
    if element == "svg":
        return _BY_EXTENSION[".svg"]
    if element == "FictionBook":
        return _BY_EXTENSION[".fb2"]
    return None


def _without_comments(text: str) -> str:
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)
