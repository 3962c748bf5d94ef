"""Start-up of the desktop app: settings, the session over the core, the main window, and the
model set-up dialog when the configured model is not on this computer yet."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication

from docretriever_ui.error_dialog import install_excepthook
from docretriever_ui.main_window import MainWindow
from docretriever_ui.model_dialog import ModelSetupDialog, model_needs_setup
from docretriever_ui.session import LibrarySession
from docretriever_ui.settings import AppSettings


def create_window(settings: AppSettings | None = None) -> MainWindow:
    """The main window over the library in ``settings``; asks for the model when it is missing."""
    settings = settings or AppSettings()
    session = LibrarySession(settings)
    window = MainWindow(session)
    window.show()
    if model_needs_setup(settings):
        dialog = ModelSetupDialog(settings, session.runner, window)
        dialog.accepted.connect(session.reopen)
        dialog.open()
    return window


# Qt's command-line options that take a value (see QGuiApplication's documentation).
_QT_OPTIONS_WITH_VALUE = frozenset(
    (
        "-platform",
        "-platformpluginpath",
        "-platformtheme",
        "-plugin",
        "-qwindowgeometry",
        "-qwindowicon",
        "-qwindowtitle",
        "-display",
        "-geometry",
        "-style",
        "-stylesheet",
    )
)


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The app's own options and the arguments left for Qt (``-platform offscreen`` and the
    like), from a full ``argv`` (program name first)."""
    parser = argparse.ArgumentParser(prog="docretriever-gui", description="DocRetriever, the desktop app.")
    parser.add_argument("paths", nargs="*", help="PDF files or folders to add to the library")
    # Hidden: used by the installers' smoke tests and by support ("does this copy start?").
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ours: list[str] = []
    qt: list[str] = list(argv[:1])
    rest = iter(argv[1:])
    for argument in rest:
        if argument in _QT_OPTIONS_WITH_VALUE:
            qt += [argument, next(rest, "")]
        else:
            ours.append(argument)
    options, unknown = parser.parse_known_args(ours)
    return options, qt + unknown


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv if argv is not None else sys.argv)
    options, qt_arguments = parse_arguments(arguments)
    if options.self_test:
        from docretriever_ui.self_test import run_self_test

        return run_self_test(options.model, options.device)
    app = QApplication.instance() or QApplication(qt_arguments)
    app.setApplicationName("DocRetriever")
    app.setOrganizationName("DocRetriever")
    window = create_window()
    install_excepthook(window)
    window.raise_()
    if options.paths:
        # "Open with DocRetriever" on PDFs: they are added to the library.
        window.add_paths([str(Path(path).expanduser().resolve()) for path in options.paths])
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
