"""Ingest a folder into a library, and SIGKILL this process at a planned moment.

    python ingest_until_killed.py LIBRARY FOLDER CALL_LOG [POINT NTH DELAY_S]

LIBRARY is a folder (a local library) or a ``qdrant+local://`` location. POINT is where the
clock starts: ``commit`` (the NTH SQLite COMMIT), ``vectors`` (the NTH durable vector write),
``index-save`` (the NTH save of the search index), ``upload`` (the NTH upload of pages to
Qdrant), ``document`` (the NTH write of a document to Qdrant) or ``start`` (the add itself);
the process is killed DELAY_S seconds later, so the kill lands inside that operation or soon
after it, wherever the ingest then is. Without a plan the ingest runs to the end. Exit 0 means
it finished.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from pixel_embedder import PixelEmbedder  # beside this script, so on its path

from docretriever.library import open_library
from docretriever.library.local import LocalLibrary, sink
from docretriever.library.qdrant.store import QdrantStore
from docretriever.search.candidates import CandidateIndex
from docretriever.storage.vectors import VectorStore


def kill_after(delay: float) -> None:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()


class _Trigger:
    def __init__(self, nth: int, delay: float) -> None:
        self.left, self.delay = nth, delay

    def tick(self) -> None:
        self.left -= 1
        if self.left == 0:
            kill_after(self.delay)


class _CommitWatcher:
    """Stands in for the catalog's sqlite3 connection; starts the clock at the NTH COMMIT."""

    def __init__(self, connection: Any, trigger: _Trigger) -> None:
        self._connection, self._trigger = connection, trigger

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.strip().upper() == "COMMIT":
            self._trigger.tick()
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def watch_method(cls: type, name: str, trigger: _Trigger) -> None:
    real = getattr(cls, name)

    def watched(self: Any, *args: Any, **kwargs: Any) -> Any:
        trigger.tick()
        return real(self, *args, **kwargs)

    setattr(cls, name, watched)


def main() -> None:
    location, folder, log = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    sink.SAVE_EVERY_PAGES = 2  # many index saves, so kills land in them too
    library = open_library(location, embedder=PixelEmbedder(log))
    if len(sys.argv) > 4:
        point, trigger = sys.argv[4], _Trigger(int(sys.argv[5]), float(sys.argv[6]))
        if point == "commit":
            assert isinstance(library, LocalLibrary)
            library.catalog._db = _CommitWatcher(library.catalog._db, trigger)  # type: ignore[assignment]
        elif point == "vectors":
            watch_method(VectorStore, "append_batch", trigger)
        elif point == "index-save":
            watch_method(CandidateIndex, "save", trigger)
        elif point == "upload":
            watch_method(QdrantStore, "put_pages", trigger)
        elif point == "document":
            watch_method(QdrantStore, "put_document", trigger)
        else:
            trigger.tick()
    library.add([folder])
    library.close()


if __name__ == "__main__":
    main()
