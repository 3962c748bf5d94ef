"""House rules that a test can hold: a headless core, only two shipped import names."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_imports_without_qt() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "docretriever").rglob("*.py")
        if p.name != "__main__.py"
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "gui = [m for m in sys.modules if m.startswith(('PySide6', 'docretriever_ui'))]\n"
        "print('QT' if gui else 'HEADLESS')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "HEADLESS"


def test_only_docretriever_and_docretriever_ui_ship() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert sorted(Path(p).name for p in packages) == ["docretriever", "docretriever_ui"]
    assert not (ROOT / "models" / "__init__.py").exists() and not (ROOT / "ui" / "__init__.py").exists()
