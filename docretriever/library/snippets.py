"""Text snippets for hits: the words of a page's own text layer under the hit's best region.

Every back end gets them the same way (:class:`SnippetReading`, a base of
:class:`~docretriever.library.embedding_library.EmbeddingLibrary`): the words are read in the render worker
processes (MuPDF parses the page there, never in the app's process), kept per page for the
next search, and chosen with :func:`~docretriever.highlight.snippet.snippet_of`.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from docretriever.documents.passwords import PasswordStore
from docretriever.documents.pdf import PageInfo
from docretriever.documents.render_pool import RenderPool
from docretriever.documents.words import WordList
from docretriever.errors import DocRetrieverError, EncryptedDocumentError, WrongPasswordError
from docretriever.highlight.snippet import SNIPPET_CHARS, snippet_of
from docretriever.library.hits import Hit
from docretriever.vocabulary import Document

log = logging.getLogger(__name__)

# Pages whose words are kept: a few searches' worth of hits (a page's words are a few kB).
CACHED_PAGES = 256

# A page of a file as it is now: path, page index, the file's size and modification time (a
# file changed since is read again).
PageKey = tuple[str, int, int, int]


def _key(hit: Hit) -> PageKey | None:
    """The page's key, or None when its file cannot be read now."""
    try:
        stat = os.stat(hit.path)
    except OSError:
        return None
    return (hit.path, hit.page - 1, stat.st_size, stat.st_mtime_ns)


def _page_info(hit: Hit) -> PageInfo:
    """The page as the hit recorded it (its words must lie on that page, in that frame)."""
    return PageInfo(hit.page - 1, hit.page_size[0], hit.page_size[1], hit.rotation, hit.page_label)


class SnippetReading(ABC):
    """What gives a library :meth:`snippets`: its render workers, its passwords, and a way to
    find a hit's document (for its password)."""

    passwords: PasswordStore

    @property
    @abstractmethod
    def renderer(self) -> RenderPool:
        """The worker processes that open PDFs."""

    @abstractmethod
    def find_document(self, reference: str) -> Document:
        """The one document ``reference`` (a doc id) names."""

    def snippets(self, hits: Sequence[Hit], max_chars: int = SNIPPET_CHARS) -> list[str | None]:
        """For each hit, the words of its page's own text layer under its best region (the first
        of :meth:`Hit.regions`), in reading order, joined with spaces and cut at a word boundary
        to ``max_chars`` characters with an ellipsis; one line, no control characters.

        None for a hit whose page has no text layer (a scan: no OCR is ever run), no word under
        its best region, no region, or whose file is not reachable now; also when its words
        could not be read (a damaged page, a file that needs a password the library does not
        know, a file changed since it was indexed): that is logged, never raised. A PDF that
        needs a password is opened with the one the library knows for it, as rendering does.
        A page's words are kept (per file version) for later searches."""
        boxes: list[tuple[float, float, float, float] | None] = []
        keys: list[PageKey | None] = []
        for hit in hits:
            regions = [] if hit.missing else hit.regions(max_regions=1)
            key = _key(hit) if regions else None
            boxes.append((regions[0].x0, regions[0].y0, regions[0].x1, regions[0].y1) if regions else None)
            keys.append(key)
        words = self._page_words(hits, keys)
        snippets: list[str | None] = []
        for box, key in zip(boxes, keys, strict=True):
            page_words = None if key is None else words.get(key)
            snippets.append(
                None if box is None or page_words is None else snippet_of(page_words, box, max_chars)
            )
        return snippets

    def snippet(self, hit: Hit, max_chars: int = SNIPPET_CHARS) -> str | None:
        """:meth:`snippets` of one hit."""
        return self.snippets([hit], max_chars)[0]

    def _word_cache(self) -> tuple[threading.Lock, OrderedDict[PageKey, WordList | None]]:
        cache: tuple[threading.Lock, OrderedDict[PageKey, WordList | None]] | None
        cache = self.__dict__.get("_snippet_words")
        if cache is None:
            cache = self.__dict__.setdefault("_snippet_words", (threading.Lock(), OrderedDict()))
        return cache

    def _page_words(
        self, hits: Sequence[Hit], keys: Sequence[PageKey | None]
    ) -> dict[PageKey, WordList | None]:
        """The words of each hit's page with a key (None: they could not be read), from the
        cache or read now, the pages of a document one after another."""
        lock, cache = self._word_cache()
        found: dict[PageKey, WordList | None] = {}
        wanted: dict[PageKey, Hit] = {}
        with lock:
            for hit, key in zip(hits, keys, strict=True):
                if key is None:
                    continue
                if key in cache:
                    cache.move_to_end(key)
                    found[key] = cache[key]
                else:
                    wanted.setdefault(key, hit)
        if not wanted:
            return found
        read = self._read_words(sorted(wanted.items()))
        with lock:
            for key, (words, lasting) in read.items():
                found[key] = words
                if lasting:
                    cache[key] = words
            while len(cache) > CACHED_PAGES:
                cache.popitem(last=False)
        return found

    def _read_words(
        self, pages: Sequence[tuple[PageKey, Hit]]
    ) -> dict[PageKey, tuple[WordList | None, bool]]:
        """Read ``pages``' words in the workers: for each, the words or None (the reason logged),
        and whether that outcome lasts as long as the file (not so a missing password). A file
        that needs a password is read again with the one the library knows for it (looked up
        only then: the keyring may be slow)."""
        results: dict[PageKey, tuple[WordList | None, bool]] = {}
        try:
            replies = self.renderer.words([(Path(hit.path), _page_info(hit), None) for _, hit in pages])
            locked: list[tuple[PageKey, Hit, str]] = []
            for (key, hit), reply in zip(pages, replies, strict=True):
                if isinstance(reply, EncryptedDocumentError) and not isinstance(reply, WrongPasswordError):
                    password = self.passwords.get(self.find_document(hit.doc_id).sha256)
                    if password is not None:
                        locked.append((key, hit, password))
                        continue
                results[key] = _outcome(hit, reply)
            if locked:
                requests = [(Path(hit.path), _page_info(hit), password) for _, hit, password in locked]
                for (key, hit, _), reply in zip(locked, self.renderer.words(requests), strict=True):
                    results[key] = _outcome(hit, reply)
        except (DocRetrieverError, OSError) as exc:  # the workers could not start, the document is gone
            log.info("no snippets: %s", exc)
        return results


def _outcome(hit: Hit, reply: WordList | DocRetrieverError) -> tuple[WordList | None, bool]:
    """A page's words, or None (logged) for an error; and whether it lasts as long as the file
    does: the words, or an error that will not change (not a password that may be given later)."""
    if isinstance(reply, DocRetrieverError):
        log.info("no snippet for page %d of %s: %s", hit.page, Path(hit.path).name, reply)
        return None, not isinstance(reply, EncryptedDocumentError)
    return reply, True
