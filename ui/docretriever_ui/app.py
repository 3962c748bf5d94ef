"""Start-up of the desktop app: settings, the claim on the library (a second start hands its
files to the first, see :mod:`docretriever_ui.single_instance`), the session over the core, the
main window, then the model: loaded in the background when it is on this computer, the set-up
dialog when not. At quit the process ends without the interpreter's teardown (see
:func:`end_process`)."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from PySide6.QtWidgets import QApplication, QMessageBox

from docretriever_ui.error_dialog import install_excepthook
from docretriever_ui.settings import AppSettings
from docretriever_ui.single_instance import RunningInstance, bring_to_front, instance_key, send_to_running

if TYPE_CHECKING:
    from docretriever_ui.main_window import MainWindow
    from docretriever_ui.session import LibrarySession


def create_window(
    settings: AppSettings | None = None, paths: Sequence[str] = (), session: LibrarySession | None = None
) -> MainWindow:
    """The main window over the library in ``settings`` (or over ``session``), shown; the model
    then starts loading in the background, or the set-up dialog asks for it. ``paths`` (files
    from "Open with") are added once there is a model to embed them with."""
    # Imported here: a second start, which only hands its files over, never needs the core.
    from docretriever_ui.main_window import MainWindow
    from docretriever_ui.session import LibrarySession

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
    parser.add_argument(
        "paths", nargs="*", help="documents (PDFs, images, Office files...) or folders to add to the library"
    )
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


def run(argv: Sequence[str] | None = None) -> int:
    """The app from a full ``argv`` (program name first) until its window closes; the exit status."""
    arguments = list(argv if argv is not None else sys.argv)
    options, qt_arguments = parse_arguments(arguments)
    if options.self_test:
        from docretriever_ui.self_test import run_self_test

        return run_self_test(options.model, options.device)
    app = QApplication.instance() or QApplication(qt_arguments)
    app.setApplicationName("DocRetriever")
    app.setOrganizationName("DocRetriever")
    # "Open with DocRetriever" on documents: they are added to the library.
    paths = [str(Path(path).expanduser().resolve()) for path in options.paths]
    settings = AppSettings()
    instance = RunningInstance.claim(instance_key(settings.library))
    if instance is None:
        return hand_over(instance_key(settings.library), paths)
    window = create_window(settings, paths=paths)
    instance.paths_received.connect(lambda more: take_request(window, more))
    install_excepthook(window)
    window.raise_()
    code = int(app.exec())
    settings.sync()  # what changed after the window's own sync (its destructor never runs)
    instance.release()
    return code


def hand_over(key: str, paths: Sequence[str]) -> int:
    """A second start: give ``paths`` to the running DocRetriever, which comes to the front.
    0 once it has taken them; 1, after saying so, when it does not answer."""
    if send_to_running(key, paths):
        return 0
    QMessageBox.critical(
        None,
        "DocRetriever",
        "DocRetriever is already running with this library but does not answer. Close it (or end "
        "it in the system monitor), then start DocRetriever again.",
    )
    return 1


def take_request(window: MainWindow, paths: Sequence[str]) -> None:
    """A later start's files ("Open with" while the app runs): added once there is a model, and
    the window brought to the front."""
    if paths:
        window.model_setup.add_when_ready(paths)
    bring_to_front(window)


def end_process(code: int) -> NoReturn:
    """End the process with ``code`` once the app is done, without the interpreter's teardown.

    The window has already saved the settings and closed the library (:func:`run` syncs the
    settings once more), and the render workers end when their pipes close. What the interpreter
    would still do is tear down every module and object torch, transformers and Qt made, and
    write nothing: profiled with the tiny test model after a search, 2 to 4 s of garbage
    collection and freeing after the window had closed (``benchmarks/gui_start_quit.py``).
    Exit handlers (``atexit``: logging's flush, temporary folders) still run; threads still
    working (a model load that cannot be stopped) end with the process."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: nothing more to say there
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``docretriever-gui`` entry point: :func:`run`, then :func:`end_process`."""
    end_process(run(argv))


if __name__ == "__main__":
    sys.exit(main())
