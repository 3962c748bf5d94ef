"""Turning given paths into the PDFs to index."""

from __future__ import annotations

from pathlib import Path

from docretriever.documents import find_documents


def test_folders_recurse_and_only_take_pdfs(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/one.pdf", "a/b/two.PDF", "a/notes.txt", "a/b/ünïcode, with spaces.pdf"):
        (tmp_path / name).write_bytes(b"%PDF-1.4")
    found = find_documents([tmp_path])
    assert sorted(p.name for p in found.files) == ["one.pdf", "two.PDF", "ünïcode, with spaces.pdf"]
    assert found.problems == []


def test_symlink_loops_and_repeats_are_walked_once(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "x.pdf").write_bytes(b"%PDF-1.4")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    found = find_documents([folder, folder, folder / "x.pdf"])
    assert [p.name for p in found.files] == ["x.pdf"]


def test_missing_paths_are_reported_not_raised(tmp_path: Path) -> None:
    found = find_documents([tmp_path / "nope.pdf"])
    assert found.files == []
    assert found.problems == [(tmp_path / "nope.pdf", "does not exist")]


def test_an_explicit_file_is_taken_whatever_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "scan.bin"
    path.write_bytes(b"%PDF-1.4")
    assert find_documents([path]).files == [path]
