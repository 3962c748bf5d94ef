""" "More like this page" in the app: a result card's menu and the preview pane ask for the pages
like a page; the results pane then shows them under a header that names that page ("Best 40
pages like report.pdf, page 4") instead of a query. The search runs off the UI thread on the
session's reader pool, as a search in words does (``LibrarySession.search`` with ``like``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from docretriever.library import Hit, Library
from docretriever.library.hits import page_name_of
from docretriever_ui.tasks import TaskError

# What a results pane asks the library for: (doc id, 1-based page) for the pages like that page.
LikePage = tuple[str, int]
# Pages a "more like this" search shows at first (as many as a search in words; "Show more" adds).
LIKE_RESULTS = 40


def search_or_like(
    library: Library, query: str, k: int, within: Collection[str] | None, like: LikePage | None
) -> list[Hit]:
    """The library call behind a results pane's search: ``query`` in words, or, with ``like``,
    the pages like that page (then ``query`` only names it for people). Runs on a reader thread."""
    if like is None:
        return library.search(query, k, within=within)
    return library.search_like(like[0], like[1], k, within=within)


def like_title(path: str, page: int, label: str | None = None, page_count: int | None = None) -> str:
    """How the page a "more like this" search starts from is named: "report.pdf, page 4"."""
    return f"{Path(path).name or path}, {page_name_of(page, label, page_count, 'page')}"


def like_summary(shown: int, capped: bool, title: str) -> str:
    """The results header of a "more like this" search, ``title`` naming its page (see
    :func:`like_title`): "Best 40 pages like report.pdf, page 4", "3 pages like …"."""
    if shown == 0:
        return f"No other indexed page to compare with {title}."
    if capped:
        return f"Best {shown} pages like {title}"
    return f"{shown} page{'s' if shown != 1 else ''} like {title}"


class MoreLikeThis:
    """Runs "more like this page" for the main window: ``search(title, k, on_done, on_error,
    within=..., like=...)`` is the results pane's search, ``within()`` the scope searches keep
    to, ``status(text)`` shows a line in the status bar (an empty text clears it), and
    ``started()``, when given, is told a search began (the search box is emptied: the words
    left in it are not what the results answer)."""

    def __init__(
        self,
        search: Callable[..., object],
        within: Callable[[], Collection[str] | None],
        show_results: Callable[[list[Hit]], None],
        show_error: Callable[[TaskError], None],
        status: Callable[[str], None],
        k: int = LIKE_RESULTS,
        started: Callable[[], None] | None = None,
    ) -> None:
        self._search, self._within, self._status, self._started = search, within, status, started
        self._show_results, self._show_error, self.k = show_results, show_error, k

    def find(self, doc_id: str, page: int, title: str) -> None:
        """Show the pages like page ``page`` (1-based) of document ``doc_id``, ``title`` naming
        it (see :func:`like_title`)."""
        self._status(f"Finding pages like {title}…")
        if self._started is not None:
            self._started()

        def failed(error: TaskError) -> None:
            self._status("")
            self._show_error(error)

        self._search(title, self.k, self._show_results, failed, within=self._within(), like=(doc_id, page))

    def find_like_hit(self, hit: Hit) -> None:
        """:meth:`find` for the page a result shows."""
        self.find(hit.doc_id, hit.page, like_title(hit.path, hit.page, hit.page_label, hit.page_count))
