"""Watching folders, the pure parts: the debounce on a fake clock, which events count, and how
a sync's report reads as changes."""

from __future__ import annotations

import os

import pytest
from watchdog.events import (
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from docretriever.library.qdrant.follow import document_folders
from docretriever.library.watching import Debouncer, changed_paths, changes_of
from docretriever.vocabulary import AddReport, Document, FileOutcome


class FakeFiles:
    """Signatures the test sets: (is a folder, size, mtime) per path; absent: gone."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bool, int, int]] = {}

    def write(self, path: str, size: int, mtime: int) -> None:
        self.files[path] = (False, size, mtime)

    def __call__(self, path: str) -> tuple[bool, int, int] | None:
        return self.files.get(path)


def test_a_file_is_handed_on_once_still_for_the_settle_time_and_events_stopped() -> None:
    files, debouncer = FakeFiles(), Debouncer(settle_s=2.0)
    files.write("/d/a.pdf", 100, 1)
    debouncer.note(["/d/a.pdf"], now=0.0)
    assert debouncer.take_ready(0.5, files) == []  # first look: the signature is new
    assert debouncer.take_ready(2.4, files) == []  # still only 1.9 s since the first look
    assert debouncer.next_look(2.4) == pytest.approx(0.1)
    assert debouncer.take_ready(2.5, files) == ["/d/a.pdf"]
    assert debouncer.held == [] and debouncer.next_look(3.0) is None
    assert debouncer.take_ready(10.0, files) == []  # handed on once


def test_a_growing_file_is_held_back_and_retried_until_it_stops_changing() -> None:
    files, debouncer = FakeFiles(), Debouncer(settle_s=2.0)
    debouncer.note(["/d/big.pdf"], now=0.0)
    for second in range(1, 30):  # written on for half a minute, events or not
        files.write("/d/big.pdf", 1000 * second, second)
        if second % 2:
            debouncer.note(["/d/big.pdf"], now=float(second))
        assert debouncer.take_ready(second + 0.5, files) == []
    assert debouncer.held == ["/d/big.pdf"]  # still waiting, looked at again later
    assert debouncer.take_ready(31.0, files) == []
    assert debouncer.take_ready(31.6, files) == ["/d/big.pdf"]  # still since 29.5


def test_without_a_settle_time_a_half_written_file_would_be_taken() -> None:
    """The negative control: what the settle time guards against."""
    files, debouncer = FakeFiles(), Debouncer(settle_s=0.0)
    debouncer.note(["/d/big.pdf"], now=0.0)
    files.write("/d/big.pdf", 1000, 1)  # the first chunk of many
    assert debouncer.take_ready(0.01, files) == ["/d/big.pdf"]


def test_events_keep_a_file_held_even_when_its_size_and_time_do_not_change() -> None:
    files, debouncer = FakeFiles(), Debouncer(settle_s=1.0)
    files.write("/d/a.pdf", 10, 1)
    debouncer.note(["/d/a.pdf"], now=0.0)
    debouncer.take_ready(0.0, files)
    debouncer.note(["/d/a.pdf"], now=1.5)
    assert debouncer.take_ready(2.0, files) == []
    assert debouncer.take_ready(2.5, files) == ["/d/a.pdf"]


def test_gone_paths_settle_and_a_folder_waits_for_the_files_held_in_it() -> None:
    files, debouncer = FakeFiles(), Debouncer(settle_s=1.0)
    folder, inside = "/d/new", "/d/new/last.pdf"
    files.files[folder] = (True, 4096, 1)
    debouncer.note([folder, inside, "/d/gone.pdf"], now=0.0)
    files.write(inside, 10, 1)
    debouncer.take_ready(0.0, files)
    files.write(inside, 20, 2)  # still being written
    assert debouncer.take_ready(1.0, files) == ["/d/gone.pdf"]  # the folder waits for its file
    assert debouncer.take_ready(2.0, files) == [folder, inside]
    with pytest.raises(ValueError):
        Debouncer(settle_s=-1)


def test_only_document_files_and_folder_changes_count() -> None:
    assert changed_paths(FileCreatedEvent("/d/a.PDF")) == ["/d/a.PDF"]
    assert changed_paths(FileModifiedEvent("/d/notes.txt")) == []
    assert changed_paths(FileMovedEvent("/d/a.pdf", "/d/b/a.pdf")) == ["/d/a.pdf", "/d/b/a.pdf"]
    assert changed_paths(FileMovedEvent("/d/a.part", "/d/a.pdf")) == ["/d/a.pdf"]  # a download done
    assert (
        changed_paths(FileOpenedEvent("/d/a.pdf")) == []
        and changed_paths(FileClosedNoWriteEvent("/d/a.pdf")) == []
    )
    assert changed_paths(DirModifiedEvent("/d")) == []  # its files' own events tell what changed
    assert changed_paths(DirDeletedEvent("/d/sub")) == ["/d/sub"]
    assert changed_paths(DirMovedEvent("/d/x", "/d/y")) == ["/d/x", "/d/y"]
    assert changed_paths(FileCreatedEvent(os.fsencode("/d/b.pdf"))) == ["/d/b.pdf"]


def test_a_syncs_report_reads_as_changes_file_by_file() -> None:
    report = AddReport(
        outcomes=[
            FileOutcome("/d/new.pdf", "indexed", "aaaa00000001", 3),
            FileOutcome("/d/edited.pdf", "indexed", "aaaa00000002", 2),
            FileOutcome("/d/touched.pdf", "skipped", "aaaa00000003", 1),
            FileOutcome("/d/copy.pdf", "skipped", "aaaa00000003", 1),
            FileOutcome("/d/b/moved.pdf", "moved", "aaaa00000004", 1, "Found again; it was at /d/moved.pdf."),
            FileOutcome("/d/deleted.pdf", "missing", "aaaa00000005", 4, "kept"),
            FileOutcome("/d/broken.pdf", "failed", "aaaa00000006", 0, "The file is damaged."),
            FileOutcome("/d/saved-as.pdf", "skipped", "aaaa00000003", 1),  # now holds another's bytes
        ],
        unreachable=[("/media/usb", "the drive is not connected")],
    )
    known = {
        "/d/edited.pdf": "bbbb00000002",
        "/d/touched.pdf": "aaaa00000003",
        "/d/moved.pdf": "aaaa00000004",
        "/d/deleted.pdf": "aaaa00000005",
        "/d/saved-as.pdf": "bbbb00000007",
    }
    changes = [(change.kind, change.path, change.pages) for change in changes_of(report, known)]
    assert changes == [
        ("added", "/d/new.pdf", 3),
        ("changed", "/d/edited.pdf", 2),
        ("added", "/d/copy.pdf", 1),  # its bytes were in the library: nothing embedded
        ("moved", "/d/b/moved.pdf", 1),
        ("missing", "/d/deleted.pdf", 4),
        ("failed", "/d/broken.pdf", 0),
        ("changed", "/d/saved-as.pdf", 1),
        ("unavailable", "/media/usb", 0),
    ]


def test_a_qdrant_library_watches_the_outermost_folders_of_its_documents() -> None:
    def document(*paths: str) -> Document:
        return Document("0" * 64, paths, 1, 1, "indexed", None, None, 0.0)

    documents = [
        document("/a/b/x.pdf", "/a/y.pdf"),
        document("/a/b/c/z.pdf"),
        document("/e/f.pdf"),
        document("/g.pdf"),
    ]
    assert document_folders(documents) == ["/a", "/e"]  # "/" is never watched whole
