"""Compaction: removed documents' vectors are reclaimed, every other page's vectors stay bit for
bit, and a crash (simulated, or a real kill -9) at any step leaves a library that searches the
same and that the next compaction finishes.

The vector segments are made small here (about 3 pages each), so that a library spans several
files and a compaction writes several: rollover and partial deletions are exercised too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.cli import main
from docretriever.errors import Cancelled, LibraryError
from docretriever.library import open_library
from docretriever.library.local import LocalLibrary, compaction
from docretriever.progress import CancelToken, Progress
from docretriever.storage import vectors
from docretriever.storage.catalog import INDEXED, Catalog
from docretriever.storage.vectors import MissingVectorsError, VectorStore

FILES = (  # 12 pages: 4, 4, 3 and 1
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "015-arabic/habibi-rotated.pdf",
    "026-latex-multicolumn/multicolumn.pdf",
    "022-pdfkit/pdfkit.pdf",
)
QUERIES = ("a page of text", "arabic script", "columns of a table")
SMALL_SEGMENTS = 600_000  # bytes: three pages of the tiny model (770 rows of 128 float16)


@pytest.fixture(autouse=True)
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "SEGMENT_BYTES", SMALL_SEGMENTS)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Path:
    """A library holding FILES, built once; tests work on copies."""
    docs = tmp_path_factory.mktemp("docs")
    for relative in FILES:
        shutil.copy(corpus_or_skip(SAMPLES) / relative, docs)
    folder = tmp_path_factory.mktemp("template") / "lib"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vectors, "SEGMENT_BYTES", SMALL_SEGMENTS)
        library = open_library(folder, embedder=tiny_embedder)
        library.add([docs])
        library.close()
    return folder


@pytest.fixture()
def library(template: Path, tmp_path: Path, tiny_embedder) -> Iterator[LocalLibrary]:
    """A copy of the template with two documents (7 of its 12 pages) removed."""
    shutil.copytree(template, tmp_path / "lib")
    opened = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder)
    for name in ("habibi-rotated.pdf", "multicolumn.pdf"):
        removed = opened.catalog.pages(opened.find_document(_path_of(opened, name)).id, INDEXED)[0]
        opened.remove(_path_of(opened, name))
        with opened.catalog.transaction() as db:  # as a removal does, whatever else it keeps
            db.execute(
                "INSERT INTO spare_vectors (content_sha256, grid_x, grid_y, n_rows, segment, row_offset)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (f"test-{removed.id}", *removed.grid, removed.n_rows, removed.segment, removed.row_offset),
            )
    yield opened
    opened.close()


def _path_of(library: LocalLibrary, name: str) -> str:
    return next(path for d in library.documents() for path in d.paths if path.endswith(name))


def results(library: LocalLibrary) -> list[list[tuple[str, int, float, bytes]]]:
    """Every query's hits, fast path and exact: pages, scores and similarity maps, exactly."""
    return [
        [(h.doc_id, h.page, h.score, h.similarity.tobytes()) for h in library.search(q, k=12, exact=exact)]
        for q in QUERIES
        for exact in (False, True)
    ]


def page_rows(library: LocalLibrary) -> dict[int, bytes]:
    """Each indexed page's stored vectors, as bytes (a bit-for-bit comparison)."""
    return {
        p.id: library.store.rows(p.segment, p.row_offset, p.n_rows).tobytes()
        for p in library.catalog.pages(status=INDEXED)
    }


def vector_files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (folder / "vectors").glob("segment-*.f16")}


def assert_compacted(library: LocalLibrary) -> None:
    """Only files pages point into are left, holding exactly the rows in use."""
    segments = {int(name[8:14]) for name in vector_files(library.folder)}
    assert segments == library.catalog.referenced_segments()
    assert compaction.usage(library.catalog, library.store).unused_bytes == 0


