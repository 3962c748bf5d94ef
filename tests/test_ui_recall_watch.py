"""The app's side of the recall watch and of the remembered searches (issue 17, items 3 and 4):
a search schedules a measurement for when the app is idle, an ingest stops it, About shows the
last figure, and Preferences turns remembering searches off."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.library.local.recall_watch import RecallRecord, save_recall
from docretriever.library.recent_searches import RecentSearches
from docretriever.search import ranking
from docretriever_ui.help_dialogs import AboutDialog
from docretriever_ui.preferences import PreferencesDialog
from docretriever_ui.session import ModelState

PDF = SAMPLES / "022-pdfkit" / "pdfkit.pdf"


def about_text(session, qtbot) -> str:
    """About's text once it has read the last measurement (in the background: it is updated)."""
    with qtbot.waitSignal(session.recall_watch.measured, timeout=10_000):
        dialog = AboutDialog(session)
        qtbot.addWidget(dialog)
    return dialog.label.text()


def test_about_shows_the_last_measured_search_quality(ui_session, qtbot) -> None:
    assert "Search quality: checking…" in ui_session.recall_watch.describe()  # not read yet
    assert "Search quality: not measured yet" in about_text(ui_session, qtbot)
    record = RecallRecord(1_800_000_000.0, 20, 5000, 10, 0.996, 14.0, 1, 0.996, 14.0, 1, (), 30)
    save_recall(ui_session.settings.library, record)
    text = about_text(ui_session, qtbot)
    assert "Search quality: fast path found 99.6 % of exact results on 20 of your searches (measured " in text
    assert "not measured" not in text


def test_an_idle_app_measures_its_search_quality_on_the_searches_made(
    ui_session, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = ui_session
    watch = session.recall_watch
    with qtbot.waitSignal(session.ingest_finished, timeout=120_000):
        session.add([str(corpus_or_skip(PDF.parent) / PDF.name)])
    # One page would be searched exactly and not measured: here it is measured all the same.
    monkeypatch.setattr(ranking, "EXACT_LIBRARY_PAGES", 0)
    session.load_model()  # the add has started it already
    qtbot.waitUntil(lambda: session.model_state is ModelState.READY, timeout=60_000)
    assert not watch.timer.isActive()
    for query in ("invoice", "total", "address", "date", "signature"):
        with qtbot.waitCallback(timeout=60_000) as delivered:
            session.search(query, 5, delivered)
        assert watch.timer.isActive() and watch.timer.interval() == 30_000  # measured once idle
    remembered = RecentSearches(session.settings.library).queries()
    assert remembered == ["signature", "date", "address", "total", "invoice"]

    # An ingest stops the timer, and nothing is measured while one runs.
    with qtbot.waitSignal(session.ingest_finished, timeout=120_000):
        session.add([str(PDF)])  # already there: quick
        assert not watch.timer.isActive()
        assert watch.run_now() is None
    with qtbot.waitSignal(watch.measured, timeout=60_000) as measured:
        assert watch.run_now() is not None  # what the timer does when it fires
    record = measured.args[0]
    assert isinstance(record, RecallRecord) and record.queries == 5 and record.recall_after == 1.0
    assert "fast path found 100.0 % of exact results on 5 of your searches" in watch.describe()


def test_preferences_turn_remembering_searches_off(window, qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    session = window.session
    folder = session.settings.library
    RecentSearches(folder).remember("kept so far")
    dialog = PreferencesDialog(session.settings, remember_searches=True)
    qtbot.addWidget(dialog)
    assert dialog.remember_check.isChecked() and dialog.remember_check.isEnabled()
    dialog.remember_check.setChecked(False)
    dialog.accept()
    assert dialog.changed == {"remember_searches"} and not dialog.needs_reopen
    assert dialog.remember_searches is False
    untouched = PreferencesDialog(session.settings, remember_searches=True)
    qtbot.addWidget(untouched)
    untouched.accept()
    assert untouched.changed == frozenset()
    server = PreferencesDialog(session.settings)  # a library that cannot remember searches
    qtbot.addWidget(server)
    assert not server.remember_check.isEnabled()

    # Through the window: File → Preferences, untick, OK; the library forgets and stops.
    def untick_and_accept(self: PreferencesDialog) -> int:
        assert self.remember_check.isChecked()  # read from the library
        self.remember_check.setChecked(False)
        self.accept()
        return 1

    monkeypatch.setattr(PreferencesDialog, "exec", untick_and_accept)
    reopened: list[bool] = []
    monkeypatch.setattr(window.model_setup, "settings_changed", lambda: reopened.append(True))
    window.open_preferences()
    qtbot.waitUntil(lambda: not RecentSearches(folder).remembering, timeout=10_000)  # in the background
    assert RecentSearches(folder).queries() == []
    assert reopened == []  # nothing to reopen the library for
    assert session.recall_watch.remembering() is False
