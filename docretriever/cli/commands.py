"""What each ``docretriever`` command does with the library, and how it prints the result."""

from __future__ import annotations

import argparse
import json
import sys
import time

from docretriever.cli.like import parse_like
from docretriever.cli.passwords import ask_for_passwords, check_terminal
from docretriever.cli.progress_bar import ProgressBar
from docretriever.cli.results import print_hits
from docretriever.cli.wording import counted, pages_of
from docretriever.config import default_library_dir
from docretriever.documents.discover import shown_path
from docretriever.embedding import ModelSpec
from docretriever.errors import InvalidInputError
from docretriever.library import AddReport, Library, open_library
from docretriever.library.scope import resolve_scope
from docretriever.progress import CancelToken, format_bytes
from docretriever.vocabulary import PRESENT, Document, availability_note


def run_command(args: argparse.Namespace, cancel: CancelToken) -> int:
    bar = ProgressBar()
    spec = ModelSpec(args.model or "", args.device, args.visual_tokens, args.batch_size)
    if args.command == "download":
        return _download(spec, args, bar, cancel)
    if args.command == "models":
        from docretriever.cli.models import run_models

        return run_models(args, bar, cancel)
    location = args.library or str(default_library_dir())
    # Only `add` may create a library: a mistyped --library must not silently make an empty one.
    pooling = getattr(args, "token_pooling", None)
    creates = args.command in ("add", "import")
    check_terminal(args)  # before anything is added: --password-prompt needs one to ask on
    with open_library(location, spec, progress=bar, create=creates, token_pooling=pooling) as library:
        try:
            if args.command in ("add", "sync"):
                return _add(library, args, bar, cancel)
            if args.command == "search":
                return _search(library, args)
            if args.command == "watch":
                from docretriever.cli.watch import run_watch

                return run_watch(library, args, bar, cancel)
            if args.command == "list":
                return _list(library, args)
            if args.command == "prune":
                from docretriever.cli.maintenance import run_prune

                return run_prune(library, args, bar, cancel)
            if args.command == "compact":
                from docretriever.cli.maintenance import run_compact

                return run_compact(library, args, bar, cancel)
            if args.command == "shell":
                from docretriever.cli.shell import run_shell

                return run_shell(library, args)
            if args.command == "bench":
                return _bench(library, args)
            if args.command == "searches":
                from docretriever.cli.searches import run_searches

                return run_searches(library, args)
            if args.command == "remove":
                return _remove(library, args)
            if args.command in ("export", "import"):
                return _transfer(library, args, spec, bar, cancel)
            return _info(library, args)
        finally:
            bar.finish()


def _remove(library: Library, args: argparse.Namespace) -> int:
    """``remove DOC`` (a doc id: the document, every path of it; a path: that path, the document
    staying under its others), or ``remove FOLDER``: every document in it, after saying how
    many; a followed folder holding none is no longer followed."""
    try:
        removal = library.remove(args.document)
    except InvalidInputError as not_a_document:
        documents = library.documents_under(args.document)
        if documents and not args.yes:
            what = f"{counted(len(documents), 'document')} ({counted(pages_of(documents), 'page')})"
            if not sys.stdin.isatty():
                raise InvalidInputError(
                    f"{shown_path(args.document)} holds {what}; to remove them all, run it again with --yes."
                ) from None
            answer = input(f"Remove the {what} in {shown_path(args.document)}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing was removed.")
                return 0
        try:
            removed = library.remove_folder(args.document)
        except InvalidInputError:
            raise not_a_document from None
        if removed:
            print(f"Removed {counted(len(removed), 'document')} in {shown_path(args.document)}.")
        else:
            print(f"{shown_path(args.document)} is no longer followed; no document was in it alone.")
        return 0
    document = removal.document
    if removal.path is not None:  # one path of a document kept under its others
        print(
            f"Removed {shown_path(removal.path)} from the library; the same document stays under "
            f"{', '.join(shown_path(path) for path in document.paths)}."
        )
    else:
        print(f"Removed {document.doc_id} ({_name(document)}).")
    return 0


def _transfer(
    library: Library, args: argparse.Namespace, spec: ModelSpec, bar: ProgressBar, cancel: CancelToken
) -> int:
    """``export --to URL`` from a local library, ``import --from URL`` into one."""
    from docretriever.library.local import LocalLibrary
    from docretriever.library.qdrant import QdrantLibrary
    from docretriever.library.transfer import export_to_qdrant, import_from_qdrant

    if not isinstance(library, LocalLibrary):
        raise InvalidInputError(f"{args.command} works from a local library (--library FOLDER).")
    url = args.to if args.command == "export" else args.source
    remote = QdrantLibrary(url, spec, create=args.command == "export")
    try:
        if args.command == "export":
            report = export_to_qdrant(library, remote, bar, cancel)
        else:
            report = import_from_qdrant(remote, library, bar, cancel)
    finally:
        remote.close()
    bar.finish()
    verb = "Exported to" if args.command == "export" else "Imported from"
    print(
        f"{verb} {url}: {report.documents} documents, {report.pages} pages ({report.skipped} already there)."
    )
    return 0


