"""The one exception family of DocRetriever.

Every error that reaches a person derives from :class:`DocRetrieverError` and carries a message
written for them (``str(error)``); ``details`` holds what a bug report needs. The CLI prints the
message and exits non-zero, the GUI shows it with a "Copy details" button.
"""

from __future__ import annotations

import errno


class DocRetrieverError(Exception):
    """Base class: ``str(error)`` is a complete sentence a person can act on."""

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Cancelled(DocRetrieverError):
    """The person cancelled the operation; everything finished before that was kept."""

    def __init__(self, message: str = "Cancelled; work finished before that was kept.") -> None:
        super().__init__(message)
        # What was finished before the stop, where the operation says (an AddReport from add).
        self.report: object | None = None


class InvalidInputError(DocRetrieverError):
    """An argument a person gave (a query, a path, a number) cannot be used."""


class DocumentError(DocRetrieverError):
    """A whole document cannot be indexed: unreadable, encrypted, empty, of a kind not read, too
    large. Other files are unaffected."""


class EncryptedDocumentError(DocumentError):
    """The PDF needs a password to open: none was given, or (:class:`WrongPasswordError`) the one
    given does not open it. Its ``details`` start with :attr:`DETAILS`, which the library records
    with the failure, so that a person can be asked for the password later."""

    DETAILS = "The PDF is encrypted with a user password."

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message, details=details or self.DETAILS)


class WrongPasswordError(EncryptedDocumentError):
    """The password given for an encrypted PDF does not open it."""


class PageError(DocRetrieverError):
    """One page of a document cannot be rendered; its other pages are unaffected."""


class ModelError(DocRetrieverError):
    """The embedding model cannot be found, downloaded or loaded."""


class LibraryError(DocRetrieverError):
    """The library folder cannot be opened, read or written."""


class ModelMismatchError(LibraryError):
    """The library was built with a different model than the one configured now."""


def describe_os_error(error: OSError) -> str:
    """The system's reason for a failed read or write, with what to do when the disk is full."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason += "; free some disk space, then try again (work committed before is kept)"
    return reason
