"""Inverted lists: for each code, the page slots filed under it, and the stage-one score.

Lists are compressed sparse rows (a start offset per code into one array of slots). Pages added
since the last rebuild are kept in a second, small set of lists, rebuilt on the next search;
both are merged once the recent part passes an eighth of the whole, so adding a page costs
O(1) amortised and a search never sorts more than the recent part.
"""

from __future__ import annotations

import numpy as np

_MERGE_FRACTION = 8


def _compressed(codes: np.ndarray, slots: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_codes + 1)).astype(np.int64)
    return starts, slots[order].astype(np.int32)


class InvertedLists:
    """code -> page slots, for ``n_codes`` codes."""

    def __init__(
        self, n_codes: int, starts: np.ndarray | None = None, slots: np.ndarray | None = None
    ) -> None:
        self.n_codes = n_codes
        self._starts = np.zeros(n_codes + 1, dtype=np.int64) if starts is None else starts
        self._slots = np.zeros(0, dtype=np.int32) if slots is None else slots
        self._pending_codes: list[np.ndarray] = []
        self._pending_slots: list[np.ndarray] = []
        self._recent: tuple[np.ndarray, np.ndarray] | None = None
        self._recent_size = 0

    def __len__(self) -> int:
        """Entries held (one per page and code it is filed under)."""
        return len(self._slots) + self._recent_size + sum(len(c) for c in self._pending_codes)

    def add(self, slot: int, codes: np.ndarray) -> None:
        """File page ``slot`` under each of ``codes`` (int, shape (n,); duplicates are dropped)."""
        distinct = np.unique(codes)
        self._pending_codes.append(distinct.astype(np.int64))
        self._pending_slots.append(np.full(len(distinct), slot, dtype=np.int32))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Everything as one set of lists: (starts int64 (n_codes + 1,), slots int32 (entries,))."""
        self._settle(merge=True)
        return self._starts, self._slots

    def renumbered(self, new_slot: np.ndarray) -> InvertedLists:
        """A copy with each slot s replaced by ``new_slot[s]``, dropping entries mapped to -1."""
        starts, slots = self.arrays()
        mapped = new_slot[slots]
        keep = mapped >= 0
        codes = self._code_of_entry(starts)[keep]
        new_starts = np.searchsorted(codes, np.arange(self.n_codes + 1)).astype(np.int64)
        return InvertedLists(self.n_codes, new_starts, mapped[keep].astype(np.int32))

    def _code_of_entry(self, starts: np.ndarray) -> np.ndarray:
        """The code of each entry of lists with these ``starts``: int64 (entries,)."""
        return np.repeat(np.arange(self.n_codes), np.diff(starts))

    def _settle(self, merge: bool = False) -> None:
        if not self._pending_codes and not (merge and self._recent is not None):
            return
        codes = [self._code_of_entry(self._recent[0])] if self._recent else []
        slots = [self._recent[1]] if self._recent else []
        codes += self._pending_codes
        slots += self._pending_slots
        self._pending_codes, self._pending_slots = [], []
        recent_codes, recent_slots = np.concatenate(codes), np.concatenate(slots)
        if merge or len(recent_codes) * _MERGE_FRACTION > len(self._slots):
            whole_codes = np.concatenate([self._code_of_entry(self._starts), recent_codes])
            self._starts, self._slots = _compressed(
                whole_codes, np.concatenate([self._slots, recent_slots]), self.n_codes
            )
            self._recent, self._recent_size = None, 0
        else:
            self._recent = _compressed(recent_codes, recent_slots, self.n_codes)
            self._recent_size = len(recent_codes)

    def scores(self, codes: np.ndarray, similarities: np.ndarray, n_slots: int) -> np.ndarray:
        """Stage-one page scores: for each query token, the similarity of the most similar of
        its codes that the page is filed under (or, for a page under none of them, that of the
        token's least similar code), summed over tokens.

        Args:
            codes: int64, shape (n_tokens, n_probed), each token's nearest codes, most similar
                first.
            similarities: float32, same shape, the token's inner product with each code.
            n_slots: slots to score (one past the highest slot filed).

        Returns:
            float32, shape (n_slots,).
        """
        self._settle()
        parts = [(self._starts, self._slots)] + ([self._recent] if self._recent else [])
        total = np.zeros(n_slots, dtype=np.float32)
        best = np.empty(n_slots, dtype=np.float32)
        for token_codes, token_similarities in zip(codes, similarities, strict=True):
            best.fill(token_similarities[-1])
            # Least similar first, so that a page under several codes keeps the best.
            for code, similarity in zip(
                token_codes[::-1].tolist(), token_similarities[::-1].tolist(), strict=True
            ):
                for starts, slots in parts:
                    best[slots[starts[code] : starts[code + 1]]] = similarity
            total += best
        return total
