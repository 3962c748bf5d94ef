"""The catalog's SQLite connection: one per library object, shared by its threads, with
all-or-nothing transactions that bring an older catalog up to date on its first write."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from docretriever.errors import LibraryError
from docretriever.storage import catalog_schema
from docretriever.storage.catalog_schema import SCHEMA_VERSION


class CatalogConnection:
    """Thread-safe access to the catalog database at ``path``: transactions, reads, the meta
    table. :class:`~docretriever.storage.catalog.Catalog` adds what the tables mean."""

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
            self.is_current = catalog_schema.is_current(self._db)
            self._page_columns = catalog_schema.columns_of(self._db, "pages")
            self._path_columns = catalog_schema.columns_of(self._db, "paths")

    def column(self, table: str, name: str, default: str = "NULL") -> str:
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
                    if not self.is_current:
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
            if not self.is_current:
                self._refresh_layout()

    def version(self) -> tuple[int, int]:
        """Changes whenever the catalog does: this connection's commits, and SQLite's
        data_version, which moves when another connection (another process) commits."""
        with self._lock:
            return self._commits, int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

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

    def counts(self) -> dict[str, int]:
        """Numbers of documents and pages by status, keyed like "documents_indexed"."""
        counts: dict[str, int] = {}
        for table in ("documents", "pages"):
            for status, number in self.query(f"SELECT status, count(*) FROM {table} GROUP BY status"):
                counts[f"{table}_{status}"] = number
        return counts

    def close(self) -> None:
        with self._lock:
            self._db.close()
