"""The SQLite catalog: documents (keyed by the SHA-256 of their bytes), their paths, their pages.

Pages point into the vector store by (segment, row offset, row count). Every state change is one
transaction, so after a crash each page is either fully indexed (its vectors durable, its row
committed) or still pending.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from docretriever.documents.discover import UNDECODABLE_NAME, is_text_path, shown_path
from docretriever.documents.pdf import PageInfo
from docretriever.errors import InvalidInputError, LibraryError
from docretriever.storage import catalog_schema
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


class Catalog:
    """Thread-safe access to the catalog database at ``path``."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
            if "documents" not in tables:
                with self._db:
                    catalog_schema.create(self._db)
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"The library catalog {path} cannot be opened: {exc}.") from exc
        self._lock = threading.RLock()
        self._commits = 0
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise LibraryError("This library was written by a newer version of DocRetriever; update the app.")
        # An older catalog is migrated by its first write (see catalog_schema); reads until then
        # leave out the columns it lacks.
        self._refresh_layout()

    def _refresh_layout(self) -> None:
        with self._lock:
            self._current = catalog_schema.is_current(self._db)
            self._page_columns = catalog_schema.columns_of(self._db, "pages")
            self._path_columns = catalog_schema.columns_of(self._db, "paths")

    def _column(self, table: str, name: str, default: str = "NULL") -> str:
        """``name`` if the catalog has that column yet, else ``default`` in its place."""
        present = self._page_columns if table == "pages" else self._path_columns
        return name if name in present else default

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing. A write SQLite refuses (disk full, I/O error) raises
        :class:`LibraryError`, and nothing of the transaction is kept."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if not self._current:
                        catalog_schema.upgrade(self._db)
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                hint = " Free some disk space, then try again." if "full" in str(exc) else ""
                raise LibraryError(
                    f"The library catalog could not be written: {exc}.{hint}", details=repr(exc)
                ) from exc
            self._commits += 1
            if not self._current:
                self._refresh_layout()

    def version(self) -> tuple[int, int]:
        """Changes whenever the catalog does: this connection's commits, and SQLite's
        data_version, which moves when another connection (another process) commits."""
        with self._lock:
            return self._commits, int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def document(self, document_id: int) -> DocumentRecord:
        found = self._documents("WHERE d.id = ?", (document_id,))
        if not found:
            raise LibraryError(f"Document {document_id} is no longer in the library.")
        return found[0]

    def documents(self) -> list[DocumentRecord]:
        return self._documents("", ())

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
        since = self._column("paths", "missing_since")
        unavailable = self._column("paths", "unavailable", "0")
        rows = self._query(
            "SELECT d.id, d.sha256, d.size, d.page_count, d.status, d.error, d.error_details,"
            " d.added_at, (SELECT group_concat(path, char(0)) FROM"
            "  (SELECT path FROM paths WHERE document_id = d.id ORDER BY path)),"
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
        rows = self._query(
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
        return bool(self._query("SELECT 1 FROM paths WHERE document_id = ? LIMIT 1", (document_id,)))

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
        since = self._column("paths", "missing_since")
        rows = self._query(
            f"SELECT path FROM paths WHERE document_id = ? AND {since} IS NOT NULL ORDER BY path",
            (document_id,),
        )
        return [str(row[0]) for row in rows]

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
        if "roots" not in {r[0] for r in self._query("SELECT name FROM sqlite_master")}:
            return []  # a catalog from before roots were remembered, not migrated yet
        return [
            (str(path), volume)
            for path, volume in self._query("SELECT path, volume FROM roots ORDER BY path")
        ]

    def remove_root(self, path: str) -> bool:
        """Stop following a folder; True if it was followed."""
        if not self.roots():
            return False
        with self.transaction() as db:
            return db.execute("DELETE FROM roots WHERE path = ?", (path,)).rowcount > 0

    def record_model(self, values: dict[str, str]) -> None:
        """Store the model's identity unless one is already recorded (first writer wins)."""
        if self.get_meta("model_fingerprint") is not None:
            return  # a reader opening the library during an ingest must not wait to write
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'model_fingerprint'").fetchone() is None:
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))

    def replace_meta(self, key: str, old: str, new: str) -> bool:
        """Set ``key`` to ``new`` if it still holds ``old``, in one small transaction; True if it
        did. Compare-and-set, so that two processes migrating the same value agree."""
        with self.transaction() as db:
            cursor = db.execute("UPDATE meta SET value = ? WHERE key = ? AND value = ?", (new, key, old))
            return cursor.rowcount > 0

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
        """Record a document's pages as pending (pages already recorded are kept)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO pages (document_id, page_index, width_pt, height_pt,"
                " rotation, status) VALUES (?, ?, ?, ?, ?, 'pending')",
                [(document_id, p.index, p.width_pt, p.height_pt, p.rotation) for p in pages],
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
        cell_rows, content = self._column("pages", "cell_rows"), self._column("pages", "content_sha256")
        rows = self._query(
            "SELECT id, document_id, page_index, width_pt, height_pt, rotation, status, error,"
            f" grid_x, grid_y, n_rows, segment, row_offset, {cell_rows}, {content} FROM pages {where}"
            " ORDER BY document_id, page_index",
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
            )
            for r in rows
        ]

    def store_pages(
        self, stored: Sequence[tuple[int, tuple[int, int], int, int, int, str, bytes | None]]
    ) -> None:
        """Mark pages indexed: (page_id, (n_x, n_y), n_rows, segment, row_offset, renderer,
        cell_rows), ``cell_rows`` None for pages that are not token-pooled."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE pages SET status = 'indexed', error = NULL, grid_x = ?, grid_y = ?,"
                " n_rows = ?, segment = ?, row_offset = ?, renderer = ?, cell_rows = ? WHERE id = ?",
                [(g[0], g[1], n, seg, off, rend, cells, pid) for pid, g, n, seg, off, rend, cells in stored],
            )

    def fail_page(self, page_id: int, error: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE pages SET status = 'failed', error = ? WHERE id = ?", (error, page_id))

    def reset_pages(self, document_id: int) -> None:
        """Forget a document's pages and mark it pending, keeping the document and its paths."""
        with self.transaction() as db:
            db.execute("DELETE FROM pages WHERE document_id = ?", (document_id,))
            db.execute(
                "UPDATE documents SET status = 'pending', error = NULL, error_details = NULL,"
                " page_count = NULL, updated_at = ? WHERE id = ?",
                (time.time(), document_id),
            )

    def remove_document(self, document_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))

    def counts(self) -> dict[str, int]:
        """Numbers of documents and pages by status, keyed like "documents_indexed"."""
        counts: dict[str, int] = {}
        for table in ("documents", "pages"):
            for status, number in self._query(f"SELECT status, count(*) FROM {table} GROUP BY status"):
                counts[f"{table}_{status}"] = number
        return counts

    def close(self) -> None:
        with self._lock:
            self._db.close()
