"""The docretriever command line, in process (and in a subprocess for start-up checks)."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from PIL import Image

from docretriever.cli import main


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for relative in (
        "015-arabic/habibi-rotated.pdf",
        "022-pdfkit/pdfkit.pdf",
        "005-libreoffice-writer-password/libreoffice-writer-password.pdf",
    ):
        shutil.copy(corpus_or_skip(SAMPLES) / relative, folder)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_search_json_and_highlights(tmp_path: Path, docs: Path, tiny_model_dir: Path, capsys) -> None:
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    code, out, err = run(capsys, *common, "add", str(docs))
    assert code == 0
    assert "2 indexed" in out and "1 failed" in out
    assert "password is required" in err

    out_dir = tmp_path / "out"
    code, out, _ = run(
        capsys, *common, "search", "arabic text", "-k", "3", "--json", "--highlight-dir", str(out_dir)
    )
    assert code == 0
    hits = json.loads(out)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    for hit in hits:
        assert {"rank", "score", "doc_id", "path", "page", "regions", "image"} <= hit.keys()
        assert hit["page"] >= 1 and Path(hit["path"]).exists()
        for region in hit["regions"]:
            assert {"x0", "y0", "x1", "y1", "weight"} == region.keys()
            assert 0 <= region["x0"] < region["x1"] <= hit["page_width"] + 0.01
        image = Image.open(hit["image"])
        # The PNG shows the page as displayed: same aspect ratio as the page in points.
        assert image.width / image.height == pytest.approx(hit["page_width"] / hit["page_height"], rel=0.02)

    code, out, _ = run(capsys, *common, "list", "--json")
    documents = json.loads(out)
    assert {d["status"] for d in documents} == {"indexed", "failed"}
    failed = next(d for d in documents if d["status"] == "failed")
    assert "password" in failed["error"] and failed["paths"][0].endswith("libreoffice-writer-password.pdf")
    assert all({"doc_id", "paths", "pages", "status", "error"} <= d.keys() for d in documents)

    code, out, _ = run(capsys, "info", *common)  # global options after the command work too
    assert code == 0 and "Pages:     5 indexed" in out

    code, out, _ = run(capsys, *common, "bench", "-n", "4")
    assert code == 0 and "recall" in out and "5 pages" in out

    doc_id = next(d["doc_id"] for d in documents if d["status"] == "indexed")
    code, out, _ = run(capsys, *common, "remove", doc_id)
    assert code == 0 and doc_id in out


def test_errors_are_one_line_and_nonzero(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir)]
    pdf = str(corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf")
    code, _, err = run(
        capsys, "--library", str(tmp_path / "lib"), "--model", str(tmp_path / "nope" / "x"), "add", pdf
    )
    assert code == 1 and "does not exist" in err and "Traceback" not in err
    code, _, _ = run(capsys, *common, "add", pdf)
    assert code == 0
    code, _, err = run(capsys, *common, "remove", "feedbeef")
    assert code == 1
    assert err.strip().splitlines() == ["docretriever: error: No document in the library matches 'feedbeef'."]
    code, _, err = run(capsys, "--debug", *common, "remove", "feedbeef")
    assert code == 1 and "Traceback" in err
    code, _, err = run(capsys, *common, "--visual-tokens", "0", "add", pdf)
    assert code == 1 and "at least 4" in err
    code, _, err = run(capsys, "--library", str(tmp_path / "no-such-library"), "list")
    assert code == 1 and "no library" in err and not (tmp_path / "no-such-library").exists()


def test_help_starts_without_torch_or_qt() -> None:
    script = (
        "import sys\n"
        "from docretriever.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'colpali_engine', 'PySide6') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stdout
    assert "search" in result.stdout


def _two_similar_pdfs(folder: Path) -> tuple[Path, Path]:
    """Two different PDFs whose doc ids share their first 2 characters (bytes after %%EOF)."""
    import hashlib

    original = (corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf").read_bytes()
    seen: dict[str, bytes] = {}
    for number in range(10_000):
        data = original + f"\n% variant {number}\n".encode()
        prefix = hashlib.sha256(data).hexdigest()[:2]
        if prefix in seen:
            first, second = folder / "first.pdf", folder / "second.pdf"
            first.write_bytes(seen[prefix])
            second.write_bytes(data)
            return first, second
        seen[prefix] = data
    raise AssertionError("no two variants share a prefix")


def test_log_progress_paths_ambiguous_prefix_and_bench_advice(
    tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    """Issue 15 part 6: progress in a log, the summary's timing, `search --json` paths, an
    ambiguous short doc id, and what bench's recall means."""
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    folder = tmp_path / "docs"
    folder.mkdir()
    first, second = _two_similar_pdfs(folder)
    shutil.copy(first, folder / "copy-of-first.pdf")  # the same bytes: one document, two paths

    code, out, err = run(capsys, *common, "add", str(folder))
    assert code == 0
    # Not a terminal (captured): plain progress lines, the last one with the final count.
    assert "Indexing: 2/2 pages" in err
    assert "\r" not in err
    # (the tiny model loads too fast to be named: see test_progress for "including … loading the model")
    # Their one page is the same picture: embedded once, its vectors reused for the other.
    assert "1 page embedded, 1 unchanged page reused in" in out and "pages/s while indexing" in out

    code, out, _ = run(capsys, *common, "search", "anything", "--json")
    hits = json.loads(out)
    shared = next(hit for hit in hits if Path(hit["path"]).name in ("first.pdf", "copy-of-first.pdf"))
    assert sorted(Path(path).name for path in shared["paths"]) == ["copy-of-first.pdf", "first.pdf"]
    assert shared["path"] in shared["paths"]
    alone = next(hit for hit in hits if Path(hit["path"]).name == "second.pdf")
    assert alone["paths"] == [alone["path"]]

    prefix = alone["doc_id"][:2]
    code, _, err = run(capsys, *common, "remove", prefix)
    assert code == 1
    assert "ambiguous" in err and "matches 2 documents" in err
    # Each by its doc id and its (first) path.
    assert str(second) in err and shared["paths"][0] in err and shared["doc_id"] in err
    code, _, err = run(capsys, *common, "remove", alone["doc_id"][:3] + "x")  # not hex: no guess
    assert code == 1 and "No document" in err
    code, out, _ = run(capsys, *common, "list")
    assert out.count("indexed") == 2  # nothing was removed

    code, out, _ = run(capsys, *common, "bench", "-n", "2")
    assert code == 0 and "Good:" in out  # 2 pages are searched exhaustively: recall 1


