"""Watching followed folders end to end: a real watchdog observer over a temporary folder, the
tiny model, both back ends, and the ``watch`` command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, CountingEmbedder, corpus_or_skip

from docretriever.library import Library, open_library
from docretriever.library.watching import Change, FolderWatcher, handle_changes
from docretriever.vocabulary import MISSING

FOUR_PAGES = "004-pdflatex-4-pages/pdflatex-4-pages.pdf"
ONE_PAGE = "022-pdfkit/pdfkit.pdf"
OTHER = "026-latex-multicolumn/multicolumn.pdf"
EDITED = "006-pdflatex-outline/pdflatex-outline.pdf"  # 4 pages
WAIT_S = 90.0


def sample(relative: str) -> Path:
    return corpus_or_skip(SAMPLES) / relative


class Watching:
    """A FolderWatcher over a library's followed folders, its batches handled on a thread of
    its own (as the GUI's writer does), every change kept in ``changes``."""

    def __init__(self, library: Library, settle_s: float) -> None:
        self.library = library
        self.watcher = FolderWatcher(library.followed_folders(), settle_s=settle_s)
        self.changes: list[Change] = []
        self.embedded: list[int] = []  # pages embedded per batch
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self.watcher.start()
        self.watcher.next_batch(0)  # arms the folders before the test changes anything
        self.thread = threading.Thread(target=self._run, name="test-watch")
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.watcher.next_batch(0.5)
            if batch:
                try:
                    handled = handle_changes(self.library, batch)
                except BaseException as error:  # reported by wait_for
                    self.errors.append(error)
                    return
                self.embedded.append(handled.report.pages_embedded)
                self.changes.extend(handled.changes)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"timed out waiting for {what}; changes: {self.changes}"
            time.sleep(0.02)  # polling the condition, not synchronising on time

    def of(self, path: Path) -> list[tuple[str, int]]:
        return [(change.kind, change.pages) for change in self.changes if change.path == str(path)]

    def stop(self) -> None:
        self._stop.set()
        self.watcher.stop()
        self.thread.join(10)
        assert not self.thread.is_alive() and not self.watcher.running


def copy_slowly(source: Path, target: Path, watching: Watching, chunks: int = 6) -> None:
    """Write ``source`` to ``target`` in chunks, the watcher looking at the half-written file
    after each chunk (as during a slow copy) before the next one is written."""
    data = source.read_bytes()
    size = -(-len(data) // chunks)
    with open(target, "wb") as file:
        for start in range(0, len(data), size):
            file.write(data[start : start + size])
            file.flush()
            os.fsync(file.fileno())
            looks = watching.watcher.looks
            watching.wait_for(
                lambda looks=looks: (
                    watching.watcher.looks >= looks + 2 and str(target) in watching.watcher.held
                ),
                "the watcher to look at the half-written file",
            )


@pytest.fixture(params=["local", "qdrant"])
def library(request, tmp_path: Path, counting_embedder: CountingEmbedder) -> Iterator[Library]:
    if request.param == "local":
        opened = open_library(tmp_path / "lib", embedder=counting_embedder)
    else:
        opened = open_library(f"qdrant+local://{tmp_path}/qd/pages", embedder=counting_embedder)
    yield opened
    opened.close()


def test_new_changed_moved_and_deleted_files_are_followed_while_watched(
    library: Library, tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(sample(ONE_PAGE), folder / "a.pdf")
    shutil.copy(sample(OTHER), folder / "b.pdf")
    library.add([str(folder)])
    assert library.followed_folders() == [str(folder)]
    watching = Watching(library, settle_s=1.0)
    try:
        new = folder / "new.pdf"
        copy_slowly(sample(FOUR_PAGES), new, watching)
        watching.wait_for(lambda: watching.of(new), "the new file")
        assert watching.of(new) == [("added", 4)]  # once, complete: every page
        assert not any(change.kind == "failed" for change in watching.changes)

        shutil.copy(sample(EDITED), folder / "a.pdf")  # edited in place
        watching.wait_for(lambda: watching.of(folder / "a.pdf"), "the edited file")
        assert watching.of(folder / "a.pdf") == [("changed", 4)]

        embedded = counting_embedder.pages_embedded
        (folder / "sub").mkdir()
        moved = folder / "sub" / "b moved.pdf"
        (folder / "b.pdf").rename(moved)
        watching.wait_for(lambda: watching.of(moved), "the moved file")
        assert watching.of(moved) == [("moved", 3)]  # its 3 pages
        assert counting_embedder.pages_embedded == embedded and watching.embedded[-1] == 0  # kept its pages
        assert (
            str(moved)
            in next(d for d in library.documents() if d.doc_id == watching.changes[-1].doc_id).paths
        )

        new.unlink()
        watching.wait_for(lambda: watching.of(new)[1:], "the deleted file")
        assert watching.of(new)[1] == ("missing", 4)
        assert str(new) in {
            path for document in library.documents() for path in document.paths
        }  # not forgotten
    finally:
        watching.stop()


def test_the_watched_folder_deleted_keeps_its_pages_and_is_watched_again_when_back(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(sample(ONE_PAGE), folder / "a.pdf")
    shutil.copy(sample(OTHER), folder / "b.pdf")
    library.add([str(folder)])
    pages = {document.doc_id: document.page_count for document in library.documents()}
    watching = Watching(library, settle_s=0.5)
    try:
        shutil.rmtree(folder)
        watching.wait_for(
            lambda: (
                {c.path for c in watching.changes if c.kind == "missing"}
                >= {str(folder / "a.pdf"), str(folder / "b.pdf")}
            ),
            "both files missing",
        )
        kept = {document.doc_id: document.page_count for document in library.documents()}
        assert kept == pages  # nothing forgotten
        if "Local" in type(library).__name__:
            assert {document.availability for document in library.documents()} == {MISSING}
        assert watching.watcher.running and watching.thread.is_alive()

        folder.mkdir()  # back: watched again
        watching.wait_for(lambda: watching.watcher.folders == [str(folder)], "the folder watched again")
        late = folder / "late.pdf"
        shutil.copy(sample(FOUR_PAGES), late)
        watching.wait_for(lambda: watching.of(late), "a file added after the folder came back")
        assert watching.of(late) == [("added", 4)]
    finally:
        watching.stop()


def test_without_a_settle_time_a_slow_copy_is_taken_half_written(
    tmp_path: Path, counting_embedder: CountingEmbedder
) -> None:
    """The negative control of the slow copy above: the settle time is what holds it back."""
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(sample(ONE_PAGE), folder / "a.pdf")
    library = open_library(tmp_path / "lib", embedder=counting_embedder)
    library.add([str(folder)])
    watching = Watching(library, settle_s=0.0)
    new = folder / "new.pdf"
    try:
        data = sample(FOUR_PAGES).read_bytes()
        with open(new, "wb") as file:
            file.write(data[: len(data) // 3])
            file.flush()
            watching.wait_for(lambda: watching.of(new), "the half-written file handled")
            assert watching.of(new)[0][0] == "failed"
            file.write(data[len(data) // 3 :])
    finally:
        watching.stop()
        library.close()


def test_the_watch_command_prints_each_file_and_stops_on_ctrl_c(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(sample(ONE_PAGE), folder / "a.pdf")
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    run = [sys.executable, "-m", "docretriever", *common]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    empty = subprocess.run([*run, "watch"], env=env, capture_output=True, text=True, timeout=120)
    assert empty.returncode == 1 and "no library" in empty.stderr.lower()
    subprocess.run([*run, "add", str(folder)], env=env, check=True, capture_output=True, timeout=300)

    watch = subprocess.Popen(
        [*run, "watch", "--settle", "0.5"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert watch.stdout is not None
        lines = []
        for line in watch.stdout:  # the first line says what is watched: then a file comes in
            lines.append(line)
            if line.startswith("Watching"):
                shutil.copy(sample(FOUR_PAGES), folder / "new.pdf")
            if line.startswith("added"):
                break
        assert f"added   {folder / 'new.pdf'}: 4 pages indexed\n" in lines, lines
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=60)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    assert "1 added in 1 batch" in out
