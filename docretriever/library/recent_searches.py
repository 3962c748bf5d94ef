"""The person's recent searches, kept in the library folder so that ``docretriever bench`` and
the library's own recall watch (:mod:`~docretriever.library.local.recall_watch`) can measure the fast
search path on real queries instead of pseudo-queries sampled from the pages.

Every text query searched through :meth:`LocalLibrary.search` (the CLI's ``search`` and
``shell``, the desktop app) is remembered, unless the person turned that off (``docretriever
searches --off``, or the app's Preferences); turning it off also forgets what was kept. The
file, ``recent_searches.json``, holds at most :data:`LIMIT` distinct queries (the same words in
another case count as one), newest first, and a running count of the searches remembered, so
that the recall watch can tell how many are new since it last looked. It is rewritten whole
(a temporary file, then renamed over it): a crash leaves the old or the new one, never a mix.
Turning remembering on or off, and forgetting, flush the file to disk first; a search does not
(it would cost a few milliseconds each), so a power cut may lose the newest searches or leave
an empty file, never an opt-out: a library that does not remember never rewrites the file.
A file that cannot be read is taken as empty, with remembering on; one that cannot be written
(read-only storage) changes nothing, and no search fails because of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from docretriever.errors import LibraryError, describe_os_error

FILE_NAME = "recent_searches.json"
LIMIT = 200
_VERSION = 1
_TEMPORARY_PREFIX = ".recent_searches-"
# Reader threads of one process search at once: each read-modify-write is whole.
_lock = threading.Lock()


@dataclass(frozen=True)
class SearchHistory:
    """What the file holds: ``remembering`` (False once the person opted out), ``queries``
    (newest first, at most :data:`LIMIT`) and ``total`` (searches remembered ever, counting
    repeats: it only grows, until :meth:`RecentSearches.forget`)."""

    remembering: bool = True
    queries: tuple[str, ...] = ()
    total: int = 0


class RecentSearches:
    """The recent searches of the library in ``folder`` (a local library's folder)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / FILE_NAME

    def read(self) -> SearchHistory:
        """The history as stored; an absent or unreadable file gives an empty one."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return SearchHistory()
        if not isinstance(data, dict):
            return SearchHistory()
        queries = data.get("queries")
        total = data.get("total")
        return SearchHistory(
            remembering=data.get("remember") is not False,
            queries=tuple(q for q in queries if isinstance(q, str))[:LIMIT]
            if isinstance(queries, list)
            else (),
            total=total if isinstance(total, int) and total >= 0 else 0,
        )

    @property
    def remembering(self) -> bool:
        return self.read().remembering

    def queries(self, count: int | None = None) -> list[str]:
        """The ``count`` newest queries (all when None), newest first."""
        queries = list(self.read().queries)
        return queries if count is None else queries[:count]

    def remember(self, query: str) -> bool:
        """Put ``query`` first (once: an earlier same query, in any case, is dropped), unless
        remembering is off or the query is blank. Returns whether it was stored. Never raises:
        a history that cannot be written is not a reason for a search to fail."""
        query = " ".join(query.split())
        if not query:
            return False
        with _lock:
            history = self.read()
            if not history.remembering:
                return False
            folded = query.casefold()
            kept = [q for q in history.queries if q.casefold() != folded]
            try:
                # Not flushed to disk (a few ms a search): a crash may lose the newest searches,
                # never the opt-out, as a library that does not remember never writes here.
                self._write(
                    SearchHistory(True, (query, *kept[: LIMIT - 1]), history.total + 1), durable=False
                )
            except LibraryError:
                return False
            return True

    def set_remembering(self, on: bool) -> None:
        """Turn remembering on or off; off also forgets every query kept. Raises LibraryError
        when the file cannot be written."""
        with _lock:
            history = self.read()
            if on:
                self._write(SearchHistory(True, history.queries, history.total))
            else:
                self._write(SearchHistory(False, (), 0))

    def forget(self) -> int:
        """Forget the queries kept (remembering stays as it was); returns how many there were.
        Raises LibraryError when the file cannot be written."""
        with _lock:
            history = self.read()
            self._write(SearchHistory(history.remembering, (), 0))
            return len(history.queries)

    def _write(self, history: SearchHistory, *, durable: bool = True) -> None:
        data = {
            "version": _VERSION,
            "remember": history.remembering,
            "total": history.total,
            "queries": list(history.queries),
        }
        write_atomically(
            self.path, json.dumps(data, ensure_ascii=False, indent=1), _TEMPORARY_PREFIX, durable
        )


def write_atomically(path: Path, text: str, temporary_prefix: str, durable: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, flushed to disk
    (unless not ``durable``) and renamed over it, so that a crash or a full disk leaves the old
    file or the new one. The folder is created if missing. Raises LibraryError (with the
    system's reason)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=temporary_prefix, dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise LibraryError(f"Could not write {path}: {describe_os_error(exc)}.", details=repr(exc)) from exc
