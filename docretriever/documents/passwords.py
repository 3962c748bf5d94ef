"""Passwords of PDFs that need one to open (a user password), and opening such files with them.

A password is kept by the SHA-256 of the file's bytes, the document's identity in a library: it
follows the file through a move or a rename, and an edited file (other bytes, another
document) is asked for again. :class:`PasswordStore` holds them in memory for the session and,
when asked to remember one, in the system keyring through the ``keyring`` library (macOS
Keychain, Windows Credential Locker, the Secret Service on Linux) under the service
``DocRetriever``, when a usable keyring backend exists. A keyring that fails is treated as
empty: a password is then asked for again, never lost silently in a way that blocks indexing.

Nothing here logs or prints a password, and no message or ``repr`` contains one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docretriever.errors import EncryptedDocumentError

if TYPE_CHECKING:
    from docretriever.documents.pdf import PageList
    from docretriever.documents.render_pool import RenderPool

KEYRING_SERVICE = "DocRetriever"


def keyring_backend() -> Any | None:
    """The ``keyring`` library's backend when it can store secrets here, else None (no backend
    found: keyring's "fail" or "null" ones, or a chain of none)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration: as if there were none
        return None
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class PasswordStore:
    """Passwords by the SHA-256 of the file they open; see the module docstring. Safe to use
    from several threads. With ``use_keyring`` False the system keyring is never touched."""

    def __init__(self, *, use_keyring: bool = True) -> None:
        self._use_keyring = use_keyring
        self._session: dict[str, str] = {}
        self._looked_up: set[str] = set()  # keyring lookups done (found or not): once per file
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<PasswordStore: {len(self._session)} known for this session>"

    @property
    def keyring_available(self) -> bool:
        """Whether :meth:`put` can remember a password in the system keyring."""
        return self._use_keyring and keyring_backend() is not None

    def get(self, sha256: str) -> str | None:
        """The password of the file whose bytes have this SHA-256, or None when none is known.
        The keyring is asked once per file and session."""
        with self._lock:
            if sha256 in self._session or not self._use_keyring or sha256 in self._looked_up:
                return self._session.get(sha256)
            self._looked_up.add(sha256)
        found = self._from_keyring(sha256)
        if found is None:
            return None
        with self._lock:
            return self._session.setdefault(sha256, found)

    def put(self, sha256: str, password: str, *, remember: bool = False) -> bool:
        """Keep ``password`` for this session, and with ``remember`` in the system keyring too.
        Returns whether the keyring now holds it (False without a usable keyring)."""
        with self._lock:
            self._session[sha256] = password
        if not (remember and self._use_keyring):
            return False
        backend = keyring_backend()
        if backend is None:
            return False
        try:
            backend.set_password(KEYRING_SERVICE, sha256, password)
        except Exception:  # locked, refused, gone: kept for this session only
            return False
        return True

    def forget(self, sha256: str) -> None:
        """Drop the password of this file, from the session and from the keyring."""
        with self._lock:
            self._session.pop(sha256, None)
        backend = keyring_backend() if self._use_keyring else None
        if backend is not None:
            with contextlib.suppress(Exception):  # none was stored, or the keyring cannot be reached
                backend.delete_password(KEYRING_SERVICE, sha256)

    def _from_keyring(self, sha256: str) -> str | None:
        backend = keyring_backend()
        if backend is None:
            return None
        try:
            found = backend.get_password(KEYRING_SERVICE, sha256)
        except Exception:  # locked, refused, gone: as if none were stored
            return None
        return found if isinstance(found, str) else None


@dataclass(frozen=True)
class GivenPasswords:
    """The passwords a caller gave to one ``add``, by absolute path, and whether those that open
    their files are to be remembered in the system keyring."""

    by_path: Mapping[str, str] = field(default_factory=dict, repr=False)
    remember: bool = False

    @classmethod
    def of(cls, passwords: Mapping[str, str] | None, remember: bool = False) -> GivenPasswords:
        given = (passwords or {}).items()
        return cls({os.path.abspath(Path(path).expanduser()): password for path, password in given}, remember)


def inspect_with_password(
    renderer: RenderPool, store: PasswordStore, path: Path, sha256: str, given: GivenPasswords
) -> tuple[PageList, str | None]:
    """Read a file's pages in a render worker (see :meth:`RenderPool.inspect`), opening a file
    that needs a password with the one given for its path or, without one, the one ``store``
    knows for its bytes. Returns the pages and the password that opened the file (None when it
    needs none), which ``store`` then keeps for the session (and a given one in the system
    keyring too when ``given.remember``).

    Raises :class:`EncryptedDocumentError` when no password is known and
    :class:`~docretriever.errors.WrongPasswordError` when the one used does not open it."""
    try:
        return renderer.inspect(path), None  # most files need none: the store is not asked
    except EncryptedDocumentError:
        password = given.by_path.get(os.path.abspath(path))
        keep = given.remember and password is not None
        if password is None:
            password = store.get(sha256)
        if password is None:
            raise
    pages = renderer.inspect(path, password)
    store.put(sha256, password, remember=keep)
    return pages, password