def crash_copy(library: LocalLibrary, to: Path) -> None:
    """The folder as a crash at this moment would leave it: everything written is durable by
    then; SQLite rebuilds its shared-memory file on opening."""
    shutil.copytree(library.folder, to, ignore=shutil.ignore_patterns("*-shm", "writer.lock"))


def test_compaction_reclaims_removed_vectors_and_keeps_the_rest_bit_for_bit(library: LocalLibrary) -> None:
    rows, expected, before = page_rows(library), results(library), vector_files(library.folder)
    index = (library.folder / "index.usearch").read_bytes()
    assert library.catalog.spare_vector_count() >= 2  # the removed pages' vectors, kept for reuse
    reports: list[Progress] = []
    report = library.compact(progress=reports.append)
    after = vector_files(library.folder)
    assert report.bytes_before == sum(before.values()) and report.bytes_after == sum(after.values())
    assert report.bytes_after == 5 * 770 * 128 * 2 < report.bytes_before and report.pages_moved == 5
    assert not set(before) & set(after)  # every old file is gone, the rows are in new ones
    last = reports[-1]
    assert (last.stage, last.done, last.total, last.unit) == (
        "Compacting",
        *[report.bytes_after] * 2,
        "bytes",
    )
    assert library.catalog.spare_vector_count() == 0
    assert page_rows(library) == rows and results(library) == expected
    assert (library.folder / "index.usearch").read_bytes() == index  # keyed by page id: unchanged
    assert_compacted(library)
    again = library.compact()
    assert again.note == compaction.NOTHING_TO_RECLAIM and vector_files(library.folder) == after
    reopened = LocalLibrary(library.folder, embedder=library.embedder)
    assert results(reopened) == expected
    reopened.close()


def test_pages_that_share_vectors_keep_sharing_one_copy(library: LocalLibrary) -> None:
    first, second = library.catalog.pages(status=INDEXED)[:2]
    with library.catalog.transaction() as db:  # as reuse does: the second page uses the first's rows
        db.execute(
            "UPDATE pages SET grid_x = ?, grid_y = ?, n_rows = ?, segment = ?, row_offset = ?,"
            " cell_rows = ? WHERE id = ?",
            (*first.grid, first.n_rows, first.segment, first.row_offset, first.cell_rows, second.id),
        )
    rows, expected = page_rows(library), results(library)
    report = library.compact()
    moved = {p.id: (p.segment, p.row_offset) for p in library.catalog.pages(status=INDEXED)}
    assert moved[first.id] == moved[second.id]
    assert report.pages_moved == 5 and report.bytes_after == 4 * 770 * 128 * 2  # copied once
    assert compaction.usage(library.catalog, library.store).live_bytes == report.bytes_after  # counted once
    assert page_rows(library) == rows and results(library) == expected


