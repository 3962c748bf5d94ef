"""Start-up of the desktop app: settings, the session over the core, the main window, then the
model: loaded in the background when it is on this computer, the set-up dialog when not."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication

from docretriever_ui.error_dialog import install_excepthook
from docretriever_ui.main_window import MainWindow
from docretriever_ui.session import LibrarySession
from docretriever_ui.settings import AppSettings


def create_window(
    settings: AppSettings | None = None, paths: Sequence[str] = (), session: LibrarySession | None = None
) -> MainWindow:
    """The main window over the library in ``settings`` (or over ``session``), shown; the model
    then starts loading in the background, or the set-up dialog asks for it. ``paths`` (PDFs
    from "Open with") are added once there is a model to embed them with."""
    session = session or LibrarySession(settings or AppSettings())
    window = MainWindow(session)
    window.show()
    window.model_setup.start(paths)
    return window


# Qt's command-line options that take a value (QGuiApplication's and QApplication's
# documentation), each also accepted with two dashes.
_QT_OPTIONS_WITH_VALUE = frozenset(
    (
        "-session",
        "-name",
        "-title",
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


_OUR_OPTIONS_WITH_VALUE = frozenset(("--model", "--device"))
_OUR_FLAGS = frozenset(("--self-test", "-h", "--help"))


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
        name = argument.split("=", 1)[0]
        if name in _OUR_OPTIONS_WITH_VALUE:
            ours += [argument] if "=" in argument else [argument, next(rest, "")]
        elif name in _OUR_FLAGS or not argument.startswith("-") or argument == "-":
            ours.append(argument)
        elif (name[1:] if name.startswith("--") else name) in _QT_OPTIONS_WITH_VALUE and "=" not in argument:
            qt += [argument, next(rest, "")]
        else:  # Qt's flags (-reverse), and its options written with "="
            qt.append(argument)
    options = parser.parse_args(ours)
    return options, qt


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv if argv is not None else sys.argv)
    options, qt_arguments = parse_arguments(arguments)
    if options.self_test:
        from docretriever_ui.self_test import run_self_test

        return run_self_test(options.model, options.device)
    app = QApplication.instance() or QApplication(qt_arguments)
    app.setApplicationName("DocRetriever")
    app.setOrganizationName("DocRetriever")
    # "Open with DocRetriever" on PDFs: they are added to the library.
    paths = [str(Path(path).expanduser().resolve()) for path in options.paths]
    window = create_window(paths=paths)
    install_excepthook(window)
    window.raise_()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
