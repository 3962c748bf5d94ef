"""A file that cannot be found now is not a file the user deleted (issue 15, part 1).

Each case counts the pages embedded: bringing the same bytes back after an unmount, a rename, a
move, a moved parent or a symlink's target going away must embed none. Drives and shares cannot
be unmounted on a test machine: an unplugged drive is its mount point left empty (as it is on
Linux), an offline share is a folder whose stat() fails or hangs (the probe's calls are named in
:mod:`docretriever.library.local.availability` so that a test can stand in for them).
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import SAMPLES, CountingEmbedder, corpus_or_skip

from docretriever.cli import main
from docretriever.errors import InvalidInputError
from docretriever.library import open_library
from docretriever.library.local import availability
from docretriever.vocabulary import MISSING, PRESENT, UNAVAILABLE

FOUR = {
    "a.pdf": "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "b.pdf": "006-pdflatex-outline/pdflatex-outline.pdf",
    "c.pdf": "001-trivial/minimal-document.pdf",
    "d.pdf": "003-pdflatex-image/pdflatex-image.pdf",
}


def fill(folder: Path, names: dict[str, str] = FOUR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        Path(shutil.copy(corpus_or_skip(SAMPLES) / source, folder / name)) for name, source in names.items()
    ]


def availabilities(library) -> dict[str, str]:
    return {Path(d.paths[0]).name: d.availability for d in library.documents()}


@pytest.fixture()
def library(tmp_path: Path, counting_embedder: CountingEmbedder):
    with open_library(tmp_path / "lib", embedder=counting_embedder) as opened:
        yield opened


def mount_points(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Folders the probe takes for mount points, on top of the system's (tests add and remove)."""
    real_ismount = os.path.ismount
    mounted: set[str] = set()
    monkeypatch.setattr(availability, "_ismount", lambda path: path in mounted or real_ismount(path))
    return mounted


