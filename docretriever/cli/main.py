"""Argument parsing, error handling and Ctrl-C for the ``docretriever`` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType

from docretriever import __version__
from docretriever.embedding import model_geometry
from docretriever.errors import Cancelled, DocRetrieverError
from docretriever.library.watching.debounce import SETTLE_S
from docretriever.progress import CancelToken

EXIT_ERROR = 1
EXIT_CANCELLED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docretriever",
        description="Find the right page in your documents (PDFs, scans and photos, e-books, Office "
        "files) by looking at the pages (ColQwen2).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Global options are accepted before or after the command: the subcommands repeat them
    # with suppressed defaults so that a value given before the command is not overwritten.
    _add_global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", parents=[common], help="index documents and folders of them")
    add.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files or folders (recursive): PDF, PNG, JPEG, TIFF, WebP, BMP, XPS, EPUB, CBZ, SVG, FB2, "
        "MOBI, and Office files (DOCX, PPTX, XLSX, ODT, ODP, ODS, DOC, PPT, XLS, RTF) when LibreOffice "
        "is installed",
    )
    add.add_argument(
        "--token-pooling",
        type=int,
        choices=[1, 2, 3, 4],
        metavar="FACTOR",
        help="for a new library: keep about 1/FACTOR of each page's vectors (colpali-engine "
        "reports 97.8%% of retrieval quality kept at 3); recorded in the library (default: none)",
    )
    add.add_argument(
        "--password-prompt",
        action="store_true",
        help="ask on the terminal for the password of each PDF that needs one to open (Enter skips it)",
    )

    commands.add_parser(
        "sync",
        parents=[common],
        help="walk the added folders again: index new and changed files, find moved ones, mark missing ones",
    )

    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="watch the added folders until Ctrl-C: index new and changed files once written, "
        "find moved ones, mark deleted ones missing",
    )
    watch.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        metavar="SECONDS",
        help=f"how long a file must be left unchanged before it is indexed (default {SETTLE_S:g})",
    )

    search = commands.add_parser("search", parents=[common], help="find the pages that match a query")
    search.add_argument("query", nargs="?", help="what to look for, in words (not with --like)")
    search.add_argument(
        "--like",
        metavar="DOC:PAGE",
        help="find the pages most like this page instead: a doc id (or a file's path), a colon, "
        "the page number from 1 (the page itself is left out)",
    )
    search.add_argument("-k", type=int, default=10, metavar="N", help="number of results (default 10)")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    search.add_argument("--exact", action="store_true", help="score every page (slower, exhaustive)")
    search.add_argument(
        "--in",
        dest="within",
        action="append",
        metavar="PATH_OR_DOC",
        help="search only this document (a file or doc id) or the documents under this folder; repeatable",
    )
    search.add_argument(
        "--highlight-dir", metavar="DIR", help="write each hit's page as a PNG with the matches drawn"
    )

    prune = commands.add_parser(
        "prune", parents=[common], help="forget the documents whose files are missing (asks first)"
    )
    prune.add_argument("--yes", action="store_true", help="do not ask: forget them")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be forgotten")

    commands.add_parser(
        "compact", parents=[common], help="reclaim the disk space of removed documents' vectors"
    )

    shell = commands.add_parser(
        "shell", parents=[common], help="search many times with the model loaded once (type queries)"
    )
    shell.add_argument("-k", type=int, default=10, metavar="N", help="number of results (default 10)")

    listing = commands.add_parser("list", parents=[common], help="list the documents in the library")
    listing.add_argument("--json", action="store_true", help="print the documents as JSON")

    remove = commands.add_parser("remove", parents=[common], help="remove a document from the library")
    remove.add_argument(
        "document",
        metavar="DOC",
        help="doc id (or its first characters): the document, every path of it; a file's path: that path "
        "only (a copy elsewhere stays); or a folder: all in it",
    )
    remove.add_argument("--yes", action="store_true", help="remove a folder's documents without asking")

    bench = commands.add_parser(
        "bench", parents=[common], help="measure what the fast search path costs this library"
    )
    bench.add_argument(
        "queries",
        nargs="*",
        metavar="QUERY",
        help="queries to try (default: your recent searches, else pseudo-queries sampled from the pages)",
    )
    bench.add_argument(
        "--queries", dest="query_file", metavar="FILE", help="a text file of queries to try, one a line"
    )
    bench.add_argument(
        "-n", type=int, default=20, metavar="N", help="recent searches or sampled queries when none are given"
    )
    bench.add_argument("-k", type=int, default=10, metavar="K", help="results compared per query")

    searches = commands.add_parser(
        "searches",
        parents=[common],
        help="the recent searches this library remembers (for bench and its recall watch): "
        "show, forget, or stop remembering them",
    )
    choice = searches.add_mutually_exclusive_group()
    choice.add_argument("--list", action="store_true", help="print them, newest first")
    choice.add_argument("--forget", action="store_true", help="forget those remembered so far")
    choice.add_argument("--off", action="store_true", help="stop remembering searches (and forget them)")
    choice.add_argument("--on", action="store_true", help="remember searches again (the default)")

    export = commands.add_parser(
        "export", parents=[common], help="copy this local library to a Qdrant library, without re-embedding"
    )
    export.add_argument("--to", required=True, metavar="URL", help="qdrant://host:port/collection")
    imports = commands.add_parser(
        "import", parents=[common], help="copy a Qdrant library into this local library, without re-embedding"
    )
    imports.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="qdrant://host:port/collection"
    )

    download = commands.add_parser(
        "download",
        parents=[common],
        help="get the model (--model) onto this computer: what it takes, then the download",
    )
    download.add_argument(
        "--plan", action="store_true", help="only say what would be downloaded and how big it is"
    )

    models = commands.add_parser(
        "models",
        parents=[common],
        help="the models DocRetriever offers: quality, size, memory, which are here, speed here, "
        "and the one for this computer",
    )
    models.add_argument("--json", action="store_true", help="print as JSON")
    models.add_argument(
        "--measure",
        action="store_true",
        help="load each model on this computer (or only --model's) and time it on a page; "
        "the result is remembered",
    )

    info = commands.add_parser("info", parents=[common], help="show the library's location, model and size")
    info.add_argument("--json", action="store_true", help="print as JSON")
    return parser


_GLOBAL_DEFAULTS: dict[str, object] = {
    "library": None,
    "model": None,
    "device": "auto",
    "visual_tokens": None,
    "batch_size": None,
    "debug": False,
}


def _add_global_options(target: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(name: str) -> object:
        return argparse.SUPPRESS if suppress else _GLOBAL_DEFAULTS[name]

    target.add_argument(
        "--library",
        metavar="DIR_OR_URL",
        default=default("library"),
        help="library folder, or a Qdrant collection: qdrant://host:6333/collection "
        "(default: $DOCRETRIEVER_LIBRARY or the per-user data folder)",
    )
    target.add_argument(
        "--model",
        metavar="ID_OR_DIR",
        default=default("model"),
        help="Hugging Face model id (owner/name, or owner/name@revision to pin one) or local model "
        "folder (default: $DOCRETRIEVER_MODEL or vidore/colqwen2-v1.0)",
    )
    target.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default=default("device"),
        help="where the model runs (default: auto = cuda, then mps, then cpu)",
    )
    geometry = model_geometry()  # the default model's; other families: `docretriever models`
    target.add_argument(
        "--visual-tokens",
        type=int,
        metavar="N",
        default=default("visual_tokens"),
        help=f"image cells per page ({geometry.cell_px} x {geometry.cell_px} px for {geometry.family}, "
        f"{geometry.min_cells} to {geometry.max_cells:,}; default: the model's, {geometry.default_cells} "
        "for it; `docretriever models` lists every model's); fewer is faster on CPU; a Qdrant library "
        "takes at most 1,048,576 numbers a page (8,192 rows of 128, 3,276 of 320)",
    )
    target.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        default=default("batch_size"),
        help="pages embedded at once (default: 4 on CPU, from free memory on a GPU)",
    )
    target.add_argument(
        "--debug",
        action="store_true",
        default=default("debug"),
        help="print the full traceback on errors",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    cancel = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:  # a second Ctrl-C quits at once
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        cancel.cancel()
        print("\nStopping (Ctrl-C again to quit now)...", file=sys.stderr)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        from docretriever.cli.commands import run_command

        code = run_command(args, cancel)
        sys.stdout.flush()  # here, so that a closed pipe is met below rather than at exit
        return code
    except Cancelled as exc:
        print(f"\n{kept_after_stop(exc)}", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader of the output stopped reading (`docretriever list | head`): nothing to say,
        # and Python's own flush at exit must not fail on the closed pipe either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except DocRetrieverError as exc:
        if args.debug:
            traceback.print_exc()
            if exc.details:
                print(exc.details, file=sys.stderr)
        print(f"docretriever: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one readable line unless --debug
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (run again with --debug for details)"
        print(f"docretriever: internal error: {exc.__class__.__name__}: {exc}{hint}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGINT, previous)


def kept_after_stop(stop: Cancelled) -> str:
    """What a stopped command says: for an add, how many pages it kept, of how many documents."""
    from docretriever.vocabulary import AddReport

    report = stop.report
    if not isinstance(report, AddReport) or not report.pages_embedded:
        return str(stop)
    pages = "1 page" if report.pages_embedded == 1 else f"{report.pages_embedded} pages"
    documents = len(report.embedded_in)
    of = "1 document" if documents == 1 else f"{documents} documents"
    were, are = ("was", "is") if report.pages_embedded == 1 else ("were", "are")
    return f"Stopped; {pages} of {of} {were} indexed and {are} kept; run the same command again to finish."


if __name__ == "__main__":
    sys.exit(main())
