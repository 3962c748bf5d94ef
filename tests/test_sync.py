"""The library follows its files: duplicates, re-adds, moves, deletions and edits."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import SAMPLES, CountingEmbedder, corpus_or_skip

from docretriever.cli import main
from docretriever.library import open_library


def copy_sample(relative: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus_or_skip(SAMPLES) / relative, target)
    return target


def test_moves_deletions_and_edits_are_followed(tmp_path: Path, counting_embedder: CountingEmbedder) -> None:
    folder = tmp_path / "papers"
    a = copy_sample("022-pdfkit/pdfkit.pdf", folder / "a.pdf")
    b = copy_sample("026-latex-multicolumn/multicolumn.pdf", folder / "b.pdf")
    library = open_library(tmp_path / "lib", embedder=counting_embedder)
    library.add([folder])
    embedded = counting_embedder.pages_embedded
    again = library.add([folder])  # the same folder twice adds nothing
    assert again.count("skipped") == 2 and counting_embedder.pages_embedded == embedded

    moved = folder / "2024" / "b moved.pdf"
    moved.parent.mkdir()
    b.rename(moved)
    a.unlink()
    report = library.add([folder])
    assert {(Path(o.path).name, o.status) for o in report.outcomes} == {
        ("a.pdf", "missing"),  # kept, still searchable, until a prune
        ("b moved.pdf", "moved"),
    }
    assert counting_embedder.pages_embedded == embedded  # a move is not re-embedded
    assert [d.paths for d in library.documents()] == [(str(a),), (str(moved),)]
    assert {hit.path for hit in library.search("text", k=5)} == {str(a), str(moved)}
    assert [len(library.prune())] == [1]
    (document,) = library.documents()
    assert list(document.paths) == [str(moved)]

    copy_sample("004-pdflatex-4-pages/pdflatex-4-pages.pdf", moved)  # edited in place
    report = library.sync()
    assert [o.status for o in report.outcomes] == ["indexed"] and report.pages_embedded == 4
    (document,) = library.documents()
    assert document.page_count == 4 and len(library.indexed_pages()) == 4


def test_sync_on_the_command_line_keeps_deleted_files_as_missing(
    tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    folder = tmp_path / "papers"
    copy_sample("022-pdfkit/pdfkit.pdf", folder / "a.pdf")
    gone = copy_sample("026-latex-multicolumn/multicolumn.pdf", folder / "b.pdf")
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir)]
    assert main([*common, "add", str(folder)]) == 0
    gone.unlink()
    capsys.readouterr()
    assert main([*common, "sync"]) == 0
    out, err = capsys.readouterr()
    assert f"missing {gone}" in err and "1 missing (kept)" in out
    assert main([*common, "prune", "--yes"]) == 0
    assert "Forgot 1 document" in capsys.readouterr().out
    assert main([*common, "list", "--json"]) == 0
    assert "b.pdf" not in capsys.readouterr().out
