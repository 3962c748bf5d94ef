"""Shared fixtures: the offline guard, the corpus, the tiny model and libraries built with it."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_fixtures import hub, hub_cache, hub_repos, no_cached_models  # noqa: F401  (fixtures: a local Hub for download tests)
from learned_fixtures import (  # noqa: F401  (fixtures: the trained reading model and held-out pages)
    held_out_pages,
    held_out_pdf,
    reader_dir,
    reader_library,
)
from password_fixtures import stand_in_keyring  # noqa: F401  (a fixture: a keyring in memory)

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The weights' digests are cached per user; tests keep theirs out of the real user cache.
os.environ["DOCRETRIEVER_CACHE_DIR"] = tempfile.mkdtemp(prefix="docretriever-cache-")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test reads or writes the keyring of the person running it (here or in a subprocess): a
# test that needs one sets a stand-in (password_fixtures.stand_in_keyring).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = CORPUS / "sample-files"
MALFORMED = CORPUS / "qpdf-malformed"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection beyond this machine."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in {"127.0.0.1", "::1", "localhost"}:
            raise RuntimeError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Real-checkpoint tests run only when a model is named (see tests/test_real_model.py); the
    learned-retrieval tests only once the trained reading model is committed (issue 17)."""
    from learned_fixtures import READER

    if not (READER / "model.safetensors").exists():
        untrained = pytest.mark.skip(
            reason="models/tiny-reader has no trained weights yet: retrieval on learned embeddings untested"
        )
        for item in items:
            if "learned_model" in item.keywords:
                item.add_marker(untrained)
    if os.environ.get("DOCRETRIEVER_REAL_MODEL"):
        return
    skip = pytest.mark.skip(reason="set DOCRETRIEVER_REAL_MODEL to run real-checkpoint tests")
    for item in items:
        if "real_model" in item.keywords:
            item.add_marker(skip)


def corpus_or_skip(folder: Path) -> Path:
    """``folder`` of the shared corpus; skips the test where it is missing, except where
    DOCRETRIEVER_REQUIRE_CORPUS is set (CI sets it): there a missing corpus fails the test, so
    that a run cannot be green with the tests on real PDFs skipped."""
    if not folder.is_dir():
        message = f"the shared corpus is not beside the checkout ({folder})"
        if os.environ.get("DOCRETRIEVER_REQUIRE_CORPUS", "") not in ("", "0"):
            pytest.fail(message + " and DOCRETRIEVER_REQUIRE_CORPUS is set")
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def sample_manifest() -> dict[str, dict[str, object]]:
    manifest = json.loads((corpus_or_skip(SAMPLES) / "files.json").read_text())
    return {entry["path"]: entry for entry in manifest["data"]}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from docretriever.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny")


@pytest.fixture(scope="session")
def tiny_embedder(tiny_model_dir: Path):
    from docretriever.embedding import ModelSpec, load_embedder

    return load_embedder(ModelSpec(str(tiny_model_dir), device="cpu"))


class CountingEmbedder:
    """Wraps an embedder and counts the pages it embeds (to prove nothing is embedded twice)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.pages_embedded = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    @property
    def identity(self):
        return self.inner.identity

    @property
    def geometry(self):
        return self.inner.geometry

    def render_size(self, width_pt: float, height_pt: float) -> tuple[int, int]:
        return self.inner.render_size(width_pt, height_pt)

    def embed_pages(self, images, cancel=None):
        self.pages_embedded += len(images)
        return self.inner.embed_pages(images, cancel)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


@pytest.fixture()
def counting_embedder(tiny_embedder) -> Iterator[CountingEmbedder]:
    yield CountingEmbedder(tiny_embedder)


@pytest.fixture()
def app_settings(tmp_path: Path):
    """GUI preferences in a temporary ini file, with the library in a temporary folder."""
    from PySide6.QtCore import QSettings

    from docretriever_ui.settings import AppSettings

    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.library = str(tmp_path / "library")
    # Off unless a test turns it on (tests/test_ui_folder_watch.py): other tests change their
    # followed folders and expect no ingest they did not start.
    settings.watch_folders = False
    return settings


@pytest.fixture()
def ui_session(app_settings, tiny_embedder, tiny_model_dir: Path, qtbot):
    """A LibrarySession over an empty library that embeds with the tiny model."""
    from docretriever_ui.session import LibrarySession

    app_settings.model = str(tiny_model_dir)
    session = LibrarySession(app_settings, embedder=tiny_embedder)
    yield session
    session.close()


@pytest.fixture()
def indexed_session(ui_session, qtbot):
    """A session whose library holds a few sample PDFs (one rotated), already indexed."""
    docs = [
        SAMPLES / "015-arabic" / "habibi-rotated.pdf",
        SAMPLES / "022-pdfkit" / "pdfkit.pdf",
        SAMPLES / "026-latex-multicolumn" / "multicolumn.pdf",
    ]
    for path in docs:
        corpus_or_skip(path.parent)
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(p) for p in docs])
    return ui_session


@pytest.fixture()
def window(ui_session, qtbot):
    """The main window over ``ui_session``, shown and active (on a real X server, CI's Xvfb run,
    keyboard focus needs the window to be the active one). Test files with another set-up
    define their own."""
    from docretriever_ui.main_window import MainWindow

    main = MainWindow(ui_session)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    qtbot.waitUntil(main.isActiveWindow, timeout=5_000)
    return main
