"""DocRetriever's launcher: set up the per-user environment on first start, then start the app.

This is the program the installers put on the Start menu, the Dock and the applications menu.
Later starts find the environment ready and hand over to the app at once; after an upgrade
(another lock or app wheel in the payload) a new environment is built beside the old one and
switched to only when it imports. Arguments are passed to the app (PDF paths from "Open with",
``--self-test``). ``DOCRETRIEVER_LAUNCHER_NO_WINDOW=1`` sets up without a window (logs on
standard error).

Frozen with PyInstaller (``packaging/build.py``): only the standard library and PySide6.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime import Cancelled, Runtime, SetupError, clean_environment, find_payload


def _executable() -> Path:
    return Path(sys.executable if getattr(sys, "frozen", False) else __file__)


def _with_window() -> bool:
    return not os.environ.get("DOCRETRIEVER_LAUNCHER_NO_WINDOW")


def _build_with_window(runtime: Runtime, upgrade: bool) -> int:
    """0 when the app can start (built, or an update failed and the previous version remains),
    1 after a failure, 2 after a cancel."""
    from PySide6.QtWidgets import QApplication, QMessageBox
    from setup_window import SetupWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = SetupWindow(runtime, upgrade)
    window.show()
    window.start()
    window.exec()
    if window.succeeded:
        return 0
    if upgrade and runtime.current() is not None:
        if not isinstance(window.outcome, Cancelled):
            QMessageBox.information(
                None, "DocRetriever", "The update could not be installed; the previous version starts."
            )
        return 0
    del app
    return 1 if isinstance(window.outcome, SetupError) else 2


def _report_failure(error: SetupError) -> None:
    print(f"DocRetriever could not start: {error.message}\n{error.details}", file=sys.stderr, flush=True)
    if _with_window():  # started from a menu, standard error goes nowhere
        from PySide6.QtWidgets import QApplication, QMessageBox

        _app = QApplication.instance() or QApplication(sys.argv[:1])
        QMessageBox.critical(None, "DocRetriever could not start", error.message)


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        runtime = Runtime(find_payload(_executable()))
        if runtime.is_ready():
            runtime.remove_old_environments()
        else:
            upgrade = runtime.current() is not None
            if not _with_window():
                runtime.build(lambda line: print(line, file=sys.stderr, flush=True))
            else:
                status = _build_with_window(runtime, upgrade)
                if status:
                    return status
        command = runtime.app_command(arguments)
    except SetupError as error:
        _report_failure(error)
        return 1
    except Cancelled:
        return 2
    environment = clean_environment()
    if sys.platform == "win32":
        return subprocess.call(command, env=environment)
    os.execve(command[0], command, environment)  # the app takes this process: one task-list entry
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
