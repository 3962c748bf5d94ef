"""The docretriever command line, in process (and in a subprocess for start-up checks)."""

from __future__ import annotations

import json
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
