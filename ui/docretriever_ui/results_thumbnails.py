"""The result cards' page images: rendered with their highlights in the background, at the pixels
the cards need on this screen, kept for the query shown, and asked for again only when the cards
grow past what was rendered.

A card ``w`` × ``h`` logical pixels on a screen of pixel density ``r`` covers ``w·h·r²`` device
pixels: that is what is asked for (a 1× render stretched over a 2× screen looked blurry).
"""

from __future__ import annotations

import math

import shiboken6
from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QImage

from docretriever.library import Hit
from docretriever_ui.session import LibrarySession
from docretriever_ui.tasks import TaskError, TaskHandle

# A page is rendered again only when the card needs this many times the pixels it was drawn at.
RERENDER_FACTOR = 1.25

PageKey = tuple[str, int]  # (doc id, page): one page of one document


def page_key(hit: Hit) -> PageKey:
    return hit.doc_id, hit.page


def pixels_for(size: QSize, ratio: float) -> int:
    """The device pixels a thumbnail of ``size`` logical pixels covers at density ``ratio``."""
    return math.ceil(size.width() * size.height() * ratio * ratio)


class ThumbnailLoader(QObject):
    """Renders hits' pages (``session.render_hit``) and keeps the images of the current query.

    ``ready(key)`` says an image for ``key`` arrived (read it with :meth:`image`); ``failed(key,
    message)`` that it could not be drawn. :meth:`start` with another query forgets the images
    and drops the renders under way (their results are ignored)."""

    ready = Signal(object)  # PageKey
    failed = Signal(object, str)  # PageKey, the core's message (may name internal ids: not for display)

    def __init__(self, session: LibrarySession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._query: str | None = None
        self._images: dict[PageKey, tuple[QImage, int]] = {}  # image, pixels asked for
        self._renders: dict[PageKey, tuple[TaskHandle, int]] = {}

    def start(self, query: str | None) -> None:
        """Make ready for the results of ``query``; the same query keeps what was rendered."""
        if query == self._query:
            return
        self._query = query
        self.cancel()
        self._images.clear()

    def cancel(self) -> None:
        """Drop every render under way (a newer set of results no longer wants them)."""
        for handle, _ in self._renders.values():
            handle.cancel()
        self._renders.clear()

    def image(self, key: PageKey) -> QImage | None:
        entry = self._images.get(key)
        return entry[0] if entry is not None else None

    def request(self, hit: Hit, pixels: int) -> None:
        """Render ``hit``'s page at ``pixels`` unless an image (or a render under way) is close
        enough to that already."""
        key = page_key(hit)
        have = self._images.get(key, (None, 0))[1]
        asked = self._renders.get(key, (None, 0))[1]
        if max(have, asked) * RERENDER_FACTOR >= pixels:
            return
        if key in self._renders:
            self._renders.pop(key)[0].cancel()
        handles: list[TaskHandle] = []  # this render's own handle, once started

        def current() -> bool:
            # Not dropped by a newer query, nor replaced by a bigger render of the same page.
            if not shiboken6.isValid(self):
                return False  # the grid was closed while the page rendered
            entry = self._renders.get(key)
            return entry is not None and bool(handles) and entry[0] is handles[0]

        def done(image: QImage) -> None:
            if current():
                del self._renders[key]
                self._images[key] = (image, pixels)
                self.ready.emit(key)

        def fail(error: TaskError) -> None:
            if current():
                del self._renders[key]
                if not error.cancelled:
                    self.failed.emit(key, error.message)

        handles.append(self.session.render_hit(hit, pixels, on_done=done, on_error=fail))
        self._renders[key] = (handles[0], pixels)

    def pending(self) -> int:
        """How many renders are under way (for tests)."""
        return len(self._renders)