@pytest.mark.parametrize("step", ["copied", "committed", "deleting"])
def test_a_crash_at_each_step_searches_the_same_and_the_next_compaction_finishes(
    library: LocalLibrary, step: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, expected, files = page_rows(library), results(library), vector_files(library.folder)
    crashed = tmp_path / "crashed"
    if step == "copied":  # the new files are written, the catalog still points at the old ones
        relocate = Catalog.relocate_vectors

        def crash_before_commit(self: Catalog, *args: object) -> None:
            crash_copy(library, crashed)
            relocate(self, *args)

        monkeypatch.setattr(Catalog, "relocate_vectors", crash_before_commit)
    else:  # committed: before any old file is deleted; deleting: after the first of them
        delete = VectorStore.delete_segments

        def crash_while_deleting(self: VectorStore, segments: object) -> list[int]:
            old = list(segments)
            done = 1 if step == "deleting" else 0
            delete(self, old[:done])
            crash_copy(library, crashed)
            return delete(self, old[done:])

        monkeypatch.setattr(VectorStore, "delete_segments", crash_while_deleting)
    library.compact()
    monkeypatch.undo()
    survivor = LocalLibrary(crashed, embedder=library.embedder)
    left = vector_files(crashed)
    assert len(left) > len(vector_files(library.folder)) and set(left) != set(files)  # a crash mid-way
    assert page_rows(survivor) == rows and results(survivor) == expected
    if step == "copied":
        survivor.compact()
    else:  # only leftovers to delete: no compaction needed for that
        assert survivor.compact_if_worthwhile() is None
    assert_compacted(survivor)
    assert page_rows(survivor) == rows and results(survivor) == expected
    survivor.close()


KILLED_CHILD = """
import os, signal, sys
from docretriever.library.local import LocalLibrary
from docretriever.storage import vectors
from docretriever.storage.catalog import Catalog
from docretriever.storage.vectors import VectorStore

folder, point = sys.argv[1], sys.argv[2]
vectors.SEGMENT_BYTES = int(sys.argv[3])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if point == "copy":  # while copying the second range: the first one half written, not fsync'ed
    rows, calls = VectorStore.rows, []
    def rows_then_die(self, *args):
        calls.append(args)
        if len(calls) == 2:
            die()
        return rows(self, *args)
    VectorStore.rows = rows_then_die
elif point == "commit":
    relocate = Catalog.relocate_vectors
    Catalog.relocate_vectors = lambda self, *args: (relocate(self, *args), die())
else:  # after the first old file is deleted
    delete = VectorStore.delete_segments
    VectorStore.delete_segments = lambda self, old: (delete(self, list(old)[:1]), die())
LocalLibrary(folder).compact()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("point", ["copy", "commit", "delete"])
def test_kill_minus_nine_mid_compaction_loses_nothing(library: LocalLibrary, point: str) -> None:
    rows, expected, folder = page_rows(library), results(library), library.folder
    library.close()
    command = [sys.executable, "-c", KILLED_CHILD, str(folder), point, str(SMALL_SEGMENTS)]
    child = subprocess.run(command, capture_output=True, timeout=120)
    assert child.returncode == -9, child.stderr.decode()
    survivor = LocalLibrary(folder, embedder=library.embedder)
    assert page_rows(survivor) == rows and results(survivor) == expected
    survivor.compact()
    assert_compacted(survivor)
    assert page_rows(survivor) == rows and results(survivor) == expected
    survivor.close()


def test_cancel_or_a_failed_commit_leaves_nothing_behind(
    library: LocalLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, locations = vector_files(library.folder), library.catalog.vector_locations()
    expected, spare = results(library), library.catalog.spare_vector_count()
    cancel = CancelToken()

    def cancel_once_copying(progress: Progress) -> None:
        if progress.done:
            cancel.cancel()

    with pytest.raises(Cancelled):
        library.compact(progress=cancel_once_copying, cancel=cancel)

    def disk_full(*args: object) -> None:
        raise LibraryError("The library catalog could not be written: database or disk is full.")

    monkeypatch.setattr(Catalog, "relocate_vectors", disk_full)
    with pytest.raises(LibraryError, match="disk is full"):
        library.compact()
    for _ in range(2):  # after each: the same files, the same catalog
        assert vector_files(library.folder) == files and library.catalog.vector_locations() == locations
        assert library.catalog.spare_vector_count() == spare and results(library) == expected
        monkeypatch.undo()
    assert library.compact().pages_moved == 5


def test_the_commit_refuses_a_catalog_that_changed_since_the_copy(library: LocalLibrary) -> None:
    locations = library.catalog.vector_locations()
    moves = [(page, segment, row, 1000, row) for page, segment, row, _ in locations]
    wrong = (moves[0][0], moves[0][1], moves[0][2] + 1, 1000, 0)
    for changed in (moves[1:], [wrong, *moves[1:]]):  # a page left out; a page not where it was
        with pytest.raises(LibraryError, match="changed while it was being compacted"):
            library.catalog.relocate_vectors(changed, first_new=1000)
    assert library.catalog.vector_locations() == locations and library.catalog.spare_vector_count() >= 2
    library.catalog.relocate_vectors(moves, first_new=1000)  # the control: as planned, it commits
    assert {segment for _, segment, _, _ in library.catalog.vector_locations()} == {1000}
    assert library.catalog.spare_vector_count() == 0


def test_automatic_compaction_runs_past_the_threshold_and_not_below(
    template: Path, tmp_path: Path, tiny_embedder
) -> None:
    for min_bytes in (0, compaction.AUTO_COMPACT_MIN_BYTES):
        folder = tmp_path / f"lib{min_bytes}"
        shutil.copytree(template, folder)
        library = LocalLibrary(folder, embedder=tiny_embedder)
        library.auto_compact_min_bytes = min_bytes
        files = vector_files(folder)
        library.remove(_path_of(library, "pdfkit.pdf"))  # 1 page of 12 unused: below half
        library.remove(_path_of(library, "habibi-rotated.pdf"))  # 5 of 12: still below
        assert vector_files(folder) == files
        library.remove(_path_of(library, "multicolumn.pdf"))  # 8 of 12: past half
        usage = compaction.usage(library.catalog, library.store)
        if min_bytes:  # the same share, but fewer bytes than worth a rewrite
            assert vector_files(folder) == files and usage.unused_bytes == 8 * 770 * 128 * 2
        else:
            assert vector_files(folder) != files and usage.unused_bytes == 0
            assert library.catalog.spare_vector_count() == 0
        library.close()


def test_an_add_that_replaces_a_changed_file_compacts_past_the_threshold(
    tmp_path: Path, tiny_embedder
) -> None:
    for min_bytes in (0, compaction.AUTO_COMPACT_MIN_BYTES):
        paper = tmp_path / f"docs{min_bytes}" / "paper.pdf"
        paper.parent.mkdir()
        shutil.copy(corpus_or_skip(SAMPLES) / FILES[0], paper)
        library = LocalLibrary(tmp_path / f"lib{min_bytes}", embedder=tiny_embedder)
        library.auto_compact_min_bytes = min_bytes
        library.add([paper.parent])
        shutil.copy(SAMPLES / FILES[3], paper)  # edited: 1 page instead of 4
        library.add([paper.parent])
        unused = compaction.usage(library.catalog, library.store).unused_bytes
        assert len(library.indexed_pages()) == 1
        assert unused == (0 if min_bytes == 0 else 4 * 770 * 128 * 2), min_bytes
        library.close()


@pytest.mark.parametrize("moment", ["ranking", "maps"])
def test_a_reader_that_read_its_pages_before_the_commit_searches_again(
    library: LocalLibrary, moment: str, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ranking``: the compaction lands before the reader's first read of vectors. ``maps``:
    after its ranking, and another thread of the reader then notices the new catalog and lets
    the old maps go, before this one reads the hits' vectors for their similarity maps."""
    expected = [hit[:3] for hit in results(library)[1]]  # exact search, first query
    query = tiny_embedder.embed_queries([QUERIES[0]])[0]

    def reader_racing_a_compaction() -> LocalLibrary:
        reader = LocalLibrary(library.folder, embedder=tiny_embedder)  # another process, file-wise
        hooked = "page_rows" if moment == "ranking" else "_hit"
        real = getattr(reader, hooked)

        def compact_first(*args):
            monkeypatch.setattr(reader, hooked, real)
            assert library.compact().pages_moved > 0
            reader.indexed_pages()  # the other thread
            return real(*args)

        monkeypatch.setattr(reader, hooked, compact_first)
        return reader

    hits = reader_racing_a_compaction().search_embedding(query, k=12, exact=True)
    assert [(h.doc_id, h.page, h.score) for h in hits] == expected
    library.remove(_path_of(library, "pdflatex-4-pages.pdf"))  # unused vectors again
    with pytest.raises(MissingVectorsError):  # negative control: without the retry it fails
        reader_racing_a_compaction()._search_once(query, 12, True, None, None)
    first = next(iter(library.catalog.referenced_segments()))
    (library.folder / "vectors" / f"segment-{first:06d}.f16").unlink()
    with pytest.raises(LibraryError, match="missing"):  # lost for real: not hidden by a retry
        LocalLibrary(library.folder, embedder=tiny_embedder).search_embedding(query, k=12, exact=True)


def test_a_reader_opened_before_the_compaction_searches_the_same_and_lets_old_files_go(
    library: LocalLibrary, tiny_embedder
) -> None:
    reader = LocalLibrary(library.folder, embedder=tiny_embedder)
    expected = results(reader)
    library.compact()
    assert set(reader.store._maps) - library.catalog.referenced_segments()  # maps of deleted files
    assert results(reader) == expected
    assert set(reader.store._maps) <= library.catalog.referenced_segments()  # released
    reader.close()


def test_segment_numbers_are_never_used_again(template: Path, tmp_path: Path, tiny_embedder) -> None:
    """A reader's cached map of a deleted file must never serve another file's rows under its
    number: a compaction of an emptied library leaves an empty file to hold the highest one."""
    shutil.copytree(template, tmp_path / "lib")
    writer = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder)
    reader = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder)
    results(reader)  # maps every file
    used = {int(name[8:14]) for name in vector_files(writer.folder)}
    for document in writer.documents():
        writer.remove(document.doc_id)
    assert writer.compact().bytes_after == 0
    (left,) = vector_files(writer.folder)
    assert int(left[8:14]) > max(used)
    shutil.copy(corpus_or_skip(SAMPLES) / FILES[3], tmp_path / "again.pdf")
    writer.add([tmp_path / "again.pdf"])
    assert {p.segment for p in writer.indexed_pages().values()}.isdisjoint(used)
    assert results(reader) == results(writer)
    reader.close()
    writer.close()


