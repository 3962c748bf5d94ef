"""N queries as N ``docretriever search`` processes against one ``docretriever shell`` process.

    uv run python benchmarks/shell_latency.py --pdfs ../shared/corpus/sample-files/022-pdfkit

Builds a library from ``--pdfs`` in a temporary folder with ``docretriever add`` (or uses
``--library``), then, each round, times the N queries run as N ``search`` processes one after
another, and the same N queries piped into one ``shell`` process. Reports medians over the
rounds: a ``search`` process's wall time, a query's time inside the shell (the "(0.21 s)" it
prints), the shell's model load, and the total wall time of each way. Without ``--model`` the
tiny random-weight model is built in a temporary folder: its rankings mean nothing, but start-up
(imports, loading) and the search path are the real ones, and the model's own share is small.

Every process is ``sys.executable -m docretriever``: run this with the project's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUERIES = ["arabic text", "a table of figures", "lecture notes on topology", "an annotated form", "pdfkit"]
_TOOK = re.compile(r"^\((\d+\.\d+) s\)$", re.M)
_LOADED = re.compile(r"Loaded .* in (\d+\.\d+) s\.")


def docretriever(common: list[str], *args: str, stdin: str | None = None) -> tuple[float, str, str]:
    """Run one ``docretriever`` process; its wall time, stdout and stderr. Fails loudly."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "docretriever", *common, *args], input=stdin, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"docretriever {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return took, result.stdout, result.stderr


def measure(common: list[str], queries: list[str], k: int) -> dict[str, Any]:
    """One round: the queries as separate ``search`` processes, then piped into one ``shell``."""
    search_walls = [docretriever(common, "search", query, "-k", str(k))[0] for query in queries]
    shell_wall, out, err = docretriever(
        common, "shell", "-k", str(k), stdin="".join(q + "\n" for q in queries)
    )
    per_query = [float(value) for value in _TOOK.findall(out)]
    loaded = _LOADED.search(err)
    if len(per_query) != len(queries) or loaded is None:
        raise SystemExit(f"unexpected shell output:\n{out}\n{err}")
    return {
        "search_process_s": search_walls,
        "shell_query_s": per_query,
        "shell_load_s": float(loaded.group(1)),
        "searches_total_s": sum(search_walls),
        "shell_total_s": shell_wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model folder or Hub id (default: the tiny model, built here)")
    parser.add_argument("--library", help="an existing library (default: one built from --pdfs)")
    parser.add_argument("--pdfs", nargs="*", default=[], help="PDF files or folders for the library")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-n", type=int, default=5, help="queries per round (default 5)")
    parser.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are over them (default 3)")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    args = parser.parse_args()
    if not args.library and not args.pdfs:
        parser.error("give --library, or --pdfs to build one")
    queries = [QUERIES[i % len(QUERIES)] for i in range(args.n)]

    with tempfile.TemporaryDirectory(prefix="shell-latency-") as scratch:
        model = args.model
        if model is None:
            from docretriever.testing.tiny_model import build_tiny_model

            model = str(build_tiny_model(Path(scratch) / "tiny"))
        library = args.library or str(Path(scratch) / "library")
        common = ["--library", library, "--model", model, "--device", args.device]
        if not args.library:
            docretriever(common, "add", *args.pdfs)
        docretriever(common, "search", "warm the file cache", "-k", "1")  # not timed
        load_before = os.getloadavg()[0]
        rounds = [measure(common, queries, args.k) for _ in range(args.rounds)]
        load_after = os.getloadavg()[0]

    def median(key: str) -> float:
        """The median over every round of ``key``, a figure or a list of them (one a query)."""
        values: list[float] = []
        for one in rounds:
            values.extend(one[key] if isinstance(one[key], list) else [one[key]])
        return statistics.median(values)

    figures = {
        "queries": args.n,
        "rounds": args.rounds,
        "cpu_count": os.cpu_count(),
        "load_average_before_after": [load_before, load_after],
        "median_search_process_s": median("search_process_s"),
        "median_shell_query_s": median("shell_query_s"),
        "median_shell_load_s": median("shell_load_s"),
        "median_searches_total_s": median("searches_total_s"),
        "median_shell_total_s": median("shell_total_s"),
    }
    if args.json:
        print(json.dumps({**figures, "rounds_detail": rounds}, indent=2))
        return
    n, load = args.n, f"load average {load_before:.1f} to {load_after:.1f}"
    print(f"Medians of {args.rounds} rounds of {n} queries; {os.cpu_count()} CPUs, {load}")
    each, total = figures["median_search_process_s"], figures["median_searches_total_s"]
    print(f"  {n} search processes: {total:.1f} s in all, {each:.2f} s each")
    total, loading, query = (figures[f"median_shell_{key}_s"] for key in ("total", "load", "query"))
    print(f"  one shell: {total:.1f} s in all, {loading:.1f} s of it loading; {query:.2f} s a query")


if __name__ == "__main__":
    main()
