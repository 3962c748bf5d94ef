"""``add --password-prompt``: after an add, ask on the terminal for the password of each file that
needs one to open, and add that file again with it. Passwords are read without echo
(:func:`getpass.getpass`), kept for this run only, and never printed."""

from __future__ import annotations

import argparse
import getpass
import sys

from docretriever.cli.progress_bar import ProgressBar
from docretriever.documents.discover import shown_path
from docretriever.errors import InvalidInputError
from docretriever.library import AddReport, Library
from docretriever.progress import CancelToken

# Wrong passwords typed for one file before it is left failed.
TRIES = 3


def check_terminal(args: argparse.Namespace) -> None:
    """Refuse ``--password-prompt`` before any work when there is no terminal to ask on."""
    if getattr(args, "password_prompt", False) and not sys.stdin.isatty():
        raise InvalidInputError(
            "--password-prompt asks for passwords on the terminal, and the input is not one; "
            "run the command in a terminal."
        )


def _ask(prompt: str, cancel: CancelToken) -> str:
    """One password from the terminal; Ctrl-D skips the file ("" like Enter). The CLI's Ctrl-C
    handler only asks work to stop, which a prompt never checks: while it waits, Ctrl-C raises
    KeyboardInterrupt at once, so the run stops (exit 130) with what it has kept."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return getpass.getpass(prompt)
    except EOFError:
        print(file=sys.stderr)
        return ""
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def ask_for_passwords(library: Library, report: AddReport, bar: ProgressBar, cancel: CancelToken) -> None:
    """Ask for each file of ``report`` that failed for want of a password (an empty answer skips
    it; a wrong one is said and asked again, up to :data:`TRIES` times), add it again with the
    password, and put what came of it into ``report``."""
    for index, outcome in enumerate(report.outcomes):
        tries = 0
        while outcome.needs_password and tries < TRIES:
            bar.finish()
            if outcome.error and tries:
                print(outcome.error, file=sys.stderr)
            password = _ask(f"Password for {shown_path(outcome.path)} (Enter to skip): ", cancel)
            if not password:
                break
            tries += 1
            given = {outcome.path: password}
            again = library.add([outcome.path], progress=bar, cancel=cancel, passwords=given)
            report.pages_embedded += again.pages_embedded
            report.embedded_in |= again.embedded_in
            outcome = next((o for o in again.outcomes if o.path == outcome.path), outcome)
            report.outcomes[index] = outcome
