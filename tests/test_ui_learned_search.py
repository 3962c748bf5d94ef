"""The GUI's session finds held-out pages with the trained reading model, highlights on the word."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_learned_retrieval import MIN_IOU_RATE, MIN_RECALL_AT_1

from docretriever.testing.reading_eval import hit_answer, measure

pytestmark = pytest.mark.learned_model


def test_the_session_finds_the_page_and_the_word(
    app_settings, reader_dir: Path, held_out_pdf: Path, held_out_pages, qtbot
) -> None:
    from docretriever_ui.session import LibrarySession

    app_settings.model = str(reader_dir)
    app_settings.device = "cpu"
    app_settings.store.setValue("model/visual_tokens", "128")
    session = LibrarySession(app_settings)
    try:
        with qtbot.waitSignal(session.ingest_finished, timeout=300_000):
            session.add([str(held_out_pdf)])
        sample = held_out_pages[::4]
        numbers = {w: n for n, (_, w) in enumerate(held_out_pages, start=1)}

        def top_hit(word: str):
            delivered: list = []
            session.search(word, 1, delivered.append)
            qtbot.waitUntil(lambda: bool(delivered), timeout=60_000)
            found = hit_answer(delivered[0])
            if found is None or found[0] != numbers[word]:
                return None
            return [w for _, w in sample].index(word) + 1, found[1]

        quality = measure(sample, top_hit)
    finally:
        session.close()
    assert quality.recall_at_1 >= MIN_RECALL_AT_1, quality
    assert quality.iou_rate >= MIN_IOU_RATE, quality
