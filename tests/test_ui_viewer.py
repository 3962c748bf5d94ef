"""The page viewer (offscreen) and the platform helpers' choice of command."""

from __future__ import annotations

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from docretriever.errors import DocRetrieverError
from docretriever_ui.overlay import heat_image
from docretriever_ui.system import open_in_pdf_viewer, reveal_command, viewer_command
from docretriever_ui.tasks import TaskError
from docretriever_ui.viewer import PageViewer

QUERY = "lecture notes about arabic"


@pytest.fixture()
def hits(indexed_session, qtbot):
    """Every page of the indexed library as a hit, best first."""
    results: list[list] = []
    indexed_session.search(QUERY, 50, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30_000)
    assert len(results[0]) >= 3
    return results[0]


def open_viewer(session, hits, index, qtbot) -> PageViewer:
    viewer = PageViewer(session, hits, index)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitExposed(viewer)
    wait_for_page(viewer, qtbot)
    return viewer


def wait_for_page(viewer: PageViewer, qtbot) -> None:
    qtbot.waitUntil(lambda: not viewer.page_item.pixmap().isNull(), timeout=30_000)


def test_the_page_is_shown_with_one_box_per_region_inside_it(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    hit = hits[0]
    regions = hit.regions()
    assert regions, "a heat map always has a hottest cell, so there is at least one region"
    assert len(viewer.overlay.boxes) == len(regions)
    page = viewer.page_item.mapRectToScene(viewer.page_item.boundingRect())
    assert (page.width(), page.height()) == pytest.approx(hit.page_size)
    for box, region in zip(viewer.overlay.boxes, regions, strict=True):
        rect = box.mapRectToScene(box.rect())
        assert page.adjusted(-1e-6, -1e-6, 1e-6, 1e-6).contains(rect)
        assert rect.left() == pytest.approx(region.x0) and rect.bottom() == pytest.approx(region.y1)
    np.testing.assert_array_equal(viewer.overlay.heat, hit.heat())
    assert f"page {hit.page}" in viewer.title.text()


def test_picking_a_word_redraws_the_heat_for_its_tokens(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    words = hits[0].query.words()
    assert len(words) >= 2
    offered = [viewer.words.itemText(i) for i in range(viewer.words.count())]
    assert offered == ["All words", *(word for word, _ in words)]
    all_words = viewer.overlay.heat_item.pixmap().toImage()
    viewer.words.setCurrentIndex(1)
    np.testing.assert_array_equal(viewer.overlay.heat, hits[0].heat(words[0][1]))
    assert viewer.overlay.heat_item.pixmap().toImage() != all_words
    assert len(viewer.overlay.boxes) == len(hits[0].regions(words[0][1]))
    viewer.words.setCurrentIndex(0)
    assert viewer.overlay.heat_item.pixmap().toImage() == all_words


def test_the_opacity_slider_sets_the_overlays_opacity(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    viewer.opacity.setValue(0)
    assert viewer.overlay.opacity() == 0.0
    bare = viewer.page_image()
    viewer.opacity.setValue(80)
    assert viewer.overlay.opacity() == pytest.approx(0.8)
    assert viewer.opacity_label.text() == "80 %"
    assert viewer.page_image() != bare, "the copied image carries the overlay at its opacity"


def test_next_and_previous_walk_through_the_hits(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    assert not viewer.previous_action.isEnabled()
    with qtbot.waitSignal(viewer.current_changed) as signal:
        viewer.next_action.trigger()
    assert signal.args == [1] and viewer.current_index == 1
    wait_for_page(viewer, qtbot)
    assert f"result 2 of {len(hits)}" in viewer.title.text()
    with qtbot.waitSignal(viewer.current_changed) as signal:
        viewer.previous_action.trigger()
    assert signal.args == [0] and viewer.current_index == 0
    viewer.show_hit(len(hits) - 1)
    assert not viewer.next_action.isEnabled()
    with qtbot.assertNotEmitted(viewer.current_changed):
        viewer.show_next()
    assert viewer.current_index == len(hits) - 1


def test_arrow_and_page_keys_walk_through_the_hits(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 1, qtbot)
    viewer.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is viewer)
    for key, expected in [(Qt.Key.Key_Right, 2), (Qt.Key.Key_Left, 1), (Qt.Key.Key_PageUp, 0)]:
        with qtbot.waitSignal(viewer.current_changed) as signal:
            qtbot.keyClick(viewer.view, key)
        assert signal.args == [expected]
    with qtbot.waitSignal(viewer.current_changed):
        qtbot.keyClick(viewer.view, Qt.Key.Key_PageDown)
    assert viewer.current_index == 1


def test_a_render_for_a_hit_no_longer_shown_is_dropped(indexed_session, hits, qtbot, monkeypatch) -> None:
    requests: list[tuple[int, object]] = []

    def held_render(doc_id, page, max_pixels, on_done, on_error=None):
        requests.append((page, on_done))

    monkeypatch.setattr(indexed_session, "render_page", held_render)
    portrait = next(i for i, h in enumerate(hits) if h.page_size[0] < h.page_size[1])
    landscape = next(i for i, h in enumerate(hits) if h.page_size[0] > h.page_size[1])
    viewer = PageViewer(indexed_session, hits, portrait)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitUntil(lambda: len(requests) == 1)
    viewer.show_hit(landscape)
    qtbot.waitUntil(lambda: len(requests) == 2)
    requests[1][1](QImage(300, 200, QImage.Format.Format_RGB32))
    requests[0][1](QImage(200, 300, QImage.Format.Format_RGB32))  # late, for the portrait page
    assert viewer.page_item.pixmap().size().toTuple() == (300, 200)
    viewer.show_hit(portrait)
    qtbot.waitUntil(lambda: len(requests) == 3)
    requests[2][1](QImage(200, 300, QImage.Format.Format_RGB32))
    assert viewer.page_item.pixmap().size().toTuple() == (200, 300)


def test_a_render_after_the_viewer_is_gone_is_ignored(indexed_session, hits, qtbot, monkeypatch) -> None:
    requests: list = []
    monkeypatch.setattr(indexed_session, "render_page", lambda *args, **kwargs: requests.append(args))
    viewer = PageViewer(indexed_session, hits, 0)
    viewer.show()
    qtbot.waitUntil(lambda: len(requests) == 1)
    shiboken6.delete(viewer)
    _doc_id, _page, _pixels, on_done, on_error = requests[0]
    on_done(QImage(200, 300, QImage.Format.Format_RGB32))
    on_error(TaskError("gone", ""))


def test_the_rotated_page_is_shown_landscape(indexed_session, hits, qtbot) -> None:
    index = next(i for i, h in enumerate(hits) if h.path.endswith("habibi-rotated.pdf"))
    assert hits[index].rotation % 180 == 90
    viewer = open_viewer(indexed_session, hits, index, qtbot)
    pixmap = viewer.page_item.pixmap()
    assert pixmap.width() > pixmap.height()
    assert viewer.scene.sceneRect().width() > viewer.scene.sceneRect().height()


def test_copy_image_puts_the_page_on_the_clipboard(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    QApplication.clipboard().clear()
    viewer.copy_action.trigger()
    image = QApplication.clipboard().image()
    assert not image.isNull()
    width, height = hits[0].page_size
    assert image.width() / image.height() == pytest.approx(width / height, rel=0.05)
    assert image.size() == viewer.page_item.pixmap().size()


def test_zooming_in_renders_a_sharper_page(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    pixmap = viewer.page_item.pixmap()
    before = pixmap.width() * pixmap.height()
    for _ in range(20):
        if viewer.wanted_pixels() >= 2 * before:
            break
        viewer.zoom_in_action.trigger()
    assert viewer.view.zoom > 1.0
    qtbot.waitUntil(
        lambda: viewer.page_item.pixmap().width() * viewer.page_item.pixmap().height() > 1.5 * before
    )
    pixmap = viewer.page_item.pixmap()
    assert pixmap.width() * pixmap.height() <= 12_000_000
    viewer.fit_action.trigger()
    assert viewer.view.zoom == 1.0
    for _ in range(40):
        viewer.zoom_in_action.trigger()
    assert viewer.view.zoom == 16.0 and viewer.wanted_pixels() == 12_000_000


def test_zoom_keys_and_ctrl_wheel(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    viewer.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is viewer)
    control = Qt.KeyboardModifier.ControlModifier
    for key, expected in [(Qt.Key.Key_Equal, 1.25), (Qt.Key.Key_Plus, 1.25**2), (Qt.Key.Key_Minus, 1.25)]:
        qtbot.keyClick(viewer.view, key, control)
        assert viewer.view.zoom == pytest.approx(expected)
    qtbot.keyClick(viewer.view, Qt.Key.Key_0, control)
    assert viewer.view.zoom == 1.0
    centre = QPointF(viewer.view.viewport().rect().center())
    wheel = QWheelEvent(
        centre,
        viewer.view.viewport().mapToGlobal(centre),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        control,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewer.view.viewport(), wheel)
    assert viewer.view.zoom > 1.1
    assert viewer.view.transform().m11() == pytest.approx(viewer.view.fit_scale() * viewer.view.zoom)


def test_escape_closes_the_viewer(indexed_session, hits, qtbot) -> None:
    viewer = open_viewer(indexed_session, hits, 0, qtbot)
    with qtbot.waitSignal(viewer.finished):
        qtbot.keyClick(viewer.view, Qt.Key.Key_Escape)
    assert not viewer.isVisible()


def test_heat_image_is_transparent_where_cold_and_warm_where_hot(qtbot) -> None:
    heat = np.zeros((4, 6), dtype=np.float32)
    heat[1, 2] = 1.0
    image = heat_image(heat, cell_px=8)
    assert (image.width(), image.height()) == (48, 32)
    assert image.pixelColor(0, 0).alpha() == 0
    hot = image.pixelColor(2 * 8 + 4, 1 * 8 + 4)
    assert hot.alpha() > 200 and hot.red() == 255 and hot.green() < 60 and hot.blue() == 0


# --- platform helpers -------------------------------------------------------------------------


def fake_which(*available: str):
    return lambda name: f"/usr/bin/{name}" if name in available else None


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (("evince", "okular"), ["/usr/bin/evince", "--page-index=7", "/d/a b.pdf"]),
        (("okular",), ["/usr/bin/okular", "-p", "7", "/d/a b.pdf"]),
        (("zathura",), ["/usr/bin/zathura", "--page=7", "/d/a b.pdf"]),
        (("qpdfview",), ["/usr/bin/qpdfview", "--unique", "/d/a b.pdf#7"]),
        ((), None),
    ],
)
def test_viewer_command_on_linux(available, expected) -> None:
    assert viewer_command("/d/a b.pdf", 7, which=fake_which(*available), platform="linux") == expected


def test_viewer_command_on_windows_and_macos() -> None:
    sumatra = fake_which("SumatraPDF")
    assert viewer_command("C:\\a.pdf", 3, which=sumatra, platform="win32") == [
        "/usr/bin/SumatraPDF",
        "-page",
        "3",
        "C:\\a.pdf",
    ]
    assert viewer_command("C:\\a.pdf", 3, which=fake_which("evince"), platform="win32") is None
    assert viewer_command("/a.pdf", 3, which=fake_which("evince", "okular"), platform="darwin") is None


def test_a_file_that_is_not_a_pdf_opens_in_the_application_of_its_type() -> None:
    evince = fake_which("evince")
    assert viewer_command("/d/Report.PDF", 2, which=evince, platform="linux") is not None  # the control
    for name in ("/d/scan.png", "/d/minutes.docx", "/d/book.epub"):
        assert viewer_command(name, 2, which=evince, platform="linux") is None, name
    assert viewer_command("C:\\scan.jpg", 1, which=fake_which("SumatraPDF"), platform="win32") is None


def test_reveal_command_per_platform() -> None:
    assert reveal_command("/d/a.pdf", platform="darwin") == ["open", "-R", "/d/a.pdf"]
    windows = reveal_command("C:/d/a.pdf", platform="win32")
    assert windows is not None and windows[:2] == ["explorer.exe", "/select,"]
    assert reveal_command("/d/a.pdf", platform="linux") is None


def test_opening_a_missing_file_says_so(tmp_path) -> None:
    missing = tmp_path / "gone.pdf"
    with pytest.raises(DocRetrieverError, match="no longer there"):
        open_in_pdf_viewer(str(missing), 1)
