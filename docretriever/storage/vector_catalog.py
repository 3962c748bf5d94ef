"""Where pages' vectors are, as the catalog records it: storing them, finding stored vectors
for the same picture, and moving them (a compaction)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from docretriever.errors import LibraryError
from docretriever.storage.catalog_connection import CatalogConnection

# Content hashes looked up per query: well under SQLite's oldest limit of 999 parameters.
_LOOKUP_CHUNK = 500


class VectorCatalog(CatalogConnection):
    """The catalog's records of page vectors: each indexed page's (segment, first row, row
    count) in the vector store, and the spare vectors of pages that left."""

    def store_pages(
        self,
        stored: Sequence[tuple[int, tuple[int, int], int, int, int, str, bytes | None]],
        contents: Sequence[str | None] | None = None,
    ) -> None:
        """Mark pages indexed: (page_id, (n_x, n_y), n_rows, segment, row_offset, renderer,
        cell_rows), ``cell_rows`` None for pages that are not token-pooled. ``contents``: each
        page's content hash (see :mod:`docretriever.library.local.page_reuse`), None where unknown."""
        hashes = list(contents) if contents is not None else [None] * len(stored)
        with self.transaction() as db:
            db.executemany(
                "UPDATE pages SET status = 'indexed', error = NULL, grid_x = ?, grid_y = ?, n_rows = ?,"
                " segment = ?, row_offset = ?, renderer = ?, cell_rows = ?, content_sha256 = ? WHERE id = ?",
                [
                    (g[0], g[1], n, seg, off, rend, cells, content, pid)
                    for (pid, g, n, seg, off, rend, cells), content in zip(stored, hashes, strict=True)
                ],
            )

    @staticmethod
    def keep_spare_vectors(db: sqlite3.Connection, document_id: int) -> None:
        """Keep where the indexed pages of a document that is leaving have their vectors, by
        content hash, in spare_vectors until the next compaction: the same page coming back
        (the file restored, another version of it) is then not embedded again. Pages without
        a content hash (indexed before hashes were kept, or imported) are not kept; a hash
        already kept keeps its first rows (the same picture has the same vectors)."""
        db.execute(
            "INSERT OR IGNORE INTO spare_vectors (content_sha256, grid_x, grid_y, n_rows, segment,"
            " row_offset, renderer, cell_rows) SELECT content_sha256, grid_x, grid_y, n_rows,"
            " segment, row_offset, renderer, cell_rows FROM pages WHERE document_id = ?"
            " AND status = 'indexed' AND content_sha256 IS NOT NULL AND grid_x IS NOT NULL"
            " AND n_rows IS NOT NULL AND segment IS NOT NULL AND row_offset IS NOT NULL",
            (document_id,),
        )

    def vectors_by_content(
        self, contents: Iterable[str]
    ) -> dict[str, tuple[tuple[int, int], int, int, int, bytes | None]]:
        """Stored vectors of pages with these content hashes: {hash: ((n_x, n_y), n_rows,
        segment, row_offset, cell_rows)}, from an indexed page if one has it, else from
        spare_vectors; hashes found nowhere are left out. Empty on a catalog from before
        content hashes (not migrated yet)."""
        wanted = list(dict.fromkeys(contents))
        if not wanted or not self.is_current:
            return {}
        found: dict[str, tuple[tuple[int, int], int, int, int, bytes | None]] = {}
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self.query(
                "SELECT content_sha256, grid_x, grid_y, n_rows, segment, row_offset, cell_rows"
                f" FROM pages WHERE content_sha256 IN ({marks}) AND status = 'indexed'"
                " AND grid_x IS NOT NULL AND n_rows IS NOT NULL AND segment IS NOT NULL"
                " AND row_offset IS NOT NULL",
                chunk,
            )
            rows += self.query(
                "SELECT content_sha256, grid_x, grid_y, n_rows, segment, row_offset, cell_rows"
                f" FROM spare_vectors WHERE content_sha256 IN ({marks})",
                chunk,
            )
            for content, n_x, n_y, n_rows, segment, offset, cell_rows in rows:
                found.setdefault(content, ((n_x, n_y), n_rows, segment, offset, cell_rows))
        return found

    def vector_locations(self) -> list[tuple[int, int, int, int]]:
        """(page id, segment, first row, row count) of every indexed page with stored vectors,
        by segment and row: the vectors a compaction keeps. Several pages may share one range
        (vectors reused for the same picture)."""
        rows = self.query(
            "SELECT id, segment, row_offset, n_rows FROM pages WHERE status = 'indexed'"
            " AND segment IS NOT NULL AND row_offset IS NOT NULL AND n_rows IS NOT NULL"
            " ORDER BY segment, row_offset, id"
        )
        return [(int(a), int(b), int(c), int(d)) for a, b, c, d in rows]

    def live_rows(self) -> int:
        """How many stored rows :meth:`vector_locations` covers, each shared range once; summed
        by SQLite, as this runs after every add and remove."""
        rows = self.query(
            "SELECT coalesce(sum(n_rows), 0) FROM (SELECT DISTINCT segment, row_offset, n_rows"
            " FROM pages WHERE status = 'indexed' AND segment IS NOT NULL AND row_offset IS NOT NULL"
            " AND n_rows IS NOT NULL)"
        )
        return int(rows[0][0])

    def referenced_segments(self) -> set[int]:
        """Every vector segment a page or a spare vector points into: the files that must stay."""
        rows = self.query("SELECT DISTINCT segment FROM pages WHERE segment IS NOT NULL")
        if self.has_spare_vectors():
            rows += self.query("SELECT DISTINCT segment FROM spare_vectors")
        return {int(row[0]) for row in rows}

    def spare_vector_count(self) -> int:
        """How many removed pages' vectors are kept for reuse (0 before the table exists)."""
        if not self.has_spare_vectors():
            return 0
        return int(self.query("SELECT count(*) FROM spare_vectors")[0][0])

    def has_spare_vectors(self) -> bool:
        # A catalog from before spare vectors (not migrated yet) lacks the table.
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE name = 'spare_vectors'"))

    def relocate_vectors(self, moves: Sequence[tuple[int, int, int, int, int]], first_new: int) -> None:
        """A compaction's commit, in one transaction: point each page at the copy of its vectors,
        moves being (page id, old segment, old first row, new segment, new first row), and
        forget every spare vector (their rows were not copied). Segments from ``first_new`` up
        are the copies; a page that was not indexed keeps no location below it (those files
        are about to go).

        Raises :class:`LibraryError`, changing nothing, if an indexed page is not where
        ``moves`` says or has vectors below ``first_new`` that it leaves out: the catalog
        changed since the copy was planned, which the writer lock should have prevented.
        """
        with self.transaction() as db:
            moved = db.executemany(
                "UPDATE pages SET segment = ?, row_offset = ? WHERE id = ? AND status = 'indexed'"
                " AND segment = ? AND row_offset = ?",
                [(new, new_row, page_id, old, old_row) for page_id, old, old_row, new, new_row in moves],
            ).rowcount
            left = db.execute(
                "SELECT count(*) FROM pages WHERE status = 'indexed' AND segment < ?"
                " AND row_offset IS NOT NULL AND n_rows IS NOT NULL",
                (first_new,),
            ).fetchone()[0]
            if moved != len(moves) or left:
                raise LibraryError(
                    "The library changed while it was being compacted; nothing was changed. "
                    "Run the compaction again.",
                    details=f"{moved} of {len(moves)} pages moved, {left} left behind",
                )
            db.execute(
                "UPDATE pages SET segment = NULL, row_offset = NULL"
                " WHERE status != 'indexed' AND segment < ?",
                (first_new,),
            )
            db.execute("DELETE FROM spare_vectors")
