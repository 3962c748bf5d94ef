"""The catalog's tables, and how an older catalog is brought up to date.

A catalog is migrated by its first write, never by opening it: a reader (a search, another
process) must never wait to write, nor fail on read-only storage. Until then, reads see the
older layout and the columns it lacks read as empty.
"""

from __future__ import annotations

import sqlite3

# 2: pages.cell_rows, for token-pooled pages.
# 3: paths.missing_since and paths.unavailable (files kept when they go missing), roots (the
#    folders a sync walks), excluded (what the user removed from them), pages.content_sha256
#    and spare_vectors (vectors reused for unchanged pages), pages.label (the number printed
#    on the page).
SCHEMA_VERSION = 3

_TABLES_V2 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    page_count INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'failed')),
    error TEXT,
    error_details TEXT,
    added_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS paths_by_document ON paths (document_id);
CREATE TABLE IF NOT EXISTS pages (
    -- AUTOINCREMENT: ids are never reused, so an index entry can never name another page.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    page_index INTEGER NOT NULL,
    width_pt REAL NOT NULL,
    height_pt REAL NOT NULL,
    rotation INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'failed')),
    error TEXT,
    grid_x INTEGER,
    grid_y INTEGER,
    n_rows INTEGER,
    segment INTEGER,
    row_offset INTEGER,
    renderer TEXT,
    cell_rows BLOB,
    UNIQUE (document_id, page_index)
);
CREATE INDEX IF NOT EXISTS pages_by_status ON pages (status);
"""

# Each step is idempotent: a catalog that some earlier build half-migrated still ends up whole.
_COLUMNS_V3 = {
    "paths": [("missing_since", "REAL"), ("unavailable", "INTEGER NOT NULL DEFAULT 0")],
    "pages": [("cell_rows", "BLOB"), ("content_sha256", "TEXT"), ("label", "TEXT")],
}
_TABLES_V3 = """
CREATE TABLE IF NOT EXISTS roots (
    path TEXT PRIMARY KEY,
    -- The mount point the folder was on when it was added: unmounted since means unavailable.
    volume TEXT,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_by_content ON pages (content_sha256);
CREATE TABLE IF NOT EXISTS excluded (
    -- Files (or folders) the user removed from inside a followed folder: a sync leaves them out.
    path TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS spare_vectors (
    -- Vectors of pages that left the library (their file changed or was removed), kept until
    -- the next compaction so that the same page coming back is not embedded again.
    content_sha256 TEXT PRIMARY KEY,
    grid_x INTEGER NOT NULL,
    grid_y INTEGER NOT NULL,
    n_rows INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    row_offset INTEGER NOT NULL,
    renderer TEXT,
    cell_rows BLOB
);
"""


def create(db: sqlite3.Connection) -> None:
    """Create the tables of a new catalog, at the current version."""
    db.executescript(_TABLES_V2)
    upgrade(db)


def is_current(db: sqlite3.Connection) -> bool:
    """Whether the catalog already has every column and table of this version."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"roots", "spare_vectors", "excluded"} <= tables:
        return False
    return all(
        {name for name, _ in columns} <= columns_of(db, table) for table, columns in _COLUMNS_V3.items()
    )


def columns_of(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def upgrade(db: sqlite3.Connection) -> None:
    """Add what this version has and the catalog lacks; the caller holds a write transaction
    (or is creating the catalog)."""
    for table, columns in _COLUMNS_V3.items():
        present = columns_of(db, table)
        for name, kind in columns:
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    for statement in _TABLES_V3.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
