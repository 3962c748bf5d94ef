"""Files of every supported format, made in the test: images (with EXIF orientation, a
multi-page TIFF), XPS, EPUB, CBZ, SVG, a minimal DOCX, and stand-ins for LibreOffice's
``soffice`` (one that converts, one that hangs with a helper process)."""

from __future__ import annotations

import io
import os
import stat
import sys
import zipfile
from pathlib import Path

import pymupdf
from PIL import Image

ORIENTATION = 0x0112
_TYPES = '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
_RELS_TYPE = (
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
)
_XPS = "application/vnd.ms-package.xps-"


def text_image(text: str, size: tuple[int, int] = (400, 300), colour: str = "white") -> Image.Image:
    """An RGB image of ``size`` pixels with ``text`` written large at its top left (drawn by
    MuPDF: a page as a scanner would give it), and a black block at its top-left corner so
    that a test can tell which way up it is."""
    with pymupdf.open() as pdf:
        page = pdf.new_page(width=size[0], height=size[1])
        page.draw_rect(pymupdf.Rect(0, 0, size[0], size[1]), color=None, fill=pymupdf.utils.getColor(colour))
        page.draw_rect(pymupdf.Rect(0, 0, size[0] // 5, size[1] // 5), color=None, fill=(0, 0, 0))
        page.insert_text((size[0] // 4, size[1] // 2), text, fontsize=max(12, size[1] // 10))
        pixmap = page.get_pixmap(alpha=False)
        return Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores for a picture that shows ``upright`` once EXIF
    ``orientation`` (1-8) is applied: the inverse of ``ImageOps.exif_transpose``."""
    inverse = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }
    image = upright
    for step in inverse.get(orientation, []):
        image = image.transpose(step)
    return image


def save_with_orientation(path: Path, upright: Image.Image, orientation: int, **options: object) -> Path:
    """Save ``upright`` as a camera would with EXIF ``orientation``: turned pixels + the tag."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored_for_orientation(upright, orientation).save(path, exif=exif, **options)
    return path


def write_tiff(path: Path, frames: list[Image.Image], **options: object) -> Path:
    frames[0].save(path, save_all=True, append_images=frames[1:], **options)
    return path


def write_cbz(path: Path, pages: list[Image.Image]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for number, page in enumerate(pages, start=1):
            data = io.BytesIO()
            page.save(data, format="PNG")
            archive.writestr(f"page{number:03}.png", data.getvalue())
    return path


def write_svg(path: Path, text: str, size: tuple[int, int] = (300, 200)) -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!-- a drawing -->\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size[0]}" height="{size[1]}">'
        f'<rect x="0" y="0" width="40" height="40" fill="black"/>'
        f'<text x="50" y="100" font-size="30">{text}</text></svg>\n'
    )
    return path


def write_epub(path: Path, chapters: list[str]) -> Path:
    """A minimal EPUB 3 book of ``chapters`` (one paragraph each, each on its own page)."""
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # stored, first
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{n}" href="c{n}.xhtml" media-type="application/xhtml+xml"/>'
            for n in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
        book.writestr(
            "content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
            'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            '<dc:identifier id="id">test-book</dc:identifier><dc:title>Test</dc:title>'
            f"<dc:language>en</dc:language></metadata><manifest>{items}</manifest>"
            f"<spine>{spine}</spine></package>",
        )
        for n, text in enumerate(chapters):
            book.writestr(
                f"c{n}.xhtml",
                '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>c</title>'
                f"</head><body><h1>{text}</h1></body></html>",
            )
    return path


def write_xps(path: Path, pages: list[tuple[float, float, str]]) -> Path:
    """A minimal XPS document: one fixed page per (width, height, colour) in XPS units (1/96
    in), each a coloured block at a place of its own (no fonts needed)."""
    fixed_pages = []
    with zipfile.ZipFile(path, "w") as xps:
        xps.writestr(
            "[Content_Types].xml",
            f'{_TYPES}{_RELS_TYPE}<Default Extension="fdseq" ContentType="{_XPS}fixeddocumentsequence+xml"/>'
            f'<Default Extension="fdoc" ContentType="{_XPS}fixeddocument+xml"/>'
            f'<Default Extension="fpage" ContentType="{_XPS}fixedpage+xml"/></Types>',
        )
        xps.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships '
            'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Type="http://schemas.microsoft.com/xps/2005/06/fixedrepresentation" '
            'Target="/FixedDocSeq.fdseq" Id="R0"/></Relationships>',
        )
        xps.writestr(
            "FixedDocSeq.fdseq",
            '<FixedDocumentSequence xmlns="http://schemas.microsoft.com/xps/2005/06">'
            '<DocumentReference Source="/Documents/1/FixedDoc.fdoc"/></FixedDocumentSequence>',
        )
        for number, (width, height, colour) in enumerate(pages, start=1):
            x = 20 * number
            xps.writestr(
                f"Documents/1/Pages/{number}.fpage",
                f'<FixedPage xmlns="http://schemas.microsoft.com/xps/2005/06" Width="{width}" '
                f'Height="{height}" xml:lang="en"><Path Fill="{colour}" '
                f'Data="M {x},{x} L {x + 200},{x} {x + 200},{x + 150} {x},{x + 150} Z"/></FixedPage>',
            )
            fixed_pages.append(f'<PageContent Source="/Documents/1/Pages/{number}.fpage"/>')
        xps.writestr(
            "Documents/1/FixedDoc.fdoc",
            f'<FixedDocument xmlns="http://schemas.microsoft.com/xps/2005/06">{"".join(fixed_pages)}</FixedDocument>',
        )
    return path


def write_docx(path: Path, paragraphs: list[str]) -> Path:
    """A minimal Word document (OOXML) of ``paragraphs``, as Word would accept it."""
    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    with zipfile.ZipFile(path, "w") as docx:
        docx.writestr(
            "[Content_Types].xml",
            f'{_TYPES}{_RELS_TYPE}<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        docx.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships '
            'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        docx.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document '
            'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return path


# The stand-in for LibreOffice's soffice: it accepts the real command line, checks it as
# LibreOffice would use it, and writes a real PDF (one page per <w:t> paragraph of a DOCX, else
# one page naming the file). A DOCX with a paragraph "hang forever" makes it start a helper
# process and both wait forever; each writes its process id into $SOFFICE_PIDS (a folder) when set.
STAND_IN_SOFFICE = r"""
import os, re, subprocess, sys, time, zipfile
from pathlib import Path

args = sys.argv[1:]
profile = [a for a in args if a.startswith("-env:UserInstallation=file:///")]
assert profile, "no private profile given"
assert "--headless" in args, "not headless"
at = args.index("--convert-to")
assert args[at + 1] == "pdf", "not converting to PDF"
outdir = Path(args[args.index("--outdir") + 1])
source = Path(args[-1])
pids = os.environ.get("SOFFICE_PIDS")
if pids:
    Path(pids, str(os.getpid())).touch()
import pymupdf
texts = [source.name]
if zipfile.is_zipfile(source):
    with zipfile.ZipFile(source) as office:
        if "word/document.xml" in office.namelist():
            texts = re.findall(r"<w:t>([^<]*)</w:t>", office.read("word/document.xml").decode())
if any("hang forever" in text for text in texts):
    helper = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
    if pids:
        Path(pids, str(helper.pid)).touch()
    while True:
        time.sleep(1)
outdir.mkdir(parents=True, exist_ok=True)
with pymupdf.open() as pdf:
    for text in texts:
        pdf.new_page(width=595, height=842).insert_text((72, 100), text, fontsize=28)
    pdf.save(outdir / (source.stem + ".pdf"))
print(f"convert {source} -> {outdir / (source.stem + '.pdf')} using filter : writer_pdf_Export")
"""


def install_stand_in_soffice(folder: Path) -> Path:
    """Write the stand-in ``soffice`` into ``folder`` (run by this Python, which has PyMuPDF)
    and return its path; put ``folder`` first on PATH to use it."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "soffice"
    program.write_text(f"#!{sys.executable}\n{STAND_IN_SOFFICE}")
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return program


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True
