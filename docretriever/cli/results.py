"""How ``search`` (and ``shell``) print hits: lines or JSON, and pages drawn with their highlights."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from docretriever.errors import DocRetrieverError, InvalidInputError
from docretriever.highlight import draw_highlights
from docretriever.highlight.snippet import shorten
from docretriever.library import Hit, Library
from docretriever.library.hits import page_name

# Pages written by --highlight-dir: about 150 dpi for a Letter page.
HIGHLIGHT_PIXELS = 1275 * 1650
# A hit's snippet is printed on a line of its own under it, indented past the rank and score.
SNIPPET_COLUMNS = 100
SNIPPET_INDENT = " " * 5


def print_hits(library: Library, hits: list[Hit], args: argparse.Namespace) -> int:
    """Print ``hits`` as ``search`` does (``args.json``, ``args.highlight_dir``); ``shell`` too."""
    images: dict[int, str] = {}
    if args.highlight_dir:
        images = _write_highlights(library, hits, Path(args.highlight_dir))
    # The page's own text under each hit's best region (None: no text layer, or no file here).
    snippets = library.snippets(hits)
    if args.json:
        # Every path of each hit's document (the same bytes under several names), not only the one shown.
        paths = {document.doc_id: document.paths for document in library.documents()} if hits else {}
        rows = []
        for hit, snippet in zip(hits, snippets, strict=True):
            row = hit.as_dict(paths.get(hit.doc_id))
            row["snippet"] = snippet
            if hit.rank in images:
                row["image"] = images[hit.rank]
            rows.append(row)
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not hits and getattr(args, "within", None):
        print("No indexed page in the documents searched in.")
    elif not hits:
        print("No indexed pages yet: add PDFs with `docretriever add PATH`.")
    # A snippet's line fits the terminal (or ~100 columns when the output is not one).
    width = min(shutil.get_terminal_size((SNIPPET_COLUMNS + 1, 24)).columns - 1, SNIPPET_COLUMNS)
    for hit, snippet in zip(hits, snippets, strict=True):
        # "p. 92 (95/117)": the number printed on the page, then where it is in the file.
        line = f"{hit.rank:>3}. {hit.score:8.3f}  {Path(hit.path).name}  {page_name(hit)}  [{hit.doc_id}]"
        if hit.unavailable:
            line += f"  (not available: its drive or share is not connected; last seen at {hit.path})"
        elif hit.missing:
            line += f"  (file missing; last seen at {hit.path})"
        if hit.rank in images:
            line += f"  -> {images[hit.rank]}"
        print(line)
        if snippet:
            print(SNIPPET_INDENT + shorten(snippet, max(20, width - len(SNIPPET_INDENT))))
    return 0


def _write_highlights(library: Library, hits: list[Hit], folder: Path) -> dict[int, str]:
    """Render each hit's page with its matches drawn; a page that fails is reported, not fatal."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"Cannot create {folder}: {exc.strerror}.") from exc
    written: dict[int, str] = {}
    for hit in hits:
        stem = re.sub(r"[^\w.-]+", "_", Path(hit.path).stem)[:60]
        target = folder / f"{hit.rank:02d}-{stem}-p{hit.page}.png"
        try:
            page = library.render_page(hit.doc_id, hit.page, HIGHLIGHT_PIXELS)
            drawn = draw_highlights(page.image, hit.heat(), hit.regions(), hit.page_size)
            drawn.save(target)
        except (DocRetrieverError, OSError) as exc:
            print(f"could not draw hit {hit.rank}: {exc}", file=sys.stderr)
            continue
        written[hit.rank] = str(target)
    return written
