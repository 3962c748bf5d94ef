"""``remove PATH`` on a document with the same bytes at two places removes that path only: the
document, its pages and its other path stay, and the removed path stays out of later syncs. A
doc id still removes the whole document, every path of it (the negative control). Both back
ends, through the library API and through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from document_samples import text_image

from docretriever.cli import main
from docretriever.library import Library, open_library
from docretriever.vocabulary import Document


@pytest.fixture()
def copies(tmp_path: Path) -> Path:
    """A folder with a.png, a-copy.png (the same bytes: one document, two paths) and b.png."""
    folder = tmp_path / "docs"
    folder.mkdir()
    text_image("the original scan").save(folder / "a.png")
    shutil.copy(folder / "a.png", folder / "a-copy.png")
    text_image("another page", colour="lightyellow").save(folder / "b.png")
    return folder


def location(kind: str, tmp_path: Path) -> str:
    return str(tmp_path / "lib") if kind == "local" else f"qdrant+local://{tmp_path}/qd/pages"


def paths_by_name(library: Library) -> dict[str, tuple[str, ...]]:
    """Each document's paths by the name of its first path (``a.png``, ``b.png``)."""
    return {Path(document.paths[0]).name: document.paths for document in library.documents()}


def the_document(library: Library, name: str) -> Document:
    return next(d for d in library.documents() if any(Path(p).name == name for p in d.paths))


@pytest.mark.parametrize("kind", ["local", "qdrant"])
def test_removing_one_path_of_a_copied_document_keeps_the_document_under_the_other(
    kind: str, copies: Path, tmp_path: Path, tiny_embedder
) -> None:
    library = open_library(location(kind, tmp_path), embedder=tiny_embedder)
    try:
        library.add([copies])
        original, copy = str(copies / "a.png"), str(copies / "a-copy.png")
        document = the_document(library, "a.png")
        assert document.paths == (copy, original)

        removal = library.remove(copy)
        assert removal.path == copy
        assert removal.document.doc_id == document.doc_id and removal.document.paths == (original,)
        assert paths_by_name(library) == {"a.png": (original,), "b.png": (str(copies / "b.png"),)}
        kept = the_document(library, "a.png")
        assert kept.status == "indexed" and kept.page_count == 1
        hits = library.search("the original scan", k=5)
        assert document.doc_id in {hit.doc_id for hit in hits}  # its page is still searchable
        assert all(hit.path != copy for hit in hits)

        library.sync()  # the removed path is not added back behind the user's back
        assert paths_by_name(library)["a.png"] == (original,)
        library.add([copy])  # given again: it comes back, to the same document
        assert the_document(library, "a.png").paths == (copy, original)

        # Its last path names the whole document: it leaves, and stays out.
        library.remove(copy)
        removal = library.remove(original)
        assert removal.path is None and removal.document.doc_id == document.doc_id
        library.sync()
        assert sorted(paths_by_name(library)) == ["b.png"]
    finally:
        library.close()


@pytest.mark.parametrize("kind", ["local", "qdrant"])
def test_a_doc_id_still_removes_the_whole_document_with_every_path(
    kind: str, copies: Path, tmp_path: Path, tiny_embedder
) -> None:
    """The negative control: the same removal by doc id (a prefix of it) takes both paths."""
    library = open_library(location(kind, tmp_path), embedder=tiny_embedder)
    try:
        library.add([copies])
        document = the_document(library, "a.png")
        removal = library.remove(document.doc_id[:6])
        assert removal.path is None and removal.document.paths == document.paths
        assert sorted(paths_by_name(library)) == ["b.png"]
        assert document.doc_id not in {hit.doc_id for hit in library.search("the original scan", k=5)}
        library.sync()
        assert sorted(paths_by_name(library)) == ["b.png"]  # neither path comes back
    finally:
        library.close()


@pytest.mark.parametrize("kind", ["local", "qdrant"])
def test_the_cli_says_the_document_stays_under_its_other_path(
    kind: str, copies: Path, tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--library", location(kind, tmp_path), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(copies)]) == 0
    original, copy = copies / "a.png", copies / "a-copy.png"
    capsys.readouterr()

    assert main([*common, "remove", str(copy)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Removed {copy} from the library; the same document stays under {original}."
    )
    assert main([*common, "sync"]) == 0
    capsys.readouterr()
    assert main([*common, "list", "--json"]) == 0
    listed = {tuple(d["paths"]): d for d in json.loads(capsys.readouterr().out)}
    assert sorted(listed) == [(str(original),), (str(copies / "b.png"),)]

    doc_id = listed[(str(original),)]["doc_id"]
    assert main([*common, "add", str(copy)]) == 0  # both paths again, for the negative control
    capsys.readouterr()
    assert main([*common, "remove", doc_id]) == 0
    assert capsys.readouterr().out.strip() == f"Removed {doc_id} ({copy})."
    assert main([*common, "list", "--json"]) == 0
    assert [d["paths"] for d in json.loads(capsys.readouterr().out)] == [[str(copies / "b.png")]]
