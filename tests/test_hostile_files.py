"""Hostile and odd files: each ends indexed or failed with a reason, and never costs the batch.

Rendering runs in worker processes; a worker that crashes, hangs or runs out of memory costs one
page or one file, and the rest of the batch is indexed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pymupdf
import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.documents import PageInfo
from docretriever.documents.render import RenderedPage, display_size
from docretriever.documents.render_pool import RenderPool
from docretriever.errors import DocumentError, PageError
from docretriever.library import open_library
from docretriever.library.local import LocalLibrary

CRASHING_WORKER = [sys.executable, str(Path(__file__).parent / "helpers" / "crashing_render_worker.py")]


def one_page_pdf(path: Path, text: str, size: tuple[float, float] = (612, 792), **save: object) -> Path:
    with pymupdf.open() as pdf:
        page = pdf.new_page(width=size[0], height=size[1])
        page.insert_text((72, 72), text, fontsize=24)
        pdf.save(path, **save)
    return path


@pytest.fixture()
def hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    nested = folder / "nested"
    nested.mkdir(parents=True)
    (folder / "random.pdf").write_bytes(os.urandom(5000))
    (folder / "zero.pdf").write_bytes(b"")
    (folder / "notes.pdf").write_text("a text file with a .pdf name\n")
    good = corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf"
    (folder / "truncated.pdf").write_bytes(good.read_bytes()[:2000])
    aes = {"encryption": pymupdf.PDF_ENCRYPT_AES_256, "owner_pw": "owner"}
    one_page_pdf(folder / "user-password.pdf", "locked", user_pw="secret", **aes)
    one_page_pdf(folder / "owner-only.pdf", "permissions only", **aes)
    one_page_pdf(folder / "huge.pdf", "a very large page", size=(14400, 14400))
    one_page_pdf(nested / "ünïcødé, with spaces.pdf", "unicode name")
    one_page_pdf(nested / "crash-renderer.pdf", "this file kills its worker")
    (nested / "loop").symlink_to(folder, target_is_directory=True)
    return folder


EXPECTED = {
    "random.pdf": ("failed", "not a readable PDF"),
    "zero.pdf": ("failed", "empty"),
    "notes.pdf": ("failed", "not a readable PDF"),
    "truncated.pdf": ("failed", "no pages"),
    "user-password.pdf": ("failed", "password is required"),
    "owner-only.pdf": ("indexed", None),
    "huge.pdf": ("indexed", None),
    "ünïcødé, with spaces.pdf": ("indexed", None),
    "crash-renderer.pdf": ("failed", "crashed"),
}


def test_every_hostile_file_ends_indexed_or_failed_and_the_rest_is_indexed(
    hostile_folder: Path, tmp_path: Path, tiny_embedder
) -> None:
    renderer = RenderPool(workers=1, command=CRASHING_WORKER)
    library = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder, renderer=renderer)
    report = library.add([hostile_folder])
    outcomes = {Path(o.path).name: o for o in report.outcomes}
    assert set(outcomes) == set(EXPECTED)  # the symlink loop added nothing twice
    for name, (status, reason) in EXPECTED.items():
        assert outcomes[name].status == status, (name, outcomes[name])
        if reason:
            assert reason in (outcomes[name].error or ""), (name, outcomes[name].error)
    assert {d.status for d in library.documents()} == {"indexed", "failed"}  # nothing pending
    huge = next(d for d in library.documents() if d.paths[0].endswith("huge.pdf"))
    assert huge.page_count == 1 and huge.error is None
    assert len(library.search("unicode", k=3)) == 3
    library.close()
    assert renderer.worker_pids() == []


def test_a_renderer_that_times_out_fails_the_file_and_a_later_add_indexes_it(
    tmp_path: Path, tiny_embedder
) -> None:
    path = one_page_pdf(tmp_path / "slow.pdf", "slow")
    stuck = RenderPool(workers=1, timeout_s=0.0)  # every request "takes too long"
    library = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder, renderer=stuck)
    outcome = library.add([path]).outcomes[0]
    assert outcome.status == "failed" and "longer than 0 s (tried twice)" in (outcome.error or "")
    library.close()
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    assert library.add([path]).outcomes[0].status == "indexed"
    library.close()


def test_runaway_memory_fails_the_page_and_the_worker_goes_on(tmp_path: Path) -> None:
    path = one_page_pdf(tmp_path / "big.pdf", "big", size=(14400, 14400))
    info = PageInfo(0, 14400.0, 14400.0, 0)
    pool = RenderPool(workers=1, memory_bytes=1 << 30)
    try:
        # 400 megapixels: 1.2 GB of RGB, over the worker's 1 GiB address space.
        (result,) = pool.render(path, [info], [display_size(14400, 14400, 400_000_000)])
        assert isinstance(result, PageError)
        (result,) = pool.render(path, [info], [display_size(14400, 14400, 1_000_000)])
        assert isinstance(result, RenderedPage) and result.image.width * result.image.height <= 1_000_000
    finally:
        pool.close()


def test_a_killed_worker_is_replaced_and_the_request_retried(tmp_path: Path) -> None:
    path = one_page_pdf(tmp_path / "page.pdf", "page")
    pool = RenderPool(workers=1)
    try:
        infos = pool.inspect(path)
        (first_pid,) = pool.worker_pids()
        os.kill(first_pid, 9)
        (result,) = pool.render(path, infos, [display_size(i.width_pt, i.height_pt, 500_000) for i in infos])
        assert isinstance(result, RenderedPage)
        assert pool.worker_pids() and first_pid not in pool.worker_pids()
        with pytest.raises(DocumentError, match=r"Cannot read .*: Is a directory"):
            pool.inspect(tmp_path)  # a folder: refused by the worker, which stays up
        assert len(pool.worker_pids()) == 1
    finally:
        pool.close()
