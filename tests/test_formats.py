"""Documents beyond PDFs, without a model: the format by extension checked by content, images
read upright at a sensible size (and refused when too large), multi-page TIFFs, and the page
formats MuPDF reads."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import pymupdf
import pytest
from document_samples import (
    ORIENTATION,
    save_with_orientation,
    text_image,
    write_cbz,
    write_docx,
    write_epub,
    write_svg,
    write_tiff,
    write_xps,
)
from PIL import Image, ImageChops

from docretriever.documents import find_documents
from docretriever.documents.formats import IMAGE, OFFICE, PAGES, PDF, detect_format
from docretriever.documents.images import DEFAULT_DPI, MAX_IMAGE_PIXELS, ImagePages
from docretriever.documents.opening import open_document
from docretriever.errors import DocumentError, PageError


def one_page_pdf(path: Path) -> Path:
    with pymupdf.open() as pdf:
        pdf.new_page().insert_text((72, 72), "a page")
        pdf.save(path)
    return path


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


# --- the format: extension, checked by content -------------------------------------------------


def test_each_format_is_told_by_its_extension_and_content(tmp_path: Path) -> None:
    image = text_image("sample")
    made = {
        "a.pdf": one_page_pdf(tmp_path / "a.pdf"),
        "a.png": tmp_path / "a.png",
        "a.JPG": tmp_path / "a.JPG",
        "a.tiff": write_tiff(tmp_path / "a.tiff", [image, image]),
        "a.webp": tmp_path / "a.webp",
        "a.bmp": tmp_path / "a.bmp",
        "a.xps": write_xps(tmp_path / "a.xps", [(816, 1056, "#FF0000")]),
        "a.epub": write_epub(tmp_path / "a.epub", ["one"]),
        "a.cbz": write_cbz(tmp_path / "a.cbz", [image]),
        "a.svg": write_svg(tmp_path / "a.svg", "drawing"),
        "a.docx": write_docx(tmp_path / "a.docx", ["text"]),
    }
    for name in ("a.png", "a.JPG", "a.webp", "a.bmp"):
        image.save(made[name], format={"JPG": "JPEG"}.get(name[2:], name[2:].upper()))
    expected = {
        "a.pdf": (PDF, "pdf"),
        "a.png": (IMAGE, "PNG"),
        "a.JPG": (IMAGE, "JPEG"),
        "a.tiff": (IMAGE, "TIFF"),
        "a.webp": (IMAGE, "WEBP"),
        "a.bmp": (IMAGE, "BMP"),
        "a.xps": (PAGES, "xps"),
        "a.epub": (PAGES, "epub"),
        "a.cbz": (PAGES, "cbz"),
        "a.svg": (PAGES, "svg"),
        "a.docx": (OFFICE, "docx"),
    }
    for name, path in made.items():
        found = detect_format(path)
        assert (found.family, found.filetype) == expected[name], name
    # Folders are walked for every one of these, and nothing else.
    (tmp_path / "notes.txt").write_text("text")
    assert sorted(p.name for p in find_documents([tmp_path]).files) == sorted(made)


def test_a_text_file_is_never_turned_into_pages_whatever_its_name(tmp_path: Path) -> None:
    for name in ("notes.svg", "notes.epub", "notes.fb2", "notes.xps", "notes.png", "notes.docx", "notes.cbz"):
        path = tmp_path / name
        path.write_text("Dear diary, today I wrote a text file.\n")
        with pytest.raises(DocumentError, match="but its content is not one: it is not indexed"):
            detect_format(path)
    # The negative control: MuPDF alone makes a page of it when told it is a FictionBook.
    with pymupdf.open(tmp_path / "notes.fb2", filetype="fb2") as opened:
        assert opened.page_count == 1


def test_content_decides_within_a_family_but_not_across_families(tmp_path: Path) -> None:
    png_named_jpeg = tmp_path / "photo.jpg"
    text_image("a PNG").save(png_named_jpeg, format="PNG")
    assert detect_format(png_named_jpeg).filetype == "PNG"  # cameras and websites misname
    with open_document(png_named_jpeg) as opened:
        assert len(opened.page_infos()) == 1
    zip_named_png = tmp_path / "pages.png"
    write_cbz(zip_named_png, [text_image("a comic")])
    with pytest.raises(DocumentError, match="named as a PNG image, but it holds a comic book archive"):
        detect_format(zip_named_png)


def test_a_file_given_by_name_is_taken_by_content_and_an_unknown_one_refused(tmp_path: Path) -> None:
    pdf = one_page_pdf(tmp_path / "scan.bin")
    assert detect_format(pdf).family == PDF
    photo = tmp_path / "IMG_0001"
    text_image("no extension").save(photo, format="JPEG")
    assert detect_format(photo).filetype == "JPEG"
    notes = tmp_path / "notes.txt"
    notes.write_text("a text file\n")
    with pytest.raises(
        DocumentError, match=r"notes.txt is not a kind of document DocRetriever reads.*PNG, JPEG"
    ):
        detect_format(notes)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match="empty"):
        detect_format(empty)


# --- images: upright, sized, refused when too large --------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_size_and_pixels(tmp_path: Path, orientation: int) -> None:
    upright = text_image("upright", (240, 120))  # wide: a quarter turn shows in the size
    path = save_with_orientation(tmp_path / f"o{orientation}.png", upright, orientation, dpi=(144, 144))
    with Image.open(path) as opened:
        assert opened.getexif()[ORIENTATION] == orientation
        stored = opened.convert("RGB")
    pages = ImagePages(path, detect_format(path))
    (info,) = pages.page_infos()
    assert (info.width_pt, info.height_pt) == pytest.approx(
        (120.0, 60.0), abs=0.01
    )  # 240 x 120 px at 144 dpi
    assert info.rotation == 0
    rendered = pages.render(info, (240, 120))
    assert same_pixels(rendered.image, upright)
    if orientation != 1:  # the negative control: the stored pixels are not the upright picture
        assert not same_pixels(stored.resize((240, 120)), upright)
    pages.close()


def test_a_rotated_jpeg_is_upright_when_decoded_at_a_reduced_scale(tmp_path: Path) -> None:
    upright = text_image("a phone photo", (1600, 1200))
    path = save_with_orientation(tmp_path / "photo.jpg", upright, 6, quality=95)
    with Image.open(path) as stored:
        assert stored.size == (1200, 1600)  # stored sideways
    with open_document(path) as opened:
        (info,) = opened.page_infos()
        assert info.width_pt > info.height_pt
        small = opened.render(info, (200, 150)).image
    expected = upright.resize((200, 150), Image.Resampling.LANCZOS)
    difference = ImageChops.difference(small, expected).convert("L")
    assert difference.getextrema()[1] < 96  # JPEG noise, not another picture
    assert small.getpixel((5, 5))[0] < 60 and small.getpixel((195, 5))[0] > 200  # the black corner


def test_page_size_comes_from_the_stated_resolution_else_the_default(tmp_path: Path) -> None:
    image = text_image("size", (600, 300))
    image.save(tmp_path / "stated.png", dpi=(300, 150))
    image.save(tmp_path / "unstated.png")
    with open_document(tmp_path / "stated.png") as opened:
        (stated,) = opened.page_infos()
    with open_document(tmp_path / "unstated.png") as opened:
        (unstated,) = opened.page_infos()
    assert (stated.width_pt, stated.height_pt) == pytest.approx((144.0, 144.0), abs=0.1)
    assert (unstated.width_pt, unstated.height_pt) == (600 * 72 / DEFAULT_DPI, 300 * 72 / DEFAULT_DPI)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` pixels but holds almost no data: decoding it
    would allocate the whole image before finding out."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )
    return path


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_an_image_too_large_is_refused_from_its_header_without_decoding(tmp_path: Path, side: int) -> None:
    # 10,000 px: over this app's limit, under Pillow's error; 20,000 px: over both (Pillow refuses).
    assert side * side > MAX_IMAGE_PIXELS
    path = png_header_only(tmp_path / "poster.png", side, side)
    started = time.monotonic()
    with pytest.raises(DocumentError, match=r"too large to index.*megapixels"), open_document(path) as opened:
        opened.page_infos()
    assert time.monotonic() - started < 2  # decoding 300 MB-1.2 GB would take far longer


def test_a_truncated_image_fails_as_a_document_with_a_reason(tmp_path: Path) -> None:
    for name, form in (("cut.png", "PNG"), ("cut.jpg", "JPEG")):
        whole = tmp_path / f"whole-{name}"
        text_image("whole", (800, 600)).save(whole, format=form)
        cut = tmp_path / name
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        with pytest.raises(DocumentError, match="damaged or truncated"), open_document(cut) as opened:
            opened.page_infos()
        with open_document(whole) as opened:  # the negative control
            assert len(opened.page_infos()) == 1


def test_a_tiff_of_2000_frames_is_a_document_of_2000_pages_read_without_decoding(tmp_path: Path) -> None:
    frames = [Image.new("L", (16, 24), n % 256) for n in range(2000)]
    path = write_tiff(tmp_path / "fax.tif", frames)
    started = time.monotonic()
    with open_document(path) as opened:
        infos = opened.page_infos()
        assert len(infos) == 2000 and [i.index for i in infos] == list(range(2000))
        last = opened.render(infos[1999], (16, 24)).image
        middle = opened.render(infos[700], (16, 24)).image
    assert time.monotonic() - started < 30
    assert last.getpixel((3, 3)) == (1999 % 256,) * 3 and middle.getpixel((3, 3)) == (700 % 256,) * 3


def test_a_multi_page_tiff_keeps_each_frames_size_and_a_damaged_frame_fails_alone(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "mixed.tif", [text_image("one", (300, 200)), text_image("two", (200, 300))])
    with open_document(path) as opened:
        first, second = opened.page_infos()
        assert (first.width_pt > first.height_pt, second.width_pt < second.height_pt) == (True, True)
    data = bytearray(path.read_bytes())
    data[-2000:] = b"\xff" * 2000  # the second frame's pixels overwritten (uncompressed: still decodable)
    broken = tmp_path / "cut.tif"
    broken.write_bytes(bytes(data[: len(data) - 30_000]))  # and the file cut short
    with open_document(broken) as opened:
        pages = opened.page_infos()
        assert len(pages) == 2
        opened.render(pages[0], (30, 20))
        with pytest.raises(PageError, match="frame 2"):
            opened.render(pages[1], (20, 30))


def test_transparency_is_laid_on_white(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(path)
    with open_document(path) as opened:
        (info,) = opened.page_infos()
        assert opened.render(info, (20, 10)).image.getpixel((5, 5)) == (255, 255, 255)


# --- formats MuPDF reads -----------------------------------------------------------------------


def test_xps_epub_cbz_and_svg_are_documents_of_pages(tmp_path: Path) -> None:
    files = {
        write_xps(tmp_path / "a.xps", [(816, 1056, "#FF0000"), (1056, 816, "#0000FF")]): 2,
        write_epub(tmp_path / "a.epub", ["one", "two", "three"]): 3,
        write_cbz(tmp_path / "a.cbz", [text_image("1"), text_image("2")]): 2,
        write_svg(tmp_path / "a.svg", "drawing", (300, 200)): 1,
    }
    for path, pages in files.items():
        with open_document(path) as opened:
            infos = opened.page_infos()
            assert len(infos) == pages, path.name
            image = opened.render(infos[-1], (60, 80)).image
            assert image.size == (60, 80) and image.mode == "RGB"
    with open_document(tmp_path / "a.xps") as opened:  # 1/96 in units: 816 x 1056 is Letter
        assert [(round(i.width_pt), round(i.height_pt)) for i in opened.page_infos()] == [
            (612, 792),
            (792, 612),
        ]


def test_a_damaged_epub_fails_with_a_reason(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "book.epub", ["one"])
    path.write_bytes(path.read_bytes()[:60])  # the zip's directory is gone
    with pytest.raises(DocumentError, match=r"book\.epub"), open_document(path) as opened:
        opened.page_infos()


# --- the desktop's "Open with" ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# The MIME type desktops give each extension the library reads (shared-mime-info's names).
MIME_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".jfif": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".xps": "application/vnd.ms-xpsdocument",
    ".oxps": "application/oxps",
    ".epub": "application/epub+zip",
    ".cbz": "application/vnd.comicbook+zip",
    ".svg": "image/svg+xml",
    ".fb2": "application/x-fictionbook+xml",
    ".mobi": "application/x-mobipocket-ebook",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".rtf": "application/rtf",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ppt": "application/vnd.ms-powerpoint",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}


def test_the_desktop_entries_and_the_windows_installer_offer_every_type_read() -> None:
    from docretriever.documents.formats import DOCUMENT_EXTENSIONS

    assert set(MIME_TYPES) == DOCUMENT_EXTENSIONS  # a new extension needs its MIME type here
    linux = ROOT / "packaging" / "linux"
    for entry in (linux / "docretriever.desktop", linux / "install-desktop-entry.sh"):
        (line,) = [line for line in entry.read_text().splitlines() if line.startswith("MimeType=")]
        offered = set(line.removeprefix("MimeType=").rstrip(";").split(";"))
        assert set(MIME_TYPES.values()) <= offered, entry.name
    installer = (ROOT / "packaging" / "windows" / "docretriever.nsi").read_text()
    for extension in DOCUMENT_EXTENSIONS:
        assert f'!insertmacro OpenWith "{extension}"' in installer
        assert f'!insertmacro NoOpenWith "{extension}"' in installer


@pytest.mark.parametrize(
    "name, data",
    [
        ("noise.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
        ("noise.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8),
        ("noise.tif", b"II*\x00" + struct.pack("<I", 10**9) + bytes(range(256)) * 8),
        ("loop.tif", b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 0) + struct.pack("<I", 8)),
        (
            "huge.bmp",
            b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHH", 40, 30_000, 30_000, 1, 24),
        ),
        ("noise.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(range(256))),
        ("random.jpeg", bytes((n * 7919) % 251 for n in range(5000))),
    ],
)
def test_a_hostile_image_fails_with_a_reason_never_another_error(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        with open_document(path) as opened:
            for info in opened.page_infos():
                opened.render(info, (20, 20))
    except (DocumentError, PageError) as exc:
        assert path.name in str(exc) or "Frame" in str(exc)
    else:
        pytest.fail(f"{name} was read as an image")