def _download(spec: ModelSpec, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    """``download``: the plan (files, bytes, memory), then the files, unless they are here."""
    from docretriever.embedding.model_files import (
        download,
        locate_model,
        model_is_available,
        plan_download,
        run_cancellable,
    )

    source = spec.resolved_source()
    if model_is_available(source):
        print(f"Ready: {locate_model(source, offline=True).describe()}.")
        return 0
    print(f"Asking the Hugging Face Hub what {source} takes...", file=sys.stderr)
    plan = run_cancellable(lambda: plan_download(source, cancel), cancel)
    memory = [
        f"{format_bytes(size)} as {dtype}"
        for dtype in ("bfloat16", "float32")
        if (size := plan.memory_bytes(dtype)) is not None
    ]
    print(f"{plan.source}: {len(plan.files)} files, {format_bytes(plan.total_bytes)}; {plan.describe()}.")
    if memory:
        print(f"In memory: {' (GPU), '.join(memory)} (CPU).")
    if args.plan:
        return 0
    download(plan, bar, cancel)
    bar.finish()
    print(f"Ready: {locate_model(source, offline=True).describe()}.")
    return 0


def _add(library: Library, args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken) -> int:
    started = time.monotonic()
    if args.command == "sync":
        report = library.sync(progress=bar, cancel=cancel)
    else:
        report = library.add(args.paths, progress=bar, cancel=cancel)
        if args.password_prompt:  # then the files that need a password, with it
            ask_for_passwords(library, report, bar, cancel)
    bar.finish()
    for path, reason in report.problems:
        print(f"skipped {shown_path(path)}: {reason}", file=sys.stderr)
    for folder, reason in report.unreachable:
        print(
            f"not available {shown_path(folder)}: {reason}; its documents are kept as they were",
            file=sys.stderr,
        )
    for outcome in report.outcomes:
        if outcome.status == "failed":
            print(f"failed  {shown_path(outcome.path)}: {outcome.error}", file=sys.stderr)
        elif outcome.status == "missing":
            print(
                f"missing {shown_path(outcome.path)}: not there now; kept, still searchable", file=sys.stderr
            )
        elif outcome.status == "moved":
            print(
                f"moved   {shown_path(outcome.path)}: {outcome.error} Nothing embedded again.",
                file=sys.stderr,
            )
        elif outcome.error:
            print(f"partly  {shown_path(outcome.path)}: {outcome.error}", file=sys.stderr)
    print(add_summary(report, time.monotonic() - started, bar))
    if any(outcome.needs_password for outcome in report.outcomes) and not getattr(args, "password_prompt", 0):
        print("To type the password of a file that needs one: `docretriever add FILE --password-prompt`.")
    if report.count("missing"):
        print(
            "Missing documents stay searchable. When their files turn up anywhere, `docretriever add` "
            "finds them without embedding them again; `docretriever prune` forgets them."
        )
    if args.command == "add" and not report.outcomes and report.problems:
        raise InvalidInputError("None of the given paths could be used.")
    return 0


def add_summary(report: AddReport, seconds: float, bar: ProgressBar | None = None) -> str:
    """The outcomes, and the time: the whole run's, of which loading the model (named, as it can
    take a while), and pages/s measured as the progress bar measures it, while indexing."""
    loading = bar.stage_seconds("Loading the model") if bar else None
    indexing = bar.stage_seconds("Indexing") if bar else None
    took = f"{seconds:.1f} s"
    if loading is not None and loading >= 0.05:
        took += f" including {loading:.1f} s loading the model"
    if indexing is None:
        indexing = seconds - (loading or 0.0)
    rate = ""
    if report.pages_embedded and indexing > 0:
        rate = f", {report.pages_embedded / indexing:.1f} pages/s while indexing"
    reused = ""
    if report.pages_reused > 0:  # pages of edited files whose picture had not changed
        pages = "page" if report.pages_reused == 1 else "pages"
        reused = f", {report.pages_reused} unchanged {pages} reused"
    embedded = "1 page" if report.pages_embedded == 1 else f"{report.pages_embedded} pages"
    return f"{report.summary()}; {embedded} embedded{reused} in {took}{rate}."


def _search(library: Library, args: argparse.Namespace) -> int:
    within = None
    if args.within:
        within = [document.doc_id for document in resolve_scope(library, args.within)]
    if args.like is None:
        if args.query is None:
            raise InvalidInputError("Give a query, in words, or --like DOC:PAGE for pages like a page.")
        hits = library.search(args.query, k=args.k, exact=args.exact, within=within)
        return print_hits(library, hits, args)
    if args.query is not None:
        raise InvalidInputError("Give either a query or --like DOC:PAGE, not both.")
    reference, page = parse_like(args.like)
    hits = library.search_like(reference, page, k=args.k, exact=args.exact, within=within)
    if not args.json:
        if not hits:
            print("No other indexed page to compare it with.")
            return 0
        print(f"{hits[0].query.text}:")  # "Pages like report.pdf, page 4:"
    return print_hits(library, hits, args)


def _bench(library: Library, args: argparse.Namespace) -> int:
    from docretriever.library.local import LocalLibrary
    from docretriever.library.local.bench_queries import bench_queries
    from docretriever.library.local.quality import check_search

    if not isinstance(library, LocalLibrary):
        raise InvalidInputError("bench measures local libraries only.")
    # Given queries, else a file of them, else the recent searches, else pseudo-queries.
    chosen = bench_queries(library, args.queries, args.query_file, args.n)
    check = check_search(library, chosen.queries, args.k)
    print(f"{check.pages} pages, {chosen.source}, top {check.k}:")
    print(f"  fast path:  recall {check.recall:.3f} of exact search, median {check.fast_median_ms:.1f} ms")
    print(f"  exhaustive: median {check.exact_median_ms:.1f} ms")
    print(judge_recall(check.recall))
    return 0


GOOD_RECALL = 0.99  # the recall watch's target too


def judge_recall(recall: float) -> str:
    """One line on what the recall means and what to do about a low one."""
    if recall >= GOOD_RECALL:
        return f"Good: at or above {GOOD_RECALL}, the fast path finds nearly every page exact search finds."
    return (
        f"Below {GOOD_RECALL}: the fast path misses pages exact search finds. Use `search --exact` when "
        "every page matters; the search codebook is trained again each time the library grows eightfold "
        "(README, Known limits)."
    )


def _list(library: Library, args: argparse.Namespace) -> int:
    documents = library.documents()
    if args.json:
        rows = [
            {
                "doc_id": d.doc_id,
                "sha256": d.sha256,
                "paths": list(d.paths),
                "pages": d.page_count or 0,
                "size": d.size,
                "status": d.status,
                "error": d.error,
                "availability": d.availability,
                "missing_since": d.missing_since,
            }
            for d in documents
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not documents:
        print("The library is empty: add documents with `docretriever add PATH`.")
    for d in documents:
        pages = f"{d.page_count or 0:>4} p"
        print(f"{d.doc_id}  {d.status:<8} {pages}  {format_bytes(d.size):>8}  {_name(d)}")
        if d.error:
            print(f"{'':14}{d.error}")
        if d.availability != PRESENT:
            print(f"{'':14}{availability_note(d)}")
    return 0


def _info(library: Library, args: argparse.Namespace) -> int:
    info = library.info()
    if args.json:
        print(json.dumps(info.__dict__, indent=2))
        return 0
    counts = info.counts
    print(f"Library:   {info.location}")
    print(f"Model:     {info.model_id or '(none yet)'}  revision {info.model_revision or '-'}")
    print(
        f"Documents: {counts.get('documents_indexed', 0)} indexed, "
        f"{counts.get('documents_failed', 0)} failed, {counts.get('documents_pending', 0)} pending"
    )
    counted = ((info.documents_missing, "missing"), (info.documents_unavailable, "not available"))
    away = [f"{count} {word}" for count, word in counted if count]
    if away:
        print(f"           of which {' and '.join(away)} (kept, still searchable; see `docretriever list`)")
    if info.followed:
        shown = ", ".join(shown_path(path) for path in info.followed[:3])
        more = f" and {len(info.followed) - 3} more" if len(info.followed) > 3 else ""
        print(f"Following: {shown}{more} (walked by `docretriever sync`)")
    pooling = f", token pooling by {info.token_pool_factor}" if info.token_pool_factor > 1 else ""
    print(f"Pages:     {counts.get('pages_indexed', 0)} indexed{pooling}")
    print(f"On disk:   {format_bytes(info.bytes_on_disk)}")
    if info.location and "://" not in info.location:  # the recall watch is a local library's
        from docretriever.cli.searches import search_quality_line

        print(f"Search:    {search_quality_line(info.search_quality)}")
    return 0


def _name(document: Document) -> str:
    return document.paths[0] if document.paths else document.doc_id
