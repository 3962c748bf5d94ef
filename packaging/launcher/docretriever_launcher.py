"""DocRetriever's launcher: set up the per-user environment on first start, then start the app.

This is the program the installers put on the Start menu, the Dock and the applications menu.
Later starts find the environment ready and hand over to the app at once; after an upgrade
(another lock or app wheel in the payload) a new environment is built beside the old one and
switched to only when it imports. Arguments are passed to the app (PDF paths from "Open with",
``--self-test``).

Frozen with PyInstaller (``packaging/build.py``): only the standard library and PySide6.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime import Cancelled, Runtime, SetupError, find_payload


def _executable() -> Path:
    return Path(sys.executable if getattr(sys, "frozen", False) else __file__)


def _build_with_window(runtime: Runtime, upgrade: bool) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox
    from setup_window import SetupWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = SetupWindow(runtime, upgrade)
    window.show()
    window.start()
    window.exec()
    if window.succeeded:
        return 0
    if window.outcome is None or isinstance(window.outcome, Cancelled):
        return 2
    if upgrade and runtime.current() is not None:
        QMessageBox.information(
            None, "DocRetriever", "The update could not be installed; the previous version starts."
        )
        return 0
    del app
    return 1


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        runtime = Runtime(find_payload(_executable()))
        if not runtime.is_ready():
            upgrade = runtime.current() is not None
            if os.environ.get("DOCRETRIEVER_LAUNCHER_NO_WINDOW"):
                runtime.build(_log)
            else:
                status = _build_with_window(runtime, upgrade)
                if status:
                    return status
        command = runtime.app_command(arguments)
    except SetupError as exc:
        _log(f"DocRetriever could not start: {exc.message}\n{exc.details}")
        return 1
    except Cancelled:
        return 2
    if sys.platform == "win32":
        return subprocess.call(command)
    os.execv(command[0], command)  # the app takes over this process: one entry in the task list
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
