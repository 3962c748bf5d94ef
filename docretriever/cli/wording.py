"""Counts and nouns as the CLI prints them."""

from __future__ import annotations

from docretriever.vocabulary import Document


def counted(number: int, noun: str) -> str:
    """ "1 page", "3 pages": a count and its noun, in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def pages_of(documents: list[Document]) -> int:
    return sum(document.page_count or 0 for document in documents)
