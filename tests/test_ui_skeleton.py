"""The GUI skeleton starts offscreen (the desktop-app issue builds the panes)."""

from __future__ import annotations

from docretriever_ui.app import MainWindow


def test_main_window_opens(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == "DocRetriever"
    assert window.isVisible()
