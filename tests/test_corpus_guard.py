"""Tests on the shared corpus skip where it is missing, but fail in CI (no green run that skipped them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import corpus_or_skip


@pytest.mark.parametrize("value", [None, "", "0"])
def test_a_missing_corpus_skips_by_default(monkeypatch, tmp_path: Path, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("DOCRETRIEVER_REQUIRE_CORPUS", raising=False)
    else:
        monkeypatch.setenv("DOCRETRIEVER_REQUIRE_CORPUS", value)
    with pytest.raises(pytest.skip.Exception):
        corpus_or_skip(tmp_path / "absent")


def test_a_missing_corpus_fails_where_it_is_required(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCRETRIEVER_REQUIRE_CORPUS", "1")
    with pytest.raises(pytest.fail.Exception, match="not beside the checkout"):
        corpus_or_skip(tmp_path / "absent")


def test_a_present_corpus_is_returned(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCRETRIEVER_REQUIRE_CORPUS", "1")
    assert corpus_or_skip(tmp_path) == tmp_path
