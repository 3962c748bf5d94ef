"""Encrypted PDFs and a stand-in system keyring, for the password tests (core, CLI, GUI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

USER_PASSWORD = "correct horse 7"
OWNER_PASSWORD = "owner-only-9"


def encrypted_pdf(path: Path, pages: int = 2, user_pw: str = USER_PASSWORD) -> Path:
    """A PDF of ``pages`` pages with words on them, AES-256 encrypted with a user password."""
    import pymupdf

    with pymupdf.open() as pdf:
        for number in range(1, pages + 1):
            page = pdf.new_page(width=595, height=842)
            page.insert_text((72, 120), f"Quarterly report, page {number}", fontsize=28)
            page.draw_rect(pymupdf.Rect(72, 200, 400, 500), color=(0, 0, 1), width=3)
        pdf.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user_pw, owner_pw=OWNER_PASSWORD)
    return path


class StandInKeyring(KeyringBackend):
    """A keyring in memory: what the system keyring would hold, and nothing of the real one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError("not stored")


@pytest.fixture()
def stand_in_keyring() -> Iterator[StandInKeyring]:
    """The system keyring, replaced for one test by one in memory."""
    previous = keyring.get_keyring()
    stand_in = StandInKeyring()
    keyring.set_keyring(stand_in)
    try:
        yield stand_in
    finally:
        keyring.set_keyring(previous)
