"""The GUI's session over the core: ingest in the background, search, render."""

from __future__ import annotations

from docretriever.library import AddReport


def test_ingest_search_and_render_in_the_background(indexed_session, qtbot) -> None:
    documents = indexed_session.documents()
    assert len(documents) == 3 and {d.status for d in documents} == {"indexed"}
    results = []
    indexed_session.search("arabic", 4, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30_000)
    hits = results[0]
    assert len(hits) == 4
    images = []
    indexed_session.render_hit(hits[0], 200_000, images.append)
    qtbot.waitUntil(lambda: bool(images), timeout=30_000)
    assert 0 < images[0].width() * images[0].height() <= 200_000


def test_only_the_newest_search_is_delivered(indexed_session, qtbot) -> None:
    delivered = []
    indexed_session.search("first", 3, lambda hits: delivered.append("first"))
    indexed_session.search("second", 3, lambda hits: delivered.append("second"))
    assert indexed_session.runner.wait(30_000)
    qtbot.waitUntil(lambda: "second" in delivered, timeout=30_000)
    assert delivered == ["second"]


def test_a_cancelled_ingest_reports_and_keeps_what_was_done(ui_session, qtbot) -> None:
    from conftest import SAMPLES, corpus_or_skip

    path = corpus_or_skip(SAMPLES) / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
    outcomes: list[object] = []
    ui_session.ingest_finished.connect(outcomes.append)

    def cancel_when_indexing(progress) -> None:
        if progress.stage == "Indexing" and progress.done >= 4:
            ui_session.cancel_ingest()

    ui_session.ingest_progress.connect(cancel_when_indexing)
    ui_session.add([str(path)])
    qtbot.waitUntil(lambda: bool(outcomes), timeout=120_000)
    assert not isinstance(outcomes[0], AddReport) and outcomes[0].cancelled
    assert ui_session.documents()[0].status == "pending"


def test_search_answers_while_an_ingest_is_running(ui_session, qtbot) -> None:
    from conftest import SAMPLES, corpus_or_skip

    path = corpus_or_skip(SAMPLES) / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
    answered_during_ingest: list[tuple[int, bool]] = []
    searched = []

    def search_once_some_pages_are_in(progress) -> None:
        if progress.stage == "Indexing" and progress.done >= 12 and not searched:
            searched.append(True)
            ui_session.search(
                "Simplizialkomplex",
                5,
                lambda hits: answered_during_ingest.append((len(hits), ui_session.ingesting)),
            )

    ui_session.ingest_progress.connect(search_once_some_pages_are_in)
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=180_000):
        ui_session.add([str(path)])
    assert answered_during_ingest and answered_during_ingest[0] == (5, True)


def test_sync_keeps_the_documents_whose_files_are_gone_as_missing(ui_session, qtbot, tmp_path) -> None:
    import shutil

    from conftest import SAMPLES, corpus_or_skip

    kept = shutil.copy(corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf", tmp_path / "kept.pdf")
    gone = shutil.copy(SAMPLES / "026-latex-multicolumn" / "multicolumn.pdf", tmp_path / "gone.pdf")
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(kept), str(gone)])
    assert len(ui_session.documents()) == 2
    gone.unlink()
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000) as finished:
        ui_session.sync()
    assert isinstance(finished.args[0], AddReport) and finished.args[0].count("missing") == 1
    assert {d.paths[0]: d.availability for d in ui_session.documents()} == {
        str(kept): "present",
        str(gone): "missing",
    }


def test_the_token_pooling_preference_applies_to_new_libraries_only(ui_session, qtbot, tmp_path) -> None:
    from conftest import SAMPLES, corpus_or_skip

    document = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(document)])
    ui_session.settings.token_pooling = 3
    ui_session.reopen()
    assert ui_session.library.info().token_pool_factor == 1  # it already holds unpooled pages
    ui_session.settings.library = str(tmp_path / "new-library")
    ui_session.reopen()
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(document)])
    info = ui_session.library.info()
    assert info.token_pool_factor == 3 and info.counts["pages_indexed"] > 0