def test_an_unplugged_drive_keeps_its_documents_and_plugging_it_back_embeds_nothing(
    tmp_path: Path, library, counting_embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = tmp_path / "media" / "USB"
    fill(drive)
    mounted = mount_points(monkeypatch)
    mounted.add(str(drive))
    library.add([drive])  # recorded on the volume mounted there
    embedded = counting_embedder.pages_embedded
    assert embedded == 10
    away = tmp_path / "unplugged"
    shutil.move(drive, away)
    drive.mkdir()  # the mount point stays, empty
    mounted.clear()

    report = library.sync()
    assert report.unreachable == [(str(drive), f"the drive or share at {drive} is not connected")]
    assert len(library.documents()) == 4 and set(availabilities(library).values()) == {UNAVAILABLE}
    hits = library.search("text", k=3)
    assert hits and all(hit.missing and hit.unavailable for hit in hits)  # found from stored vectors
    assert library.missing_documents() == []  # out of reach is not missing: prune leaves them
    assert library.prune() == [] and len(library.documents()) == 4

    drive.rmdir()
    shutil.move(away, drive)
    mounted.add(str(drive))
    report = library.sync()
    assert report.pages_embedded == 0 and counting_embedder.pages_embedded == embedded
    assert set(availabilities(library).values()) == {PRESENT}
    assert not any(hit.missing for hit in library.search("text", k=3))


def test_a_mount_point_that_still_looks_mounted_but_is_empty_is_unavailable(
    tmp_path: Path, library, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = tmp_path / "share"
    (file,) = fill(drive, {"c.pdf": FOUR["c.pdf"]})
    mount_points(monkeypatch).add(str(drive))
    library.add([drive])
    file.unlink()  # a share that answers, but with nothing in it
    report = library.sync()
    assert "empty, though it held 1 file" in report.unreachable[0][1]
    assert availabilities(library) == {"c.pdf": UNAVAILABLE}


def test_an_ordinary_folder_emptied_by_its_owner_holds_missing_files(tmp_path: Path, library) -> None:
    """Negative control of the empty mount point: an inbox emptied on purpose is not a drive."""
    inbox = tmp_path / "Inbox"
    (file,) = fill(inbox, {"c.pdf": FOUR["c.pdf"]})
    library.add([inbox])
    file.unlink()
    report = library.sync()
    assert report.unreachable == [] and report.count("missing") == 1
    assert [Path(d.paths[0]).name for d in library.prune()] == ["c.pdf"]


def test_an_offline_share_that_fails_or_hangs_is_left_alone(
    tmp_path: Path, library, counting_embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "nas" / "papers"
    fill(share, {"a.pdf": FOUR["c.pdf"], "b.pdf": FOUR["d.pdf"]})
    library.add([share])
    real_stat = os.stat

    def offline(path, *args, **kwargs):
        if os.fspath(path).startswith(str(share)):
            raise OSError(errno.EHOSTDOWN, os.strerror(errno.EHOSTDOWN), os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(availability, "_stat", offline)
    report = library.sync()
    assert report.unreachable and "network share that is offline" in report.unreachable[0][1]
    assert set(availabilities(library).values()) == {UNAVAILABLE}
    assert report.count("missing") == 0

    released = threading.Event()

    def hangs(path, *args, **kwargs):
        if os.fspath(path).startswith(str(share)):
            released.wait()
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(availability, "_stat", hangs)
    monkeypatch.setattr(availability, "PROBE_TIMEOUT_S", 0.2)
    try:
        report = library.sync()
    finally:
        released.set()
    assert report.unreachable and "did not answer" in report.unreachable[0][1]
    assert len(library.documents()) == 2

    monkeypatch.setattr(availability, "_stat", real_stat)
    report = library.sync()  # back online
    assert report.unreachable == [] and set(availabilities(library).values()) == {PRESENT}
    assert counting_embedder.pages_embedded == 2


def test_a_renamed_folder_is_missing_until_added_under_its_new_name_then_found_without_embedding(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    alpha = tmp_path / "Projects" / "Alpha"
    fill(alpha, {name: FOUR[name] for name in ("a.pdf", "c.pdf", "d.pdf")})
    library.add([alpha])
    embedded = counting_embedder.pages_embedded
    renamed = alpha.rename(alpha.with_name("Alpha (2024)"))

    report = library.sync()
    assert report.count("missing") == 3 and report.unreachable == []
    assert set(availabilities(library).values()) == {MISSING}
    assert all(str(alpha) in d.paths[0] for d in library.documents())  # the last known place
    (hit,) = library.search("text", k=1)
    assert hit.missing and not hit.unavailable and hit.as_dict()["missing"] is True

    report = library.add([renamed])
    assert report.count("moved") == 3 and report.pages_embedded == 0
    assert counting_embedder.pages_embedded == embedded
    assert {d.paths for d in library.documents()} == {
        (str(renamed / name),) for name in ("a.pdf", "c.pdf", "d.pdf")
    }
    assert [root for root, _ in library.catalog.roots()] == [str(renamed)]  # the old name is dropped


def test_adding_the_parent_of_a_renamed_folder_finds_its_files(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    alpha = tmp_path / "Projects" / "Alpha"
    fill(alpha, {name: FOUR[name] for name in ("c.pdf", "d.pdf")})
    library.add([alpha])
    alpha.rename(alpha.with_name("Alpha (2024)"))
    report = library.add([tmp_path / "Projects"])
    assert report.count("moved") == 2 and counting_embedder.pages_embedded == 2
    assert set(availabilities(library).values()) == {PRESENT}


def test_sync_walks_the_added_folders_finding_new_and_moved_files(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    folder = tmp_path / "papers"
    a, _ = fill(folder, {"a.pdf": FOUR["a.pdf"], "c.pdf": FOUR["c.pdf"]})
    library.add([folder])
    (folder / "2024").mkdir()
    a.rename(folder / "2024" / "a renamed.pdf")
    fill(folder / "new", {"d.pdf": FOUR["d.pdf"]})
    report = library.sync()
    assert {(Path(o.path).name, o.status) for o in report.outcomes} >= {
        ("a renamed.pdf", "moved"),
        ("d.pdf", "indexed"),
    }
    assert counting_embedder.pages_embedded == 4 + 1 + 1  # only the new file


def test_a_symlinked_folder_whose_target_goes_away_is_unavailable_then_found_again(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    target = tmp_path / "data" / "papers"
    fill(target, {"c.pdf": FOUR["c.pdf"]})
    link = tmp_path / "Papers"
    link.symlink_to(target, target_is_directory=True)
    library.add([link])
    assert library.documents()[0].paths == (str(link / "c.pdf"),)
    (tmp_path / "data").rename(tmp_path / "data-elsewhere")
    report = library.sync()
    assert report.unreachable and "links to" in report.unreachable[0][1]
    assert availabilities(library) == {"c.pdf": UNAVAILABLE}
    (tmp_path / "data-elsewhere").rename(tmp_path / "data")
    assert library.sync().pages_embedded == 0 and availabilities(library) == {"c.pdf": PRESENT}
    assert counting_embedder.pages_embedded == 1


def test_a_file_added_alone_whose_parent_folder_moved_is_missing_then_found(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    (file,) = fill(tmp_path / "work" / "a" / "b", {"c.pdf": FOUR["c.pdf"]})
    library.add([file])
    (tmp_path / "work" / "a").rename(tmp_path / "work" / "z")
    report = library.sync()
    assert report.count("missing") == 1 and availabilities(library) == {"c.pdf": MISSING}
    report = library.add([tmp_path / "work" / "z"])
    assert report.count("moved") == 1 and counting_embedder.pages_embedded == 1
    library.sync()
    assert [root for root, _ in library.catalog.roots()] == [str(tmp_path / "work" / "z")]


def test_a_deleted_file_is_missing_then_pruned_after_a_count_and_a_check(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    folder = tmp_path / "papers"
    a, c, _ = fill(folder, {name: FOUR[name] for name in ("a.pdf", "c.pdf", "d.pdf")})
    library.add([folder])
    kept_aside = shutil.copy(c, tmp_path / "c-backup.pdf")
    a.unlink()
    c.unlink()
    library.sync()
    assert [Path(d.paths[0]).name for d in library.missing_documents()] == ["a.pdf", "c.pdf"]
    shutil.copy(kept_aside, c)  # back before the prune: checked again, kept
    forgotten = library.prune()
    assert [Path(d.paths[0]).name for d in forgotten] == ["a.pdf"]
    assert sorted(availabilities(library)) == ["c.pdf", "d.pdf"]
    assert counting_embedder.pages_embedded == 6


def test_a_copy_deleted_while_another_stays_drops_only_that_path(tmp_path: Path, library) -> None:
    folder = tmp_path / "papers"
    (first,) = fill(folder, {"c.pdf": FOUR["c.pdf"]})
    second = Path(shutil.copy(first, folder / "copy of c.pdf"))
    library.add([folder])
    second.unlink()
    report = library.sync()
    assert report.count("missing") == 0
    (document,) = library.documents()
    assert document.paths == (str(first),) and document.availability == PRESENT


def test_a_library_from_before_folders_were_followed_syncs_its_known_paths_and_follows_them(
    tmp_path: Path, library
) -> None:
    (file,) = fill(tmp_path / "papers", {"c.pdf": FOUR["c.pdf"]})
    library.add([file])
    with library.catalog.transaction() as db:
        db.execute("DELETE FROM roots")
    file.unlink()
    assert library.sync().count("missing") == 1
    assert [root for root, _ in library.catalog.roots()] == []  # nothing exists to follow
    shutil.copy(corpus_or_skip(SAMPLES) / FOUR["c.pdf"], file)
    assert library.sync().count("missing") == 0
    assert [root for root, _ in library.catalog.roots()] == [str(file)]


def test_the_command_line_says_what_is_missing_and_prune_asks_first(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "papers"
    a, _ = fill(folder, {"a.pdf": FOUR["a.pdf"], "c.pdf": FOUR["c.pdf"]})
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir)]
    assert main([*common, "add", str(folder)]) == 0
    a.unlink()
    capsys.readouterr()
    assert main([*common, "sync"]) == 0
    out, err = capsys.readouterr()
    assert f"missing {a}: not there now; kept, still searchable" in err
    assert "1 missing (kept)" in out and "`docretriever prune` forgets them" in out
    assert main([*common, "list"]) == 0
    out, _ = capsys.readouterr()
    assert "Missing since" in out and f"not at {a}" in out
    assert main([*common, "search", "text", "-k", "5"]) == 0
    assert f"(file missing; last seen at {a})" in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main([*common, "prune"]) == 1
    out, err = capsys.readouterr()
    assert "1 document (4 pages) is missing" in out and "run it with --yes" in err
    assert main([*common, "prune", "--dry-run"]) == 0
    assert main([*common, "list", "--json"]) == 0
    assert '"availability": "missing"' in capsys.readouterr().out
    assert main([*common, "prune", "--yes"]) == 0
    assert "Forgot 1 document (4 pages)." in capsys.readouterr().out
    assert main([*common, "list"]) == 0
    assert "a.pdf" not in capsys.readouterr().out


def test_the_probe_tells_gone_from_out_of_reach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    mount_points(monkeypatch).add(str(folder))
    state = availability.probe_folder(str(folder), str(folder), 3)  # a mount point, empty now
    assert state.state == availability.UNAVAILABLE and "empty" in state.reason
    assert availability.probe_folder(str(folder), "/", 3).state == availability.AVAILABLE  # a folder on /
    assert availability.probe_folder(str(folder), str(folder), 0).state == availability.AVAILABLE  # new
    (folder / "x.pdf").write_bytes(b"%PDF-1.4")
    assert availability.probe_folder(str(folder), "/", 3).state == availability.AVAILABLE
    assert availability.probe_folder(str(tmp_path / "renamed"), "/", 3).state == availability.GONE
    unplugged = str(tmp_path / "no-such-drive")
    state = availability.probe_folder(str(folder), unplugged, 3)  # its drive unplugged
    assert state.state == availability.UNAVAILABLE and "not connected" in state.reason
    assert availability.volume_of(str(folder)) is not None


def test_a_folder_that_is_gone_for_good_is_removed_with_its_documents_after_a_count(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drive, home = tmp_path / "old-drive", tmp_path / "home"
    fill(drive, {"c.pdf": FOUR["c.pdf"], "d.pdf": FOUR["d.pdf"]})
    fill(home, {"a.pdf": FOUR["a.pdf"]})
    common = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir)]
    mounted = mount_points(monkeypatch)
    mounted.add(str(drive))
    assert main([*common, "add", str(drive), str(home)]) == 0
    shutil.rmtree(drive)
    drive.mkdir()  # an unplugged drive's mount point
    mounted.clear()
    assert main([*common, "sync"]) == 0
    capsys.readouterr()
    assert main([*common, "info"]) == 0
    out = capsys.readouterr().out
    assert "of which 2 not available" in out and f"Following: {home}, {drive}" in out
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main([*common, "remove", str(drive)]) == 1
    assert (
        "holds 2 documents (2 pages); to remove them all, run it again with --yes" in capsys.readouterr().err
    )
    assert main([*common, "remove", str(drive), "--yes"]) == 0
    assert f"Removed 2 documents in {drive}." in capsys.readouterr().out
    assert main([*common, "info", "--json"]) == 0
    out = capsys.readouterr().out
    assert str(drive) not in out and '"documents_unavailable": 0' in out


def test_a_file_removed_from_a_followed_folder_stays_out_until_added_again(
    tmp_path: Path, library, counting_embedder: CountingEmbedder
) -> None:
    folder = tmp_path / "papers"
    c, _ = fill(folder, {"c.pdf": FOUR["c.pdf"], "d.pdf": FOUR["d.pdf"]})
    library.add([folder])
    library.remove(str(c))
    assert library.sync().count("indexed") == 0  # not added back behind the user's back
    assert availabilities(library) == {"d.pdf": PRESENT}
    library.add([c])  # given again: it comes back
    assert sorted(availabilities(library)) == ["c.pdf", "d.pdf"]


def test_removing_a_followed_folder_with_no_document_of_its_own_stops_following_it(
    tmp_path: Path, library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drive mounted at one place, then another: its documents have both paths."""
    first, second = tmp_path / "mnt1", tmp_path / "mnt3"
    fill(first, {"c.pdf": FOUR["c.pdf"]})
    library.add([first])
    shutil.copytree(first, second)
    library.add([second])
    (document,) = library.documents()
    assert document.paths == (str(first / "c.pdf"), str(second / "c.pdf"))
    assert library.remove_folder(str(first)) == []
    (document,) = library.documents()
    assert document.paths == (str(second / "c.pdf"),)
    assert [root for root, _ in library.catalog.roots()] == [str(second)]
    with pytest.raises(InvalidInputError, match="No document in the library is in"):
        library.remove_folder(str(tmp_path / "never-added"))


def test_a_present_path_is_shown_first_and_a_deleted_copy_is_not_a_move(tmp_path: Path, library) -> None:
    folder = tmp_path / "papers"
    (first,) = fill(folder, {"a-copy.pdf": FOUR["c.pdf"]})
    second = Path(shutil.copy(first, folder / "b-copy.pdf"))
    library.add([folder])
    first.unlink()
    report = library.sync()
    assert {o.status for o in report.outcomes} == {"skipped"}  # b-copy.pdf did not move
    (document,) = library.documents()
    assert document.paths == (str(second),)


def test_prune_counts_only_what_is_still_missing_and_marks_what_is_back(tmp_path: Path, library) -> None:
    folder = tmp_path / "papers"
    c, d = fill(folder, {"c.pdf": FOUR["c.pdf"], "d.pdf": FOUR["d.pdf"]})
    library.add([folder])
    aside = shutil.copy(c, tmp_path / "aside.pdf")
    c.unlink()
    d.unlink()
    library.sync()
    shutil.copy(aside, c)
    assert [Path(doc.paths[0]).name for doc in library.missing_documents()] == ["d.pdf"]
    before = {Path(doc.paths[0]).name: doc for doc in library.documents()}
    assert library.prune([before["c.pdf"], before["d.pdf"]]) == [before["d.pdf"]]
    assert availabilities(library) == {"c.pdf": PRESENT}


def test_a_reader_that_stops_reading_gets_no_traceback(tmp_path: Path, library, monkeypatch) -> None:
    """`docretriever list | head`: a closed pipe ends the command quietly."""
    import sys

    fill(tmp_path / "papers", {"c.pdf": FOUR["c.pdf"]})
    library.add([tmp_path / "papers"])
    library.close()
    reading, writing = os.pipe()
    os.close(reading)
    closed = os.fdopen(writing, "w")
    monkeypatch.setattr(sys, "stdout", closed)
    assert main(["--library", str(tmp_path / "lib"), "list", "--json"]) == 1
