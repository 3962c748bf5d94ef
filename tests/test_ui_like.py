"""'More like this page' in the app (offscreen, tiny model): from a result card's menu and from
the preview pane, the results become the pages like that page, under a header naming it."""

from __future__ import annotations

from pathlib import Path

from docretriever_ui.main_window import MainWindow


def _actions(menu) -> dict[str, object]:
    return {action.text(): action for action in menu.actions() if action.text()}


def test_more_like_this_page_from_a_card_and_from_the_preview(indexed_session, qtbot) -> None:
    window = MainWindow(indexed_session)
    qtbot.addWidget(window)
    window.show()
    pane, grid = window.results_pane, window.results
    window.search_box.setText("lecture notes")
    window.run_search()
    qtbot.waitUntil(lambda: len(grid.hits) > 0, timeout=30_000)
    text_hits = grid.hits
    assert not pane.like and "lecture notes" in pane.summary_label.text()

    # The card's menu: the pages like the third result's page.
    chosen = text_hits[2]
    _actions(grid.context_menu(grid.card(2)))["More like this page"].trigger()
    qtbot.waitUntil(lambda: grid.hits is not text_hits, timeout=30_000)
    title = f"{Path(chosen.path).name}, page {chosen.page}"
    header = pane.summary_label.text()
    pages = indexed_session.library.info().counts["pages_indexed"]
    assert header == f"{pages - 1} pages like {title}", header  # every other page, none left out
    assert pane.like and window.statusBar().currentMessage() == header
    assert (chosen.doc_id, chosen.page) not in {(hit.doc_id, hit.page) for hit in grid.hits}
    assert all(hit.query.text == f"Pages like {title}" for hit in grid.hits)
    assert window.search_box.text() == ""  # the words typed before are not what these answer

    # The preview pane: the page it shows (the first result's) becomes the query.
    like_hits = grid.hits
    grid.select_hit(0)
    qtbot.waitUntil(lambda: window.preview.hit is like_hits[0], timeout=10_000)
    shown = like_hits[0]
    assert window.preview.more_like_action.isEnabled()
    window.preview.more_like_action.trigger()
    qtbot.waitUntil(lambda: grid.hits is not like_hits, timeout=30_000)
    assert pane.summary_label.text().endswith(f"like {Path(shown.path).name}, page {shown.page}")
    assert (shown.doc_id, shown.page) not in {(hit.doc_id, hit.page) for hit in grid.hits}

    # A search in words afterwards is headed by its query again.
    window.search_box.setText("lecture notes")
    window.run_search()
    qtbot.waitUntil(lambda: not pane.like, timeout=30_000)
    assert "lecture notes" in pane.summary_label.text()


def test_a_page_that_cannot_be_compared_is_said_in_words(indexed_session, qtbot, monkeypatch) -> None:
    errors: list[object] = []
    monkeypatch.setattr(
        "docretriever_ui.main_window.show_error", lambda error, parent=None: errors.append(error)
    )
    window = MainWindow(indexed_session)
    qtbot.addWidget(window)
    document = indexed_session.library.documents()[0]
    window.preview.more_like_requested.emit(document.doc_id, 99, "x.pdf, page 99")
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    message = errors[0].message
    assert f"{Path(document.paths[0]).name} has" in message and "there is no page 99" in message
    assert document.doc_id not in message and not window.results_pane.like
    assert window.statusBar().currentMessage() == ""
