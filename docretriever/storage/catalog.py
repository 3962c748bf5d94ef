"""The SQLite catalog: documents (keyed by the SHA-256 of their bytes), their paths, their pages.

Pages point into the vector store by (segment, row offset, row count). Every state change is one
transaction, so after a crash each page is either fully indexed (its vectors durable, its row
committed) or still pending.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from docretriever.documents.discover import UNDECODABLE_NAME, is_text_path, shown_path
from docretriever.documents.pdf import PageInfo
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.storage.catalog_schema import SCHEMA_VERSION
from docretriever.storage.records import (
    FAILED,
    INDEXED,
    MISSING,
    PENDING,
    PRESENT,
    UNAVAILABLE,
    DocumentRecord,
    PageRecord,
)
from docretriever.storage.vector_catalog import VectorCatalog

__all__ = [
    "FAILED",
    "INDEXED",
    "MISSING",
    "PENDING",
    "PRESENT",
    "SCHEMA_VERSION",
    "UNAVAILABLE",
    "Catalog",
    "DocumentRecord",
    "PageRecord",
]


class Catalog(VectorCatalog):
    """The library's catalog at ``path``: documents, their paths, the folders followed, pages.
    Thread-safe; every change is one transaction."""

    def document(self, document_id: int) -> DocumentRecord:
        found = self._documents("WHERE d.id = ?", (document_id,))
        if not found:
            raise LibraryError("That document is no longer in the library (it was removed meanwhile).")
        return found[0]

    def documents(self) -> list[DocumentRecord]:
        return self._documents("", ())

    def document_with_sha256(self, sha256: str) -> DocumentRecord:
        """The document whose bytes have this SHA-256 (64 hex digits); LibraryError if none."""
        found = self._documents("WHERE d.sha256 = ?", (sha256,))
        if not found:
            raise LibraryError(f"Document {sha256[:12]} is no longer in the library.")
        return found[0]

    def find_documents(self, reference: str) -> list[DocumentRecord]:
        """Documents with a path equal to ``reference``, or whose doc_id starts with it (at least
        4 hexadecimal digits, so that a stray short word never matches everything)."""
        if not is_text_path(reference):
            return []  # a name that is not UTF-8 is never stored (see attach_file)
        by_path = self._documents(
            "WHERE d.id IN (SELECT document_id FROM paths WHERE path = ?)", (reference,)
        )
        prefix = reference.strip().lower()
        if by_path or len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
            return by_path
        return self._documents("WHERE substr(d.sha256, 1, ?) = ?", (len(prefix), prefix))

    def _documents(self, where: str, args: Sequence[object]) -> list[DocumentRecord]:
        # A document is missing when every path of it is; since the last of them went.
        since = self.column("paths", "missing_since")
        unavailable = self.column("paths", "unavailable", "0")
        rows = self.query(
            "SELECT d.id, d.sha256, d.size, d.page_count, d.status, d.error, d.error_details,"
            " d.added_at, (SELECT group_concat(path, char(0)) FROM"
            # Paths that held the file at the last look first: paths[0] is one to show.
            f"  (SELECT path FROM paths WHERE document_id = d.id ORDER BY {since} IS NOT NULL, path)),"
            f" (SELECT CASE WHEN count({since}) = count(*) AND count(*) > 0 THEN max({since}) END"
            "  FROM paths WHERE document_id = d.id),"
            f" (SELECT coalesce(max({unavailable}), 0) FROM paths WHERE document_id = d.id)"
            f" FROM documents d {where} ORDER BY d.added_at, d.id",
            args,
        )
        return [
            DocumentRecord(
                id=r[0],
                sha256=r[1],
                size=r[2],
                page_count=r[3],
                status=r[4],
                error=r[5],
                error_details=r[6],
                added_at=r[7],
                paths=tuple(r[8].split("\0")) if r[8] else (),
                missing_since=r[9],
                unavailable=bool(r[10]) and r[9] is not None,
            )
            for r in rows
        ]

    def attach_file(self, sha256: str, size: int, path: str, mtime: float) -> tuple[int, int | None]:
        """Record that ``path`` now holds the bytes with this SHA-256, in one transaction.

        Creates the document (pending) if these bytes are new. Returns (document id, id of the
        document the path belonged to before, when that was another one: the file changed).
        Paths are stored as text: one that is not valid UTF-8 (surrogate-escaped) is refused with
        :class:`InvalidInputError`, never stored altered.
        """
        if not is_text_path(path):
            raise InvalidInputError(f"{UNDECODABLE_NAME} ({shown_path(path)})")
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO documents (sha256, size, status, added_at, updated_at)"
                    " VALUES (?, ?, 'pending', ?, ?)",
                    (sha256, size, now, now),
                )
                document_id = int(cursor.lastrowid or 0)
            else:
                document_id = int(row[0])
            before = db.execute("SELECT document_id FROM paths WHERE path = ?", (path,)).fetchone()
            # Found: whatever was noted of this path going missing no longer holds.
            db.execute(
                "INSERT OR REPLACE INTO paths (path, document_id, size, mtime, missing_since, unavailable)"
                " VALUES (?, ?, ?, ?, NULL, 0)",
                (path, document_id, size, mtime),
            )
        previous = int(before[0]) if before and before[0] != document_id else None
        return document_id, previous

    def paths_under(self, root: str) -> list[tuple[str, int]]:
        """(path, document id) of every recorded path equal to ``root`` or inside that folder."""
        if not is_text_path(root):
            return []  # nothing stored lies under a name that is not UTF-8 (see attach_file)
        inside = root.rstrip("/\\") + os.sep
        rows = self.query(
            "SELECT path, document_id FROM paths WHERE path = ? OR substr(path, 1, ?) = ?",
            (root, len(inside), inside),
        )
        return [(str(path), int(document_id)) for path, document_id in rows]

    def detach_path(self, path: str) -> None:
        """Forget that ``path`` holds a document (the file is gone); the document stays."""
        if not is_text_path(path):
            return
        with self.transaction() as db:
            db.execute("DELETE FROM paths WHERE path = ?", (path,))

    def has_paths(self, document_id: int) -> bool:
        return bool(self.query("SELECT 1 FROM paths WHERE document_id = ? LIMIT 1", (document_id,)))

    def mark_missing(self, paths: Sequence[str], *, unavailable: bool) -> None:
        """Note that the files at ``paths`` could not be found now: deleted or moved away, or,
        with ``unavailable``, on a folder or drive that could not be reached. The paths and their
        documents stay; the time first noticed is kept."""
        now = time.time()
        rows = [(now, int(unavailable), path) for path in paths if is_text_path(path)]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE paths SET missing_since = coalesce(missing_since, ?), unavailable = ? WHERE path = ?",
                rows,
            )

    def missing_paths(self, document_id: int) -> list[str]:
        """The paths of a document that were missing at the last look."""
        since = self.column("paths", "missing_since")
        rows = self.query(
            f"SELECT path FROM paths WHERE document_id = ? AND {since} IS NOT NULL ORDER BY path",
            (document_id,),
        )
        return [str(row[0]) for row in rows]

    def unavailable_paths(self) -> set[str]:
        """Paths whose folder could not be reached at the last look."""
        column = self.column("paths", "unavailable", "0")
        return {str(row[0]) for row in self.query(f"SELECT path FROM paths WHERE {column} = 1")}

    def add_root(self, path: str, volume: str | None) -> None:
        """Remember a folder the user added, so that a sync walks it again (idempotent)."""
        if not is_text_path(path):
            return
        with self.transaction() as db:
            db.execute(
                "INSERT INTO roots (path, volume, added_at) VALUES (?, ?, ?)"
                " ON CONFLICT (path) DO UPDATE SET volume = coalesce(excluded.volume, volume)",
                (path, volume, time.time()),
            )

    def roots(self) -> list[tuple[str, str | None]]:
        """(folder, the mount point it was on) of every folder the user added, by path."""
        if "roots" not in {r[0] for r in self.query("SELECT name FROM sqlite_master")}:
            return []  # a catalog from before roots were remembered, not migrated yet
        return [
            (str(path), volume) for path, volume in self.query("SELECT path, volume FROM roots ORDER BY path")
        ]

    def exclude(self, paths: Sequence[str]) -> None:
        """Leave these files or folders out of what a sync walks (the user removed them)."""
        rows = [(path,) for path in paths if is_text_path(path)]
        if rows:
            with self.transaction() as db:
                db.executemany("INSERT OR IGNORE INTO excluded (path) VALUES (?)", rows)

    def include(self, given: str) -> None:
        """Take back the exclusions at or under ``given`` (the user added it again)."""
        if not is_text_path(given) or not self.excluded():
            return
        inside = given.rstrip("/\\") + os.sep
        with self.transaction() as db:
            db.execute(
                "DELETE FROM excluded WHERE path = ? OR substr(path, 1, ?) = ?", (given, len(inside), inside)
            )

    def excluded(self) -> list[str]:
        """What the user removed from inside followed folders (files or folders)."""
        if "excluded" not in {r[0] for r in self.query("SELECT name FROM sqlite_master")}:
            return []
        return [str(row[0]) for row in self.query("SELECT path FROM excluded ORDER BY path")]

    def clear_missing(self, paths: Sequence[str]) -> None:
        """A file is at these paths again: no longer missing (the next sync checks its bytes)."""
        rows = [(path,) for path in paths if is_text_path(path)]
        if rows and "missing_since" in self.column("paths", "missing_since"):
            with self.transaction() as db:
                db.executemany("UPDATE paths SET missing_since = NULL, unavailable = 0 WHERE path = ?", rows)

    def remove_root(self, path: str) -> bool:
        """Stop following a folder; True if it was followed."""
        if not self.roots():
            return False
        with self.transaction() as db:
            return db.execute("DELETE FROM roots WHERE path = ?", (path,)).rowcount > 0

    def retry_failed_pages(self, document_id: int) -> int:
        """Put a document's failed pages back to pending; returns how many there were."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE pages SET status = 'pending', error = NULL"
                " WHERE document_id = ? AND status = 'failed'",
                (document_id,),
            )
            return cursor.rowcount

    def set_pages(self, document_id: int, pages: Sequence[PageInfo]) -> None:
        """Record a document's pages as pending (pages already recorded are kept, and given
        their label when they had none)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO pages (document_id, page_index, width_pt, height_pt, rotation, status, label)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (document_id, page_index)"
                " DO UPDATE SET label = coalesce(label, excluded.label)",
                [(document_id, p.index, p.width_pt, p.height_pt, p.rotation, p.label) for p in pages],
            )
            db.execute(
                "UPDATE documents SET page_count = ?, updated_at = ? WHERE id = ?",
                (len(pages), time.time(), document_id),
            )

    def set_document_status(
        self, document_id: int, status: str, error: str | None = None, details: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE documents SET status = ?, error = ?, error_details = ?, updated_at = ? WHERE id = ?",
                (status, error, details, time.time(), document_id),
            )

    def pages(self, document_id: int | None = None, status: str | None = None) -> list[PageRecord]:
        """Pages of one document (or all), optionally only those with ``status``, in page order."""
        clauses: list[str] = []
        args: list[object] = []
        if document_id is not None:
            clauses.append("document_id = ?")
            args.append(document_id)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        cell_rows, content = self.column("pages", "cell_rows"), self.column("pages", "content_sha256")
        label = self.column("pages", "label")
        rows = self.query(
            "SELECT id, document_id, page_index, width_pt, height_pt, rotation, status, error,"
            f" grid_x, grid_y, n_rows, segment, row_offset, {cell_rows}, {content}, {label}"
            f" FROM pages {where} ORDER BY document_id, page_index",
            args,
        )
        return [
            PageRecord(
                id=r[0],
                document_id=r[1],
                index=r[2],
                width_pt=r[3],
                height_pt=r[4],
                rotation=r[5],
                status=r[6],
                error=r[7],
                grid=(r[8], r[9]) if r[8] is not None else None,
                n_rows=r[10],
                segment=r[11],
                row_offset=r[12],
                cell_rows=r[13],
                content_sha256=r[14],
                label=r[15],
            )
            for r in rows
        ]

    def fail_page(self, page_id: int, error: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE pages SET status = 'failed', error = ? WHERE id = ?", (error, page_id))

    def reset_pages(self, document_id: int, *, keep_vectors: bool = False) -> None:
        """Forget a document's pages and mark it pending, keeping the document and its paths;
        ``keep_vectors``: see :meth:`keep_spare_vectors`, in the same transaction."""
        with self.transaction() as db:
            if keep_vectors:
                self.keep_spare_vectors(db, document_id)
            db.execute("DELETE FROM pages WHERE document_id = ?", (document_id,))
            db.execute(
                "UPDATE documents SET status = 'pending', error = NULL, error_details = NULL,"
                " page_count = NULL, updated_at = ? WHERE id = ?",
                (time.time(), document_id),
            )

    def remove_document(self, document_id: int, *, keep_vectors: bool = False) -> None:
        """Delete a document, its paths and its pages; ``keep_vectors``: see
        :meth:`keep_spare_vectors`, in the same transaction."""
        with self.transaction() as db:
            if keep_vectors:
                self.keep_spare_vectors(db, document_id)
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
