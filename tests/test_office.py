"""Office files converted to PDF by LibreOffice: a stand-in ``soffice`` that takes the real
command line and writes a real PDF, one that hangs (the time limit kills its whole process
group), no LibreOffice at all (a reason that says how to enable it), the cache, and the real
LibreOffice where it is installed (CI installs it: there its absence fails the test)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pymupdf
import pytest
from document_samples import alive, install_stand_in_soffice, write_docx

from docretriever.documents import office
from docretriever.documents.opening import open_document
from docretriever.errors import DocumentError


@pytest.fixture()
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in soffice first on PATH; the process ids it starts are files in the folder
    returned."""
    program = install_stand_in_soffice(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv(office.SOFFICE_ENV, raising=False)
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("SOFFICE_PIDS", str(pids))
    return pids


def started(pids: Path) -> list[int]:
    return sorted(int(p.name) for p in pids.iterdir())


def test_soffice_is_found_on_path_then_in_its_usual_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = install_stand_in_soffice(tmp_path / "bin")
    monkeypatch.delenv(office.SOFFICE_ENV, raising=False)
    monkeypatch.setenv("PATH", str(program.parent))
    assert office.find_soffice() == program
    monkeypatch.setenv(office.SOFFICE_ENV, str(tmp_path / "nowhere" / "soffice"))
    assert office.find_soffice() is None  # named but not there: not installed
    monkeypatch.setenv(office.SOFFICE_ENV, str(program))
    assert office.find_soffice() == program


def test_an_office_file_is_converted_once_and_then_read_from_the_cache(
    stand_in: Path, tmp_path: Path
) -> None:
    docx = write_docx(tmp_path / "report.docx", ["first page", "second page", "third page"])
    with open_document(docx) as opened:
        infos = opened.page_infos()
        assert len(infos) == 3 and (infos[0].width_pt, infos[0].height_pt) == (595, 842)
        assert opened.render(infos[2], (60, 85)).image.size == (60, 85)
    assert len(started(stand_in)) == 1
    (cached,) = office.cache_folder().glob("*.pdf")
    with pymupdf.open(cached) as pdf:
        assert "third page" in pdf[2].get_text()
    renamed = docx.rename(tmp_path / "same bytes, another name.docx")
    with open_document(renamed) as opened:  # the same bytes: the cache, not LibreOffice
        assert len(opened.page_infos()) == 3
    assert len(started(stand_in)) == 1
    # Showing a page the library indexed: found by its recorded digest, the file not even read.
    assert office.converted_pdf(tmp_path / "moved away.docx", "Word document", sha256=cached.stem) == cached
    cached.unlink()  # pruned, or the cache cleared: made again when needed
    with open_document(renamed) as opened:
        assert len(opened.page_infos()) == 3
    assert len(started(stand_in)) == 2


def test_a_hanging_conversion_is_stopped_at_its_time_limit_and_leaves_no_process(
    stand_in: Path, tmp_path: Path
) -> None:
    docx = write_docx(tmp_path / "hang.docx", ["hang forever"])
    began = time.monotonic()
    with pytest.raises(DocumentError, match=r"LibreOffice took longer than 3 s to convert hang\.docx"):
        office.converted_pdf(docx, "Word document", timeout_s=3)
    assert time.monotonic() - began < 10
    pids = started(stand_in)
    assert len(pids) == 2  # soffice and the helper it started
    assert not [pid for pid in pids if alive(pid)]  # the whole group was killed
    assert not list(office.cache_folder().glob("*.pdf"))


def test_without_libreoffice_an_office_file_fails_with_how_to_enable_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(office.SOFFICE_ENV, str(tmp_path / "not-installed" / "soffice"))
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))
    docx = write_docx(tmp_path / "letter.docx", ["hello"])
    with pytest.raises(DocumentError, match=r"letter\.docx is not indexed.*install it"), open_document(docx):
        pass


def test_a_file_libreoffice_cannot_convert_fails_with_a_reason(tmp_path: Path, monkeypatch) -> None:
    failing = tmp_path / "bin" / "soffice"
    failing.parent.mkdir()
    failing.write_text("#!/bin/sh\necho 'Error: source file could not be loaded' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setenv(office.SOFFICE_ENV, str(failing))
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))
    docx = write_docx(tmp_path / "broken.docx", ["x"])
    with pytest.raises(DocumentError, match=r"LibreOffice could not convert broken\.docx") as caught:
        office.converted_pdf(docx, "Word document")
    assert "could not be loaded" in caught.value.details


def test_the_cache_is_pruned_least_recently_used_first(tmp_path: Path) -> None:
    folder = tmp_path / "converted"
    folder.mkdir()
    for age, name in enumerate(("newest", "middle", "oldest")):
        path = folder / f"{name}.pdf"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    deleted = office.prune(folder, 2000, keep=folder / "oldest.pdf")
    assert [p.name for p in deleted] == ["middle.pdf"]  # the oldest is kept: it is in use
    assert office.prune(folder, 2000) == []  # under the bound now


def real_soffice() -> Path:
    """The installed LibreOffice; the test is skipped without it, except in CI (CI=true, or
    DOCRETRIEVER_REQUIRE_LIBREOFFICE set as .ci/run does, which installs it): there its absence
    fails the test."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        for folder in ("/usr/lib/libreoffice/program", "/Applications/LibreOffice.app/Contents/MacOS"):
            if (Path(folder) / "soffice").is_file():
                found = str(Path(folder) / "soffice")
    if found is None:
        required = os.environ.get("DOCRETRIEVER_REQUIRE_LIBREOFFICE", "") not in ("", "0")
        if required or os.environ.get("CI", "").lower() == "true":
            pytest.fail("LibreOffice is not installed, and CI installs it (.ci/run)")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-writer-nogui)")
    return Path(found)


def test_real_libreoffice_converts_a_docx_in_its_own_profile(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(office.SOFFICE_ENV, str(real_soffice()))
    monkeypatch.setenv("DOCRETRIEVER_CACHE_DIR", str(tmp_path / "cache"))
    docx = write_docx(tmp_path / "minutes.docx", ["Minutes of the garden committee", "Tomatoes: approved"])
    with open_document(docx, conversion_timeout_s=120) as opened:
        (info,) = opened.page_infos()
        assert 590 < info.width_pt < 615 and 790 < info.height_pt < 845  # A4 or Letter
        assert opened.render(info, (120, 160)).image.getextrema() != ((255, 255),) * 3  # not blank
    (cached,) = office.cache_folder().glob("*.pdf")
    with pymupdf.open(cached) as pdf:
        assert "Tomatoes: approved" in pdf[0].get_text()
