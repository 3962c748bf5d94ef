"""``docretriever shell``: queries from stdin, with the model loaded once (tiny model)."""

from __future__ import annotations

import io
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.cli import main
from docretriever.errors import LibraryError
from docretriever.library.local import LocalLibrary

HIT = re.compile(r"^\s*\d+\.\s+-?\d+\.\d{3}  .+  p\. \d+  \[[0-9a-f]+\]")
TIME = re.compile(r"^\(\d+\.\d\d s\)$")
PDFS = ("015-arabic/habibi-rotated.pdf", "022-pdfkit/pdfkit.pdf")


@pytest.fixture(scope="module")
def built_library(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A library of two sample PDFs (5 pages), built once; tests that change it copy it."""
    folder = tmp_path_factory.mktemp("shell")
    docs = folder / "docs"
    docs.mkdir()
    for relative in PDFS:
        shutil.copy(corpus_or_skip(SAMPLES) / relative, docs)
    library = folder / "lib"
    assert main([*options(library, tiny_model_dir), "add", str(docs)]) == 0
    return library


def options(library: Path, model: Path) -> list[str]:
    return ["--library", str(library), "--model", str(model), "--device", "cpu"]


class ScriptedStdin(io.StringIO):
    """Piped input whose lines can run something first: what happens between two queries."""

    def __init__(self, *lines: str | Callable[[], None]) -> None:
        super().__init__()
        self.script = list(lines)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        while self.script:
            item = self.script.pop(0)
            if callable(item):
                item()
                continue
            return item + "\n"
        return ""


def run_shell(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, common: list[str], *lines: object
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", ScriptedStdin(*lines))  # type: ignore[arg-type]
    code = main([*common, "shell"])
    out, err = capsys.readouterr()
    return code, out, err


def answers(out: str) -> list[list[str]]:
    """The hit lines of each query, split at the time line that ends each query's answer."""
    blocks: list[list[str]] = [[]]
    for line in out.splitlines():
        if TIME.match(line):
            blocks.append([])
        elif HIT.match(line):
            blocks[-1].append(line)
    assert not blocks[-1], "hits after the last time line"
    return blocks[:-1]


def test_piped_queries_give_the_hits_of_search(
    built_library: Path, tiny_model_dir: Path, capsys, monkeypatch
) -> None:
    common = options(built_library, tiny_model_dir)
    queries = ["arabic text", "a page about pdfkit"]
    expected = []
    for query in queries:
        assert main([*common, "search", query, "-k", "4"]) == 0
        expected.append([line for line in capsys.readouterr().out.splitlines() if HIT.match(line)])
    monkeypatch.setattr(sys, "stdin", ScriptedStdin(*queries))
    code = main([*common, "shell", "-k", "4"])
    out, err = capsys.readouterr()
    assert code == 0  # the end of input ends the session
    assert answers(out) == expected and all(len(hits) == 4 for hits in expected)
    assert "search>" not in out + err  # piped: no prompts
    assert re.search(r"Loaded tiny\S* in \d+\.\d s\.", err)


def test_commands_errors_and_quit(built_library: Path, tiny_model_dir: Path, capsys, monkeypatch) -> None:
    original = LocalLibrary.search

    def search(self: LocalLibrary, query: str, k: int = 10, *, exact: bool = False) -> list:
        if query == "broken":
            raise LibraryError("The index is unreadable.")
        return original(self, query, k, exact=exact)

    monkeypatch.setattr(LocalLibrary, "search", search)
    lines = ["", "   ", ":k 2", "arabic", ":k 0", ":k x", ":zz", "broken", ":k", "pdfkit"]
    lines += [":q", "never asked"]
    code, out, err = run_shell(capsys, monkeypatch, options(built_library, tiny_model_dir), *lines)
    assert code == 0
    # Empty lines and commands answer nothing; the failed query prints its error and no time.
    assert [len(hits) for hits in answers(out)] == [2, 2]
    assert "error: The index is unreadable." in err
    assert "not '0'" in err and "not 'x'" in err and "Unknown command :zz" in err
    assert "2 results per query." in err


def test_ctrl_c_stops_one_search_only(built_library: Path, tiny_model_dir: Path, capsys, monkeypatch) -> None:
    """Ctrl-C while a search runs: that query gives nothing, the next one is answered."""
    original = LocalLibrary.search
    release = threading.Event()

    def search(self: LocalLibrary, query: str, k: int = 10, *, exact: bool = False) -> list:
        if query == "interrupt me":
            signal.raise_signal(signal.SIGINT)  # handled on the main thread, which waits for this one
            assert release.wait(60), "the shell never read the next line"
        return original(self, query, k, exact=exact)

    monkeypatch.setattr(LocalLibrary, "search", search)
    code, out, err = run_shell(
        capsys, monkeypatch, options(built_library, tiny_model_dir), "interrupt me", release.set, "arabic"
    )
    assert code == 0
    assert "Stopped" in err
    assert [len(hits) for hits in answers(out)] == [5]  # only the second query's hits: 5 pages


def test_a_document_added_elsewhere_shows_up_in_the_next_query(
    built_library: Path, tiny_model_dir: Path, tiny_embedder, tmp_path: Path, capsys, monkeypatch
) -> None:
    library = tmp_path / "lib"
    shutil.copytree(built_library, library)
    extra = corpus_or_skip(SAMPLES) / "001-trivial" / "minimal-document.pdf"

    def add_elsewhere() -> None:
        # Another library object on the same folder, as another process's `add` would be.
        with LocalLibrary(library, embedder=tiny_embedder, create=False) as other:
            report = other.add([extra])
        assert report.count("indexed") == 1

    code, out, _ = run_shell(
        capsys, monkeypatch, options(library, tiny_model_dir), ":k 20", "document", add_elsewhere, "document"
    )
    assert code == 0
    before, after = answers(out)
    assert len(before) == 5 and len(after) == 6
    assert not any("minimal-document.pdf" in line for line in before)
    assert any("minimal-document.pdf" in line for line in after)


def test_python_m_docretriever_shell_reads_piped_stdin(built_library: Path, tiny_model_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "docretriever", *options(built_library, tiny_model_dir), "shell", "-k", "3"],
        input="arabic text\n\npdfkit\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert [len(hits) for hits in answers(result.stdout)] == [3, 3]
    assert "search>" not in result.stdout + result.stderr
    assert "Loaded" in result.stderr and "Traceback" not in result.stderr
