"""The vector store and the catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docretriever.documents import PageInfo
from docretriever.storage import FAILED, INDEXED, PENDING, Catalog, VectorStore
from docretriever.storage.catalog_schema import SCHEMA_VERSION


def test_vectors_round_trip_through_float16_memory_maps(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, 128)
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(5, 128)), rng.normal(size=(3, 128))
    assert store.append(first) == (1, 0)
    # An interrupted earlier append left half a row: the next rows still start on a row boundary.
    with open(tmp_path / "segment-000001.f16", "ab") as handle:
        handle.write(b"\1" * 100)
    segment, offset = store.append(second)
    assert (segment, offset) == (1, 6)
    np.testing.assert_allclose(store.rows(1, 0, 5), first.astype(np.float16))
    np.testing.assert_allclose(store.rows(segment, offset, 3), second.astype(np.float16))
    reopened = VectorStore(tmp_path, 128)
    assert reopened.rows(1, 6, 3).dtype == np.float16


def test_catalog_documents_paths_and_pages(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    doc, previous = catalog.attach_file("ab" * 32, 1234, "/x/a.pdf", 1.0)
    assert previous is None
    assert catalog.attach_file("ab" * 32, 1234, "/y/copy of a.pdf", 2.0) == (doc, None)
    catalog.set_pages(doc, [PageInfo(0, 612, 792, 0), PageInfo(1, 792, 612, 90)])
    catalog.set_pages(doc, [PageInfo(0, 612, 792, 0)])  # again: nothing duplicated
    pages = catalog.pages(doc)
    assert [p.status for p in pages] == [PENDING, PENDING]
    catalog.store_pages([(pages[0].id, (24, 31), 757, 1, 0, "mupdf", None)])
    catalog.fail_page(pages[1].id, "broken")
    record = catalog.document(doc)
    assert record.doc_id == "ab" * 6 and record.paths == ("/x/a.pdf", "/y/copy of a.pdf")
    assert catalog.pages(doc, INDEXED)[0].grid == (24, 31)
    assert catalog.pages(doc, FAILED)[0].error == "broken"
    assert catalog.find_documents("abab")[0].id == doc
    assert catalog.find_documents("/y/copy of a.pdf")[0].id == doc
    # Short or non-hexadecimal references never match by prefix (no "remove ''" accidents).
    assert catalog.find_documents("") == catalog.find_documents("ab") == catalog.find_documents("%") == []
    # The same path with new bytes moves to a new document and names the old one.
    changed, previous = catalog.attach_file("cd" * 32, 99, "/x/a.pdf", 3.0)
    assert changed != doc and previous == doc and catalog.has_paths(doc)
    catalog.remove_document(doc)
    assert catalog.pages() == [] and [d.id for d in catalog.documents()] == [changed]


def test_writer_lock_is_reentrant_for_its_thread_only(tmp_path: Path) -> None:
    import threading

    import pytest

    from docretriever.errors import LibraryError
    from docretriever.library.local.lock import WriterLock

    lock = WriterLock(tmp_path)
    other = WriterLock(tmp_path)  # another library object: stands in for another process
    outcome: list[str] = []

    def try_from_another_thread() -> None:
        try:
            with lock:
                outcome.append("entered")
        except LibraryError:
            outcome.append("refused")

    with lock, lock:
        worker = threading.Thread(target=try_from_another_thread)
        worker.start()
        worker.join()
        with pytest.raises(LibraryError), other:
            pass
    assert outcome == ["refused"]
    with other:  # free again once released
        pass


def test_a_version_1_catalog_gains_the_cell_rows_column_and_keeps_its_pages(tmp_path: Path) -> None:
    import sqlite3

    catalog = Catalog(tmp_path / "catalog.sqlite3")
    doc, _ = catalog.attach_file("ab" * 32, 1, "/x/a.pdf", 1.0)
    catalog.set_pages(doc, [PageInfo(0, 612, 792, 0)])
    catalog.close()
    # Make it what version 1 wrote: no cell_rows column.
    db = sqlite3.connect(tmp_path / "catalog.sqlite3")
    db.execute("ALTER TABLE pages DROP COLUMN cell_rows")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    # Opening only reads: the first write migrates.
    assert catalog.get_meta("schema_version") == "1"
    (page,) = catalog.pages(doc)
    assert page.cell_rows is None
    catalog.store_pages([(page.id, (2, 2), 6, 1, 0, "mupdf", b"\0\0\1\0\1\0\0\0")])
    assert catalog.pages(doc)[0].cell_rows == b"\0\0\1\0\1\0\0\0"
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
    catalog.close()


def test_a_catalog_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    import pytest

    from docretriever.errors import LibraryError

    Catalog(tmp_path / "catalog.sqlite3").set_meta("schema_version", "99")
    with pytest.raises(LibraryError, match="newer version"):
        Catalog(tmp_path / "catalog.sqlite3")


def test_a_version_2_catalog_reads_as_before_and_its_first_write_brings_it_to_version_3(
    tmp_path: Path,
) -> None:
    import sqlite3

    catalog = Catalog(tmp_path / "catalog.sqlite3")
    doc, _ = catalog.attach_file("cd" * 32, 1, "/x/a.pdf", 1.0)
    catalog.set_pages(doc, [PageInfo(0, 612, 792, 0)])
    catalog.close()
    db = sqlite3.connect(tmp_path / "catalog.sqlite3")  # what version 2 wrote
    for statement in (
        "DROP INDEX pages_by_content",
        "ALTER TABLE pages DROP COLUMN content_sha256",
        "ALTER TABLE paths DROP COLUMN missing_since",
        "ALTER TABLE paths DROP COLUMN unavailable",
        "DROP TABLE roots",
        "DROP TABLE spare_vectors",
        "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
    ):
        db.execute(statement)
    db.commit()
    db.close()
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    (document,) = catalog.documents()  # reads only: no write on open
    assert (
        document.availability == "present" and catalog.roots() == [] and catalog.unavailable_paths() == set()
    )
    assert catalog.pages(doc)[0].content_sha256 is None
    assert catalog.get_meta("schema_version") == "2"
    catalog.mark_missing(["/x/a.pdf"], unavailable=False)
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
    (document,) = catalog.documents()
    assert document.availability == "missing" and document.paths == ("/x/a.pdf",)
    catalog.add_root("/x", "/")
    assert catalog.roots() == [("/x", "/")]
    catalog.close()
