"""The import rules in pyproject.toml ([tool.importlinter]) hold, and each one catches its bug."""

from __future__ import annotations

import json
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
    assert "7 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("docretriever/search/maxsim.py", "import docretriever.library", "layers"),
        ("docretriever/storage/catalog.py", "import docretriever.cli", "layers"),
        ("docretriever/library/__init__.py", "import PySide6", "never imports Qt"),
        ("docretriever/library/__init__.py", "import torch", "embedding backend"),
        ("docretriever_ui/__init__.py", "import transformers", "embedding backend"),
        (
            "docretriever/library/qdrant/store.py",
            "import docretriever.library.local.store",
            "neither reaches",
        ),
        ("docretriever/library/local/follow.py", "import docretriever.library.qdrant", "neither reaches"),
        ("docretriever/library/ingest/pipeline.py", "import docretriever.library.local", "knows none"),
        ("docretriever/library/watching/changes.py", "import docretriever.library.qdrant", "watching"),
        ("docretriever/cli/wording.py", "import docretriever.storage.catalog", "never a back end's storage"),
        ("docretriever/vocabulary.py", "import docretriever.documents", "layers"),
    ],
    ids=[
        "search->library",
        "storage->cli",
        "core->Qt",
        "library->torch",
        "gui->transformers",
        "qdrant->local",
        "local->qdrant",
        "ingest->local",
        "watching->qdrant",
        "cli->storage",
        "vocabulary->documents",
    ],
)
def test_each_contract_catches_its_bug(tmp_path: Path, module: str, line: str, contract: str) -> None:
    result = _lint(tmp_path, (module, line))
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in " ".join(broken.split()), result.stdout


CYCLES = Path(__file__).parent / "helpers" / "import_cycles.py"


def import_cycles(packages: list[str], path: Path | None = None) -> list[list[str]]:
    """The circles of imports among ``packages`` (see helpers/import_cycles.py), found in a
    fresh interpreter with ``path`` (a copy of the code) first on its path."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(path or ""), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, str(CYCLES), *packages], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_no_module_imports_itself_in_a_circle() -> None:
    assert import_cycles(["docretriever", "docretriever_ui"]) == []


def test_a_circle_of_imports_is_found(tmp_path: Path) -> None:
    """The negative control: a type-only import back from the pipeline to the local library
    (the kind of circle this project once had) is reported, with both modules on it."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "docretriever", src / "docretriever", ignore=shutil.ignore_patterns("__pycache__"))
    pipeline = src / "docretriever" / "library" / "ingest" / "pipeline.py"
    pipeline.write_text(
        pipeline.read_text() + "\n\nfrom typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from docretriever.library.local.library import LocalLibrary\n"
    )
    cycles = import_cycles(["docretriever"], src)
    assert any(
        {"docretriever.library.ingest.pipeline", "docretriever.library.local.library"} <= set(cycle)
        for cycle in cycles
    ), cycles
