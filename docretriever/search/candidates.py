"""The search index: each page's centroids in RAM, and the codebook's inverted lists over them.

Stage one (:meth:`CandidateIndex.survey`) sends each query token to its nearest codes in the
shared codebook (USearch) and scores every page filed under them; stage two
(:meth:`CandidateIndex.pooled_scores`) ranks the surveyed pages by MaxSim over their
``PAGE_CENTROIDS`` int8 centroids; the exact rerank (in ``ranking``) runs on the best of those.

The codebook is trained from the library's own centroids once it holds more than
``CODEBOOK_MIN_PAGES`` pages (below that, stage two looks at every page), and trained again,
with every page re-filed, each time the library has grown ``RETRAIN_GROWTH`` times since.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from docretriever.errors import LibraryError, describe_os_error
from docretriever.search.codebook import Codebook, codebook_size, train_codes
from docretriever.search.maxsim import maxsim_scores
from docretriever.search.pooling import INT8_SCALE, PAGE_CENTROIDS, from_int8, pool_cells, to_int8
from docretriever.search.postings import InvertedLists

CODEBOOK_MIN_PAGES = 400
RETRAIN_GROWTH = 8
# Nearest codes looked up per query token. On the synthetic benchmark corpus (100,000 pages,
# 16,384 codes) stage one kept every one of the exact top 10 within its 400 best pages.
PROBED_CODES = 8
_MAGIC = b"DOCRETRIEVER-INDEX-2\n"
# Version 1 held an HNSW graph of 48 centroids per page, then the same ranking centroids.
_MAGIC_V1 = b"DOCRETRIEVER-INDEX-1\n"
_TEMPORARY_PREFIX = ".index-"
# Pages whose centroids are filed in one batch when the codebook is (re)trained.
_FILING_BATCH_PAGES = 2048


class CandidateIndex:
    """Page centroids and the first-stage inverted lists, saved to ``path`` atomically."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        # Searches (reader threads) and additions (the writer) may overlap.
        self._lock = threading.RLock()
        self._empty()
        self.dirty = False

    def _empty(self) -> None:
        self._pooled: dict[int, np.ndarray] = {}  # page id -> int8 centroids (n, dim)
        self._slot_of: dict[int, int] = {}  # page id -> its slot in the inverted lists
        self._slot_pages = np.zeros(0, dtype=np.int64)  # slot -> page id, -1 once removed
        self._slots_used = 0
        self._codebook: Codebook | None = None
        self._lists: InvertedLists | None = None
        self._trained_pages = 0

    # --- contents ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Pages held."""
        return len(self._pooled)

    def page_ids(self) -> set[int]:
        """The pages this index holds."""
        with self._lock:
            return set(self._pooled)

    @property
    def codebook_size(self) -> int:
        """Codes in the first-stage codebook; 0 while the library is too small to need one."""
        return len(self._codebook) if self._codebook is not None else 0

    def add_page(self, page_id: int, cells: np.ndarray, grid: tuple[int, int]) -> None:
        """Index a page. ``cells``: shape (n_x * n_y, dim), the page's cell rows; ``grid``:
        (n_x, n_y). Adding a page already held does nothing. Marks the index dirty; may train
        the codebook (seconds to minutes, growing with the library) when the library has
        outgrown it."""
        with self._lock:
            if page_id in self._pooled:
                return  # a reader's reconciliation may have added it between commit and here
        self._add_pooled(page_id, to_int8(pool_cells(cells, PAGE_CENTROIDS)))

    def _add_pooled(self, page_id: int, pooled: np.ndarray) -> None:
        with self._lock:
            if page_id in self._pooled:
                return
            self._pooled[page_id] = pooled
            slot = self._new_slot(page_id)
            if self._codebook is not None and self._lists is not None:
                self._lists.add(slot, self._codebook.assign(from_int8(pooled)))
            self.dirty = True
            if self._needs_training():
                self._train()

    def remove_page(self, page_id: int) -> None:
        """Forget a page (an absent one is ignored)."""
        with self._lock:
            if self._pooled.pop(page_id, None) is None:
                return
            self._slot_pages[self._slot_of.pop(page_id)] = -1
            self.dirty = True

    def clear(self) -> None:
        with self._lock:
            self._empty()
            self.dirty = True

    def _new_slot(self, page_id: int) -> int:
        if self._slots_used == len(self._slot_pages):
            grown = np.full(max(1024, 2 * len(self._slot_pages)), -1, dtype=np.int64)
            grown[: self._slots_used] = self._slot_pages[: self._slots_used]
            self._slot_pages = grown
        slot = self._slots_used
        self._slot_pages[slot] = page_id
        self._slot_of[page_id] = slot
        self._slots_used += 1
        return slot

    # --- the codebook ------------------------------------------------------------------------

    def _needs_training(self) -> bool:
        if self._codebook is None:
            return len(self._pooled) > CODEBOOK_MIN_PAGES
        return len(self._pooled) >= RETRAIN_GROWTH * self._trained_pages

    @property
    def trained_pages(self) -> int:
        """Pages held when the codebook was last trained; 0 while there is none."""
        return self._trained_pages if self._codebook is not None else 0

    @staticmethod
    def _new_codebook(pooled: dict[int, np.ndarray]) -> Codebook:
        """A codebook trained on a random sample of ``pooled``'s centroids (int8 rows by page)."""
        page_ids = list(pooled)
        # Sized for the library it will serve until the next training, RETRAIN_GROWTH times
        # larger: trained for today's size, each code would soon cover several distinct words.
        codes = codebook_size(RETRAIN_GROWTH * sum(len(pooled[p]) for p in page_ids))
        rng = np.random.default_rng(len(page_ids))
        # Enough pages for the training sample, chosen at random.
        wanted_pages = max(1, -(-16 * codes // PAGE_CENTROIDS))
        chosen = rng.choice(len(page_ids), min(len(page_ids), wanted_pages), replace=False)
        sample = from_int8(np.concatenate([pooled[page_ids[i]] for i in np.sort(chosen)]))
        return Codebook(train_codes(sample, codes))

    def retrain(self) -> bool:
        """Train the codebook again on the pages held now and file every page under it: what
        the library's growth does by itself (``RETRAIN_GROWTH``), at once, so that pages unlike
        those of the last training are filed under codes near them (the recall watch asks for
        it). Searches go on with the old codebook while the new one is trained and the pages
        filed; pages added or removed meanwhile are accounted for. Seconds to minutes on a large
        library. Returns False, doing nothing, while the library is too small for a codebook."""
        with self._lock:
            if self._codebook is None:
                return False
            pooled = dict(self._pooled)
        codebook = self._new_codebook(pooled)
        page_ids = list(pooled)
        filed: list[np.ndarray] = []
        for start in range(0, len(page_ids), _FILING_BATCH_PAGES):
            batch = [pooled[p] for p in page_ids[start : start + _FILING_BATCH_PAGES]]
            codes = codebook.assign(from_int8(np.concatenate(batch)), threads=0)
            offsets = np.cumsum([0] + [len(p) for p in batch])
            filed += [codes[offsets[i] : offsets[i + 1]] for i in range(len(batch))]
        with self._lock:
            self._codebook, self._lists = codebook, InvertedLists(len(codebook))
            self._slot_of, self._slots_used, self._slot_pages = {}, 0, np.zeros(0, dtype=np.int64)
            for page_id, codes in zip(page_ids, filed, strict=True):
                if page_id in self._pooled:  # not removed meanwhile
                    self._lists.add(self._new_slot(page_id), codes)
            self._file_pages([p for p in self._pooled if p not in self._slot_of])  # added meanwhile
            self._trained_pages = len(page_ids)
            self.dirty = True
        return True

    def _train(self) -> None:
        """Train a codebook sized for the library and file every page under it (lock held)."""
        page_ids = list(self._pooled)
        codebook = self._new_codebook(self._pooled)
        self._codebook, self._lists = codebook, InvertedLists(len(codebook))
        self._slot_of, self._slots_used, self._slot_pages = {}, 0, np.zeros(0, dtype=np.int64)
        for start in range(0, len(page_ids), _FILING_BATCH_PAGES):
            self._file_pages(page_ids[start : start + _FILING_BATCH_PAGES])
        self._trained_pages = len(page_ids)
        self.dirty = True

    def _file_pages(self, page_ids: Sequence[int]) -> None:
        """Give each page a slot and file it under its centroids' nearest codes, in one batch."""
        assert self._codebook is not None and self._lists is not None
        if not page_ids:
            return
        pooled = [self._pooled[p] for p in page_ids]
        codes = self._codebook.assign(from_int8(np.concatenate(pooled)), threads=0)
        offsets = np.cumsum([0] + [len(p) for p in pooled])
        for number, page_id in enumerate(page_ids):
            self._lists.add(self._new_slot(page_id), codes[offsets[number] : offsets[number + 1]])

    # --- searching ---------------------------------------------------------------------------

    def survey(
        self,
        query: np.ndarray,
        count: int,
        probes: int = PROBED_CODES,
        only: Collection[int] | None = None,
    ) -> list[int]:
        """Stage one: the ``count`` most promising pages for a query, best first, looking up
        ``probes`` nearest codes per query token.

        ``query`` is float32, shape (n_tokens, dim). ``only``, when given, is the pages that may
        be returned (a search within some documents): the others are left out before the best
        ``count`` are chosen, so a scope of any size gets ``count`` of its own pages (never fewer
        because the rest of the library scored higher). Every page held (of ``only``) is returned,
        in no particular order, while the library is too small for a codebook.
        """
        with self._lock:
            if self._codebook is None or self._lists is None:
                return [p for p in self._pooled if only is None or p in only]
            codes, similarities = self._codebook.nearest(query, probes)
            scores = self._lists.scores(codes, similarities, self._slots_used)
            slot_pages = self._slot_pages[: self._slots_used].copy()
            if only is not None:
                allowed = np.zeros(len(scores), dtype=bool)
                slots = [self._slot_of[p] for p in only if p in self._slot_of]
                allowed[np.asarray(slots, dtype=np.int64)] = True
                scores[~allowed] = -np.inf
        scores[slot_pages < 0] = -np.inf
        count = min(count, len(self._pooled) if only is None else len(only))
        if count <= 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
        # Ties broken by page id, so that the order does not depend on how slots were numbered.
        best = best[np.lexsort((slot_pages[best], -scores[best]))]
        return [int(p) for p, s in zip(slot_pages[best], scores[best], strict=True) if p >= 0 and s > -np.inf]

    def pooled_scores(self, query: np.ndarray, page_ids: Sequence[int]) -> np.ndarray:
        """Stage two: MaxSim of the query against each page's centroids.

        ``query`` is float32 (n_tokens, dim). Returns float32 (len(page_ids),); a page missing
        from the index scores -inf.
        """
        with self._lock:
            pooled = [self._pooled.get(page_id) for page_id in page_ids]
        present = [i for i, p in enumerate(pooled) if p is not None]
        scores = np.full(len(page_ids), -np.inf, dtype=np.float32)
        if present:
            scaled = np.ascontiguousarray(query, dtype=np.float32) / INT8_SCALE
            scores[present] = maxsim_scores(scaled, [p for p in pooled if p is not None])
        return scores

    def centroids(self, page_id: int) -> np.ndarray | None:
        """A page's centroids as stage two sees them: float32 (n, dim), about unit rows; None
        for a page the index does not hold."""
        with self._lock:
            pooled = self._pooled.get(page_id)
        return None if pooled is None else from_int8(pooled)

    # --- the file ----------------------------------------------------------------------------

    def load(self) -> bool:
        """Load the saved index; False (leaving it empty) when missing or unreadable.

        The file holds ``_MAGIC`` then an .npz of: page ids (in slot order), their centroid
        counts and rows, and, once trained, the codes, USearch's graph of them, the inverted
        lists and the page count they were trained at. A version 1 file gives its centroids,
        added again one page at a time as an ingest would (training the codebook on the way).
        """
        try:
            data = self.path.read_bytes()
            if data.startswith(_MAGIC_V1):
                start = len(_MAGIC_V1) + 8
                body = data[start + int.from_bytes(data[len(_MAGIC_V1) : start], "little") :]
            elif data.startswith(_MAGIC):
                body = data[len(_MAGIC) :]
            else:
                return False
            del data
            with np.load(io.BytesIO(body), allow_pickle=False) as arrays:
                contents = {name: arrays[name] for name in arrays.files}
            self._restore(contents)
        except Exception:  # missing, truncated, garbage: the caller rebuilds from the vectors
            self.clear()
            self.dirty = False
            return False
        return True

    def _restore(self, contents: dict[str, np.ndarray]) -> None:
        page_ids, counts, rows = contents["page_ids"], contents["counts"], contents["rows"]
        if rows.ndim != 2 or rows.shape[1] != self.dim or counts.sum() != len(rows):
            raise ValueError("the saved centroids do not fit this library")
        offsets = np.r_[0, np.cumsum(counts)]
        pooled = {int(p): rows[offsets[i] : offsets[i + 1]] for i, p in enumerate(page_ids)}
        with self._lock:
            self._empty()
            if "codes" not in contents:  # too small for a codebook, or a version 1 file
                for page_id in sorted(pooled):
                    self._add_pooled(page_id, pooled[page_id])
                self.dirty = self._codebook is not None
                return
            self._pooled = pooled
            for page_id in page_ids:
                self._new_slot(int(page_id))
            codes = contents["codes"]
            self._codebook = Codebook.restore(codes, contents["graph"].tobytes())
            starts, slots = contents["list_starts"], contents["list_slots"]
            if len(starts) != len(codes) + 1 or (len(slots) and slots.max() >= len(page_ids)):
                raise ValueError("the saved inverted lists do not fit the pages")
            self._lists = InvertedLists(len(codes), starts, slots)
            self._trained_pages = int(contents["trained_pages"])

    def save(self) -> None:
        """Write the index to a temporary file, fsync it, then rename it over the old one, so
        that a full disk or a crash never leaves a broken file where a good one was. See
        :meth:`load` for the layout."""
        with self._lock:
            contents = self._contents()
        buffer = io.BytesIO()
        buffer.write(_MAGIC)
        np.savez(buffer, **cast(dict[str, Any], contents))
        folder = self.path.parent
        try:
            fd, temporary = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(buffer.getbuffer())
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise LibraryError(
                f"Could not save the search index: {describe_os_error(exc)}.", details=repr(exc)
            ) from exc
        self.dirty = False

    def _contents(self) -> dict[str, np.ndarray]:
        """The arrays :meth:`save` writes, with the slots renumbered to leave out removed pages."""
        slot_pages = self._slot_pages[: self._slots_used]
        live = slot_pages >= 0
        page_ids = slot_pages[live]
        pooled = [self._pooled[int(p)] for p in page_ids]
        contents = {
            "page_ids": page_ids,
            "counts": np.array([len(p) for p in pooled], dtype=np.int64),
            "rows": np.concatenate(pooled) if pooled else np.zeros((0, self.dim), dtype=np.int8),
        }
        if self._codebook is not None and self._lists is not None:
            new_slot = np.full(len(slot_pages), -1, dtype=np.int64)
            new_slot[live] = np.arange(len(page_ids))
            starts, slots = self._lists.renumbered(new_slot).arrays()
            contents |= {
                "codes": self._codebook.codes,
                "graph": np.frombuffer(self._codebook.serialise(), dtype=np.uint8),
                "list_starts": starts,
                "list_slots": slots,
                "trained_pages": np.array(self._trained_pages),
            }
        return contents

    def remove_leftovers(self) -> None:
        """Delete the temporary files of saves a crash interrupted. Only the writer may call
        this: another process's save in progress would lose its file."""
        for leftover in self.path.parent.glob(_TEMPORARY_PREFIX + "*"):
            leftover.unlink(missing_ok=True)
