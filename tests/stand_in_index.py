"""A stand-in for the search index, for tests of the fast path's stages."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np


class OrderedStandInIndex:
    """An index over pages 0..pages-1 whose first stage hands on the lowest ids first and whose
    second stage prefers the higher ones: pages past the survey's cut are the best."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def __len__(self) -> int:
        return self.pages

    def survey(
        self, query: np.ndarray, count: int, probes: int = 8, only: Collection[int] | None = None
    ) -> list[int]:
        return [p for p in range(self.pages) if only is None or p in only][:count]

    def pooled_scores(self, query: np.ndarray, page_ids: list[int]) -> np.ndarray:
        return np.asarray(page_ids, dtype=np.float32)


class UnscopedStandInIndex(OrderedStandInIndex):
    """The same, with a first stage that ignores the scope it is given (the fault that a scoped
    search must not have): the negative control of the scope tests."""

    def survey(
        self, query: np.ndarray, count: int, probes: int = 8, only: Collection[int] | None = None
    ) -> list[int]:
        return super().survey(query, count, probes)