def test_ctrl_c_says_how_much_was_kept(
    tmp_path: Path, tiny_model_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docretriever.cli.commands as commands

    cli_main = importlib.import_module("docretriever.cli.main")
    from docretriever.progress import CancelToken, Progress

    tokens: list[CancelToken] = []

    class RecordedToken(CancelToken):
        def __init__(self) -> None:
            super().__init__()
            tokens.append(self)

    class StoppingBar(commands.ProgressBar):
        def __call__(self, progress: Progress) -> None:
            super().__call__(progress)
            if progress.stage == "Indexing" and progress.done >= 1:
                tokens[-1].cancel()  # as Ctrl-C does

    monkeypatch.setattr(cli_main, "CancelToken", RecordedToken)
    monkeypatch.setattr(commands, "ProgressBar", StoppingBar)
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    pdf = corpus_or_skip(SAMPLES) / "015-arabic" / "habibi-rotated.pdf"  # 4 pages
    code, _, err = run(capsys, *common, "--batch-size", "1", "add", str(pdf))
    assert code == 130
    match = re.search(r"Stopped; (\d+) pages? of 1 document (was|were) indexed and (is|are) kept", err)
    assert match, err
    kept = int(match.group(1))
    assert 1 <= kept < 4
    monkeypatch.setattr(commands, "ProgressBar", StoppingBar.__mro__[1])
    code, out, _ = run(capsys, *common, "info")
    assert f"Pages:     {kept} indexed" in out


class _Terminal:
    """Standard input that is a terminal, as far as ``isatty`` says."""

    def isatty(self) -> bool:
        return True


def test_add_password_prompt_asks_for_each_encrypted_file_again_when_wrong(
    tmp_path: Path, docs: Path, tiny_model_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    asked: list[str] = []
    answers = iter(["guess", "openpassword"])  # the sample's password, after a wrong one

    def typed(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    monkeypatch.setattr(getpass, "getpass", typed)
    # Without a terminal to ask on, it refuses before adding anything.
    code, _, err = run(capsys, *common, "add", str(docs), "--password-prompt")
    assert code == 1 and "the input is not one" in err and asked == []
    assert not (tmp_path / "lib").exists()

    # Without the option: the file fails, nothing is asked, and the way to type it is said.
    monkeypatch.setattr(sys, "stdin", _Terminal())
    code, out, err = run(capsys, *common, "add", str(docs))
    assert code == 0 and "1 failed" in out and asked == []
    assert "password is required" in err and "--password-prompt" in out

    code, out, err = run(capsys, *common, "add", str(docs), "--password-prompt")
    assert code == 0
    sample = docs / "libreoffice-writer-password.pdf"
    assert asked == [f"Password for {sample} (Enter to skip): "] * 2
    assert err.count("The password for libreoffice-writer-password.pdf is not right.") == 1
    assert "1 indexed, 2 already in the library" in out and "failed" not in out
    assert "guess" not in out + err and "openpassword" not in out + err
    code, out, _ = run(capsys, *common, "list", "--json")
    assert {d["status"] for d in json.loads(out)} == {"indexed"}


def test_add_password_prompt_takes_ctrl_d_as_skip_and_ctrl_c_as_stop(
    tmp_path: Path, docs: Path, tiny_model_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    monkeypatch.setattr(sys, "stdin", _Terminal())

    def end_of_input(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", end_of_input)
    code, out, err = run(capsys, *common, "add", str(docs), "--password-prompt")
    assert code == 0 and "2 indexed" in out and "1 failed" in out
    assert "internal error" not in err

    def interrupted(prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(getpass, "getpass", interrupted)
    code, out, err = run(capsys, *common, "add", str(docs), "--password-prompt")
    assert code == 130 and "Interrupted." in err


def test_add_password_prompt_skips_a_file_on_an_empty_answer(
    tmp_path: Path, docs: Path, tiny_model_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "")
    code, out, err = run(capsys, *common, "add", str(docs), "--password-prompt")
    assert code == 0 and "2 indexed" in out and "1 failed" in out
    assert "password is required" in err
