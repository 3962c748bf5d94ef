"""How search results are ordered, grouped and described: plain functions, no widgets.

The search returns hits best first; that order is what the viewer walks with Left/Right and what
``ResultsGrid.hits`` keeps. The grid may *show* them in another order (by document name, by when
the document was added) or grouped by document; these functions compute that order as indices
into the hits, so every view maps back to the same hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from docretriever.library import Hit
from docretriever.library.hits import page_name

# A group shows its best pages up to this many; a "more" card reveals the rest.
GROUP_PREVIEW = 3


class SortOrder(Enum):
    """The orders offered above the results; the value is what the combo box says."""

    RELEVANCE = "Relevance"
    NAME = "Document name"
    DATE_ADDED = "Date added"


@dataclass
class Group:
    """One document's hits (indices into the hits, best first)."""

    doc_id: str
    name: str
    hits: list[int] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The header line: "GeoTopo-komprimiert.pdf — 5 pages"."""
        count = len(self.hits)
        return f"{self.name} — {count} page{'s' if count != 1 else ''}"


def document_name(hit: Hit) -> str:
    return Path(hit.path).name


def page_text(hit: Hit) -> str:
    """How a card names its page: "p. 95", or "p. 92 (95/117)" where the PDF prints 92 on it."""
    return page_name(hit)


def relevance(hit: Hit, best: float) -> float:
    """The hit's score as a share of the best score, in [0, 1]: what the card's bar shows. The
    raw MaxSim score depends on the query's length and means nothing to a person."""
    if best <= 0:
        return 1.0 if hit.score >= best else 0.0
    return min(1.0, max(0.0, hit.score / best))


def _name_key(hits: Sequence[Hit], index: int) -> tuple[str, str]:
    name = document_name(hits[index])
    return name.casefold(), name


def display_order(hits: Sequence[Hit], order: SortOrder, added_at: Mapping[str, float]) -> list[int]:
    """Indices into ``hits`` in the order a flat grid shows them."""
    indices = list(range(len(hits)))
    if order is SortOrder.NAME:
        # Within a document, pages in reading order: sorted by name, a person reads along.
        indices.sort(key=lambda i: (*_name_key(hits, i), hits[i].doc_id, hits[i].page))
    elif order is SortOrder.DATE_ADDED:
        indices.sort(key=lambda i: (-added_at.get(hits[i].doc_id, 0.0), *_name_key(hits, i), hits[i].page))
    return indices  # RELEVANCE: as found, best first


def group_hits(hits: Sequence[Hit], order: SortOrder, added_at: Mapping[str, float]) -> list[Group]:
    """The hits grouped by document, groups in ``order`` (by their best hit for relevance), each
    group's pages best first."""
    groups: dict[str, Group] = {}
    for index, hit in enumerate(hits):  # best first, so each group's first hit is its best
        group = groups.setdefault(hit.doc_id, Group(hit.doc_id, document_name(hit)))
        group.hits.append(index)
    ordered = list(groups.values())  # RELEVANCE: by each group's best hit
    if order is SortOrder.NAME:
        ordered.sort(key=lambda g: (g.name.casefold(), g.name, g.doc_id))
    elif order is SortOrder.DATE_ADDED:
        ordered.sort(key=lambda g: (-added_at.get(g.doc_id, 0.0), g.name.casefold(), g.doc_id))
    return ordered


def summary(
    shown: int, capped: bool, query: str = "", documents: int | None = None, indexed: bool = True
) -> str:
    """What the results are, in words. A search asks for a fixed number of pages, so when that
    many came back it is "the best 40", not "40 found": there are more behind them. With none,
    why: no documents, none indexed yet, or no page matches. ``documents`` is how many the
    library holds (None: not known yet) and ``indexed`` whether any of them is indexed."""
    if shown == 0:
        matches = f"No page matches “{query}”" if query else "No page matches"
        if documents == 0 or (documents is None and not indexed):
            return NO_PAGES_YET
        if not indexed:
            return f"{matches}: no document is indexed yet."
        return f"{matches}."
    about = f" for “{query}”" if query else ""
    if capped:
        return f"Best {shown} pages{about}"
    return f"{shown} page{'s' if shown != 1 else ''} found{about}"


def open_in_viewer_label(path: str) -> str:
    """What opening ``path`` outside the app is called: a PDF opens at its page in a PDF viewer,
    any other document (an image, an Office file) in the application the system gives its type."""
    return "Open in PDF viewer at this page" if path.lower().endswith(".pdf") else "Open in its application"


NO_PAGES_YET = "No indexed pages yet: drop documents on the window."
NO_DOCUMENTS_HINT = (
    "Drop documents (PDFs, images, Office files…) or folders anywhere on this window, then "
    "describe what a page shows "
    "in the search bar and press Enter."
)


def empty_hint(documents: int | None, searched: str | None, indexed_pages: bool = True) -> str:
    """The text an empty results area shows.

    ``documents`` is how many documents the library holds (None: not known yet, said as if
    empty); ``searched`` the query whose results are shown (None before any search)."""
    if not documents:
        return NO_DOCUMENTS_HINT
    count = f"{documents} document{'s' if documents != 1 else ''}"
    if searched is None:
        return f"Your library holds {count}. Describe what a page shows in the search bar and press Enter."
    if not indexed_pages:
        return f"No page matches “{searched}”: none of the {count} is indexed yet."
    return f"No page matches “{searched}”. Try describing the page in other words."
