"""The import rules in pyproject.toml ([tool.importlinter]) hold, and each one catches its bug."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tmp_path: Path, inject: tuple[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """lint-imports over a copy of the code, with ``inject`` = (module file, import line) added."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "docretriever", src / "docretriever", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "ui" / "docretriever_ui", src / "docretriever_ui", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if inject is not None:
        target = src / inject[0]
        target.write_text(target.read_text() + f"\n\n{inject[1]}\n")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_code_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("docretriever/search/maxsim.py", "import docretriever.library", "layers"),
        ("docretriever/storage/catalog.py", "import docretriever.cli", "layers"),
        ("docretriever/library/__init__.py", "import PySide6", "never imports Qt"),
        ("docretriever/library/__init__.py", "import torch", "embedding backend"),
        ("docretriever_ui/__init__.py", "import transformers", "embedding backend"),
        ("docretriever/library/qdrant/store.py", "import docretriever.library.ingest", "reaches the local"),
        ("docretriever/library/pipeline.py", "import docretriever.library.qdrant", "reach Qdrant"),
    ],
    ids=[
        "search->library",
        "storage->cli",
        "core->Qt",
        "library->torch",
        "gui->transformers",
        "qdrant->local",
        "local->qdrant",
    ],
)
def test_each_contract_catches_its_bug(tmp_path: Path, module: str, line: str, contract: str) -> None:
    result = _lint(tmp_path, (module, line))
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in " ".join(broken.split()), result.stdout
