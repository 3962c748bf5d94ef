"""PDFs that need a password to open: opened with it, through the render workers, in both back
ends; a wrong one said plainly; kept for the session or in a (stand-in) system keyring, by the
file's content; never written anywhere else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from password_fixtures import USER_PASSWORD, encrypted_pdf

from docretriever.documents.passwords import KEYRING_SERVICE, PasswordStore, keyring_backend
from docretriever.documents.pdf import open_pdf, sha256_of_file
from docretriever.documents.render import RenderedPage, display_size
from docretriever.documents.render_pool import RenderPool
from docretriever.errors import EncryptedDocumentError, PageError, WrongPasswordError
from docretriever.library import open_library
from docretriever.library.local import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary

SAMPLE_PASSWORD = "openpassword"  # of the corpus's LibreOffice sample (py-pdf's sample-files)


@pytest.fixture()
def locked(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return encrypted_pdf(folder / "report.pdf")


def test_open_pdf_needs_the_right_password_and_says_which_is_missing(locked: Path) -> None:
    with pytest.raises(EncryptedDocumentError, match=r"report\.pdf is encrypted: a password") as no:
        open_pdf(locked).__enter__()
    assert not isinstance(no.value, WrongPasswordError)
    with pytest.raises(WrongPasswordError, match=r"^The password for report.pdf is not right\.$") as wrong:
        open_pdf(locked, "guess").__enter__()
    assert "guess" not in str(wrong.value) + wrong.value.details
    with open_pdf(locked, USER_PASSWORD) as document:
        assert document.page_count == 2
    # A callable is asked only when the file needs a password: never for an ordinary PDF.
    asked: list[int] = []
    plain = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    with open_pdf(plain, lambda: asked.append(1) or None) as document:
        assert document.page_count >= 1
    assert asked == []
    with open_pdf(locked, lambda: asked.append(1) or USER_PASSWORD) as document:
        assert document.page_count == 2
    assert asked == [1]


def test_the_render_workers_open_and_render_with_the_password(locked: Path) -> None:
    pool = RenderPool(workers=2)
    try:
        with pytest.raises(EncryptedDocumentError) as no:
            pool.inspect(locked)
        assert not isinstance(no.value, WrongPasswordError)
        with pytest.raises(WrongPasswordError, match="not right"):
            pool.inspect(locked, "guess")
        pages = pool.inspect(locked, USER_PASSWORD)
        assert len(pages) == 2
        sizes = [display_size(page.width_pt, page.height_pt, 200_000) for page in pages]
        rendered = pool.render(locked, pages, sizes, USER_PASSWORD)
        assert all(isinstance(page, RenderedPage) for page in rendered)
        # Negative control: without it each page fails, it is no leftover open document.
        assert all(isinstance(page, PageError) for page in pool.render(locked, pages, sizes))
    finally:
        pool.close()


def test_the_password_store_keeps_passwords_for_the_session_without_a_keyring() -> None:
    assert keyring_backend() is None  # the tests' null keyring: nothing can be remembered
    store = PasswordStore()
    assert not store.keyring_available
    assert store.put("ab" * 32, "pw-1", remember=True) is False  # kept for the session only
    assert store.get("ab" * 32) == "pw-1"
    assert "pw-1" not in repr(store)
    store.forget("ab" * 32)
    assert store.get("ab" * 32) is None
    assert PasswordStore().get("ab" * 32) is None  # another session knows nothing of it


def test_an_add_fails_without_the_password_says_a_wrong_one_and_indexes_with_the_right_one(
    locked: Path, tmp_path: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = LocalLibrary(
        tmp_path / "lib", embedder=tiny_embedder, passwords=PasswordStore(use_keyring=False)
    )
    try:
        (outcome,) = library.add([locked.parent]).outcomes
        assert (outcome.status, outcome.needs_password) == ("failed", True)
        assert "a password is required" in (outcome.error or "")
        (document,) = library.documents()
        assert document.needs_password

        (outcome,) = library.add([locked], passwords={str(locked): "guess"}).outcomes
        assert (outcome.status, outcome.needs_password) == ("failed", True)
        assert outcome.error == "The password for report.pdf is not right."
        assert library.documents()[0].needs_password

        # Given by a relative path, as a person types it: the same file.
        monkeypatch.chdir(locked.parent)
        (outcome,) = library.add([locked], passwords={"report.pdf": USER_PASSWORD}).outcomes
        assert (outcome.status, outcome.pages, outcome.needs_password) == ("indexed", 2, False)
        (document,) = library.documents()
        assert document.status == "indexed" and not document.needs_password
        assert library.search("quarterly report", k=2)
        # Previews open it with the password kept for this session.
        assert library.render_page(document.doc_id, 2, 100_000).image.width > 0
        # Re-indexing asks for nothing: the session knows it.
        assert library.reindex(document.doc_id).outcomes[0].status == "indexed"
    finally:
        library.close()
    # Not remembered: a new session cannot show its pages, and says why.
    again = LocalLibrary(tmp_path / "lib", embedder=tiny_embedder, passwords=PasswordStore(use_keyring=False))
    try:
        with pytest.raises(EncryptedDocumentError, match="password is required"):
            again.render_page(document.doc_id, 1, 100_000)
    finally:
        again.close()
    # The password is written nowhere in the library.
    for file in (tmp_path / "lib").rglob("*"):
        if file.is_file():
            assert USER_PASSWORD.encode() not in file.read_bytes(), file


def test_a_remembered_password_is_in_the_keyring_by_content_and_serves_a_later_session(
    locked: Path, tmp_path: Path, tiny_embedder, stand_in_keyring
) -> None:
    digest = sha256_of_file(locked)
    with LocalLibrary(tmp_path / "lib", embedder=tiny_embedder) as library:
        assert library.passwords.keyring_available
        report = library.add([locked], passwords={str(locked): USER_PASSWORD}, remember_passwords=True)
        assert report.outcomes[0].status == "indexed"
    assert stand_in_keyring.secrets == {(KEYRING_SERVICE, digest): USER_PASSWORD}

    # Moved and renamed: the same bytes, so the same password, from the keyring.
    moved = tmp_path / "elsewhere" / "renamed.pdf"
    moved.parent.mkdir()
    shutil.move(locked, moved)
    with LocalLibrary(tmp_path / "lib2", embedder=tiny_embedder) as library:
        (outcome,) = library.add([moved]).outcomes
        assert (outcome.status, outcome.pages) == ("indexed", 2)
        assert library.render_page(outcome.doc_id or "", 1, 100_000).image.height > 0

    # Negative control: without remember_passwords nothing reaches the keyring.
    stand_in_keyring.secrets.clear()
    other = encrypted_pdf(tmp_path / "other.pdf", pages=1)
    with LocalLibrary(tmp_path / "lib3", embedder=tiny_embedder) as library:
        assert library.add([other], passwords={str(other): USER_PASSWORD}).outcomes[0].status == "indexed"
    assert stand_in_keyring.secrets == {}


def test_a_wrong_password_in_the_keyring_is_reported_not_taken(
    locked: Path, tmp_path: Path, tiny_embedder, stand_in_keyring
) -> None:
    stand_in_keyring.set_password(KEYRING_SERVICE, sha256_of_file(locked), "stale")
    with LocalLibrary(tmp_path / "lib", embedder=tiny_embedder) as library:
        (outcome,) = library.add([locked]).outcomes
        assert (outcome.status, outcome.needs_password) == ("failed", True)
        assert outcome.error == "The password for report.pdf is not right."


def test_the_corpus_sample_opens_with_its_password(tmp_path: Path, tiny_embedder) -> None:
    sample = corpus_or_skip(SAMPLES) / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf"
    with open_library(tmp_path / "lib", embedder=tiny_embedder) as library:
        assert library.add([sample]).outcomes[0].needs_password
        (outcome,) = library.add([sample], passwords={str(sample): SAMPLE_PASSWORD}).outcomes
        assert (outcome.status, outcome.pages) == ("indexed", 1)


def test_a_qdrant_library_takes_passwords_the_same_way(locked: Path, tiny_embedder) -> None:
    library = QdrantLibrary(
        "qdrant+local://:memory:/pages", embedder=tiny_embedder, passwords=PasswordStore(use_keyring=False)
    )
    try:
        (outcome,) = library.add([locked]).outcomes
        assert (outcome.status, outcome.needs_password) == ("failed", True)
        assert library.documents()[0].needs_password
        (outcome,) = library.add([locked], passwords={str(locked): "guess"}).outcomes
        assert outcome.error == "The password for report.pdf is not right."
        (outcome,) = library.add([locked], passwords={str(locked): USER_PASSWORD}).outcomes
        assert (outcome.status, outcome.pages) == ("indexed", 2)
        assert library.documents()[0].status == "indexed"
        assert library.render_page(outcome.doc_id or "", 2, 100_000).image.width > 0
    finally:
        library.close()
