"""Issue 15, parts 3 and 4: file names that are not valid UTF-8, and /Rotate values that are not a
multiple of 90 (PDFs built here with PyMuPDF)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pymupdf
import pytest

from docretriever.cli import main
from docretriever.documents import UNDECODABLE_NAME, is_text_path, shown_path
from docretriever.documents.pdf import open_pdf, read_page_infos, viewer_rotation
from docretriever.errors import InvalidInputError
from docretriever.highlight.regions import to_unrotated
from docretriever.storage.catalog import Catalog

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes")


def pdf_bytes(text: str = "hello world", *, width: float = 200, height: float = 300) -> bytes:
    document = pymupdf.open()
    page = document.new_page(width=width, height=height)
    page.insert_text((20, 40), text)
    page.draw_rect(pymupdf.Rect(0, 0, 40, 40), color=(0, 0, 0), fill=(0, 0, 0))  # top-left mark
    return document.tobytes()


def write(folder: Path, name: bytes, data: bytes) -> str:
    """Write ``data`` to ``folder/name`` (raw bytes) and return the path as Python names it."""
    path = os.path.join(os.fsencode(folder), name)
    with open(path, "wb") as handle:
        handle.write(data)
    return os.fsdecode(path)


# --- part 3: file names that are not valid UTF-8 ---------------------------------------------


def test_names_are_checked_and_shown_escaped() -> None:
    bad = os.fsdecode(b"/tmp/sample\xf0.pdf")
    assert not is_text_path(bad) and is_text_path("/tmp/café.pdf")
    assert shown_path(bad) == "/tmp/sample\\xf0.pdf"
    assert shown_path("/tmp/café.pdf") == "/tmp/café.pdf"
    assert shown_path("lone\ud800") == "lone\\ud800"  # not an escaped byte: still printable
    shown_path(bad).encode("utf-8")


def test_the_catalog_never_stores_an_undecodable_name(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    bad = os.fsdecode(b"/tmp/sample\xf0.pdf")
    with pytest.raises(InvalidInputError, match=r"not valid text.*sample\\xf0\.pdf"):
        catalog.attach_file("ab" * 32, 1, bad, 0.0)
    assert catalog.find_documents(bad) == []
    assert catalog.paths_under(bad) == []
    catalog.detach_path(bad)  # nothing to do, and no error
    assert catalog.documents() == []
    catalog.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_add_and_remove_with_an_undecodable_name(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    good = write(folder, b"good.pdf", pdf_bytes("good"))
    bad = write(folder, b"sample\xf0.pdf", pdf_bytes("bad"))
    odd_folder = os.fsencode(folder / "odd") + b"\xe9"
    os.mkdir(odd_folder)
    inside = write(Path(os.fsdecode(odd_folder)), b"inside.pdf", pdf_bytes("inside"))
    missing = os.fsdecode(os.path.join(os.fsencode(folder), b"gone\xf1.pdf"))
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]

    code, out, err = run(capsys, *common, "add", good, bad, os.fsdecode(odd_folder), missing)
    assert code == 0, err
    assert "internal error" not in err
    assert f"failed  {folder}/sample\\xf0.pdf: {UNDECODABLE_NAME}" in err
    assert f"failed  {folder}/odd\\xe9/inside.pdf: {UNDECODABLE_NAME}" in err
    assert f"skipped {folder}/gone\\xf1.pdf: does not exist" in err
    assert "1 indexed, 2 failed" in out

    code, out, _ = run(capsys, *common, "list", "--json")
    rows = json.loads(out)
    assert [(row["paths"], row["status"]) for row in rows] == [([good], "indexed")]

    for reference in (bad, inside, missing):
        code, _, err = run(capsys, *common, "remove", reference)
        assert code == 1 and "internal error" not in err
        assert "not valid text (UTF-8)" in err and "\\x" in err

    # Only unusable paths: an error, still without a traceback.
    code, _, err = run(capsys, *common, "add", missing)
    assert code == 1 and "None of the given paths could be used" in err and "gone\\xf1.pdf" in err
    code, out, err = run(capsys, *common, "add", bad)
    assert code == 0 and "0 indexed, 1 failed" in out and "sample\\xf0.pdf" in err


# --- part 4: /Rotate that is not a multiple of 90 --------------------------------------------

# (value written, rotation a viewer applies)
ROTATIONS = [
    ("0", 0),
    ("90", 90),
    ("-90", 270),
    ("-270", 90),
    ("450", 90),
    ("720", 0),
    ("-540", 180),
    ("90.0", 90),
    ("94", 0),
    ("181", 0),
    ("-94", 0),
    ("95.5", 0),
    ("359", 0),
    ("/Ninety", 0),
]


def rotated_pdf(tmp_path: Path, value: str, *, on_parent: bool = False) -> Path:
    document = pymupdf.open(stream=pdf_bytes(), filetype="pdf")
    page = document[0]
    if on_parent:  # inherited from the page tree
        parent = int(document.xref_get_key(page.xref, "Parent")[1].split()[0])
        document.xref_set_key(parent, "Rotate", value)
        document.xref_set_key(page.xref, "Rotate", "null")  # PyMuPDF wrote /Rotate 0 on the page
    else:
        document.xref_set_key(page.xref, "Rotate", value)
    path = tmp_path / "rotated.pdf"
    document.save(path)
    return path


@pytest.mark.parametrize("on_parent", [False, True])
@pytest.mark.parametrize(("value", "expected"), ROTATIONS)
def test_page_rotation_is_what_a_viewer_shows(tmp_path: Path, value: str, expected: int, on_parent) -> None:
    path = rotated_pdf(tmp_path, value, on_parent=on_parent)
    turned = expected in (90, 270)
    with open_pdf(path) as document:
        (info,) = read_page_infos(document)
        assert info.rotation == expected
        assert (info.width_pt, info.height_pt) == ((300, 200) if turned else (200, 300))
        # MuPDF draws the page as reported: same size, and the mark where the rotation puts it.
        page = document[0]
        pixmap = page.get_pixmap()
        assert (pixmap.width, pixmap.height) == (round(info.width_pt), round(info.height_pt))
        mark = pymupdf.Point(20, 20) * page.rotation_matrix
        assert pixmap.pixel(int(mark.x), int(mark.y)) == (0, 0, 0)
        # Boxes map back inside the MediaBox, as PyMuPDF's own derotation does.
        box = (10.0, 20.0, 60.0, 50.0)
        back = to_unrotated(box, info.rotation, (info.width_pt, info.height_pt))
        expected_box = pymupdf.Rect(box) * page.derotation_matrix
        assert back == pytest.approx(tuple(expected_box))
        assert 0 <= back[0] <= back[2] <= 200 and 0 <= back[1] <= back[3] <= 300


def test_to_unrotated_takes_any_rotation_value() -> None:
    size = (200.0, 300.0)  # displayed size of an upright page
    box = (10.0, 20.0, 60.0, 50.0)
    for rotation in (0, 94, -94, 359, 1):
        assert to_unrotated(box, rotation, size) == box
    assert to_unrotated(box, -90, (300.0, 200.0)) == to_unrotated(box, 270, (300.0, 200.0))
    assert to_unrotated(box, 450, (300.0, 200.0)) == to_unrotated(box, 90, (300.0, 200.0))
    assert to_unrotated(box, -540, size) == to_unrotated(box, 180, size)


def test_viewer_rotation_values() -> None:
    assert [viewer_rotation(v) for v in (0, 90, -90, 450, 90.0, 94, 95.5, None, "90", True)] == [
        0,
        90,
        270,
        90,
        90,
        0,
        0,
        0,
        0,
        0,
    ]
    assert viewer_rotation(float("nan")) == 0 and viewer_rotation(float("inf")) == 0
