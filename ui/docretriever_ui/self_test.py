"""``docretriever-gui --self-test``: proof that an installed copy starts, without the network.

Each check runs in turn and records whether it passed, how long it took and, if not, why; the
result is one JSON line on standard output, and the exit status is 0 only if every check
passed. Nothing touches the person's settings or library: everything happens in a temporary
folder. With ``--model FOLDER`` one page is also embedded by that model.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

SELF_TEST_PDF = "self-test.pdf"


def bundled_pdf() -> Path:
    """The one-page PDF shipped inside the app for this test."""
    return Path(str(resources.files("docretriever_ui") / "resources" / SELF_TEST_PDF))


class SelfTest:
    """Runs the checks in a scratch folder; :meth:`run` returns the report."""

    def __init__(self, scratch: Path, model: str | None = None, device: str = "cpu") -> None:
        self.scratch = scratch
        self.model = model
        self.device = device
        self.checks: dict[str, dict[str, Any]] = {}
        self._page: Any = None

    def run(self) -> dict[str, Any]:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("window", self._window),
            ("render", self._render),
            ("usearch", self._usearch),
            ("sqlite", self._sqlite),
            ("torch", self._torch),
        ]
        if self.model:
            steps.append(("embed", self._embed))
        for name, step in steps:
            started = time.perf_counter()
            try:
                entry: dict[str, Any] = {"ok": True, "detail": step()}
            except Exception as exc:  # every failure is reported, none stops the others
                entry = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                entry["traceback"] = traceback.format_exc(limit=6)
            entry["seconds"] = round(time.perf_counter() - started, 3)
            self.checks[name] = entry
        from docretriever import __version__

        return {
            "self_test": "docretriever",
            "version": __version__,
            "python": sys.version.split()[0],
            "platform": sys.platform,
            "ok": all(check["ok"] for check in self.checks.values()),
            "checks": self.checks,
        }

    def _window(self) -> str:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from docretriever_ui.main_window import MainWindow
        from docretriever_ui.session import LibrarySession
        from docretriever_ui.settings import AppSettings

        app = QApplication.instance() or QApplication([sys.argv[0], "-platform", "offscreen"])
        settings = AppSettings(QSettings(str(self.scratch / "settings.ini"), QSettings.Format.IniFormat))
        settings.library = str(self.scratch / "library")
        session = LibrarySession(settings)
        window = MainWindow(session)
        window.show()
        app.processEvents()
        shown = window.isVisible()
        window.hide()
        app.processEvents()
        session.close()
        window.deleteLater()
        if not shown:
            raise RuntimeError("the main window did not show")
        return f"Qt platform {app.platformName()}"  # type: ignore[attr-defined]

    def _render(self) -> str:
        """Render the bundled page as ingest renders it for the model (the model's geometry, at
        its default budget), without loading the model."""
        from docretriever.documents import open_pdf, read_page_infos, render_page
        from docretriever.embedding import ModelSpec, model_geometry

        path = bundled_pdf()
        geometry = model_geometry(ModelSpec(self.model or "", self.device))
        with open_pdf(path) as document:
            (info,) = read_page_infos(document)
            size = geometry.render_size(info.width_pt, info.height_pt, geometry.default_cells)
            self._page = render_page(path, document, info, size)
        width, height = self._page.image.size
        if width * height == 0:
            raise RuntimeError("the page rendered empty")
        return f"{width} x {height} px by {self._page.renderer}"

    def _usearch(self) -> str:
        import numpy as np
        from usearch.index import Index

        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(64, 128)).astype(np.float32)
        index = Index(ndim=128, metric="cos", dtype="f16")
        index.add(np.arange(64), vectors)
        path = self.scratch / "check.usearch"
        index.save(str(path))
        reopened = Index.restore(str(path))
        if reopened is None or len(reopened) != 64:
            raise RuntimeError("the saved index did not reopen whole")
        found = int(reopened.search(vectors[17], 1).keys[0])
        if found != 17:
            raise RuntimeError(f"the reopened index found vector {found}, not 17")
        return f"usearch {_version('usearch')}: 64 vectors saved, reopened, found"

    def _sqlite(self) -> str:
        from docretriever.storage import Catalog

        catalog = Catalog(self.scratch / "catalog.sqlite3")
        catalog.set_meta("self_test", "1")
        value = catalog.get_meta("self_test")
        catalog.close()
        if value != "1":
            raise RuntimeError("the catalog did not keep what was written")
        return f"SQLite {sqlite3.sqlite_version} (WAL)"

    def _torch(self) -> str:
        from docretriever.embedding import describe_backend

        return describe_backend()

    def _embed(self) -> str:
        from docretriever.embedding import ModelSpec, load_embedder

        if self._page is None:
            raise RuntimeError("no page to embed: the render check failed")
        embedder = load_embedder(ModelSpec(str(self.model), self.device))
        (embedding,) = embedder.embed_pages([self._page.image])
        return f"{embedding.vectors.shape[0]} vectors of {embedding.vectors.shape[1]} for one page"


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def run_self_test(model: str | None = None, device: str = "cpu") -> int:
    """Run the self-test, print its one JSON line, return the exit status (0: all passed)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="docretriever-self-test-") as scratch:
        report = SelfTest(Path(scratch), model, device).run()
    print(json.dumps(report, separators=(",", ":")), flush=True)
    return 0 if report["ok"] else 1