def test_a_file_that_cannot_be_deleted_yet_is_left_for_the_next_time(
    library: LocalLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = min(vector_files(library.folder))
    unlink = Path.unlink

    def windows_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name == first:  # mapped by another process: Windows refuses
            raise PermissionError(13, "The process cannot access the file", str(self))
        unlink(self, missing_ok=missing_ok)

    expected = results(library)
    monkeypatch.setattr(Path, "unlink", windows_unlink)
    report = library.compact()
    assert report.note and "could not be deleted yet" in report.note and report.pages_moved == 5
    assert first in vector_files(library.folder) and results(library) == expected
    monkeypatch.undo()
    assert library.compact_if_worthwhile() is None  # nothing worth compacting, but the file goes
    assert first not in vector_files(library.folder)
    assert_compacted(library)


def test_the_compact_command(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for relative in FILES[:3]:
        shutil.copy(corpus_or_skip(SAMPLES) / relative, docs)
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(docs)]) == 0
    assert main([*common, "remove", str(docs / "habibi-rotated.pdf")]) == 0
    capsys.readouterr()
    assert main([*common, "compact"]) == 0
    out = capsys.readouterr().out
    sizes = r"([\d.]+ [kMG]?B)"
    assert re.fullmatch(
        rf"Compacted: {sizes} -> {sizes} on disk \({sizes} reclaimed\); 7 pages' vectors moved\.\n", out
    ), out
    assert main([*common, "compact"]) == 0
    assert capsys.readouterr().out == compaction.NOTHING_TO_RECLAIM + "\n"


def test_qdrant_says_the_server_reclaims_space_itself(tiny_embedder, capsys) -> None:
    from docretriever.library.qdrant import QdrantLibrary

    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    report = remote.compact()
    assert (report.bytes_before, report.bytes_after, report.pages_moved) == (0, 0, 0)
    assert report.note and "Qdrant server reclaims" in report.note and "optimizer" in report.note
    remote.close()


def test_an_empty_library_has_nothing_to_compact(tmp_path: Path) -> None:
    library = LocalLibrary(tmp_path / "empty")  # no model recorded, and none loaded to compact
    assert library.compact().note == compaction.NOTHING_TO_RECLAIM
    assert library.compact_if_worthwhile() is None and library._embedder is None
    library.close()
