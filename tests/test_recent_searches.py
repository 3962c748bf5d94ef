"""The recent searches a library remembers, the opt-out, and where `docretriever bench` takes its
queries from (issue 17, item 4): given ones, a file, the recent searches, else pseudo-queries,
and the line that says which."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip

from docretriever.cli import main
from docretriever.library import recent_searches
from docretriever.library.local.bench_queries import MIN_RECENT
from docretriever.library.recent_searches import FILE_NAME, RecentSearches


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_store_keeps_distinct_recent_queries_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recent_searches, "LIMIT", 3)
    searches = RecentSearches(tmp_path)
    assert searches.queries() == [] and searches.remembering  # on unless turned off
    for query in ("revenue by region", "  cash   flow ", "Revenue by Region", "", "map", "legend"):
        searches.remember(query)
    # The same words in another case are one query (the newest spelling), blanks are not kept,
    # spaces are tidied, and only the newest LIMIT are kept.
    assert searches.queries() == ["legend", "map", "Revenue by Region"]
    assert searches.read().total == 5  # a running count of what was remembered, repeats too
    assert searches.queries(2) == ["legend", "map"]
    assert not list(tmp_path.glob(".recent_searches-*"))  # written through a renamed temporary file

    assert searches.forget() == 3
    assert searches.queries() == [] and searches.remembering and searches.read().total == 0
    searches.remember("kept again")
    searches.set_remembering(False)  # off forgets them too, and stores nothing more
    assert searches.queries() == [] and not searches.remembering
    assert not searches.remember("not kept")
    assert "not kept" not in (tmp_path / FILE_NAME).read_text()
    searches.set_remembering(True)
    assert searches.remember("kept") and searches.queries() == ["kept"]

    # A damaged file reads as empty and is written over; a folder not there yet is made.
    (tmp_path / FILE_NAME).write_text("{damaged")
    assert searches.queries() == [] and searches.remember("after the damage")
    assert json.loads((tmp_path / FILE_NAME).read_text())["queries"] == ["after the damage"]
    assert RecentSearches(tmp_path / "new" / "lib").remember("q") and (tmp_path / "new" / "lib").is_dir()


def test_a_store_that_cannot_be_written_never_fails_a_search(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).mkdir()  # in the way of the file: every write fails
    assert not RecentSearches(tmp_path).remember("a query")


@pytest.fixture()
def common(tmp_path: Path, tiny_model_dir: Path, capsys) -> list[str]:
    """The options of a library holding one indexed PDF (a single page: searched exactly)."""
    options = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    code, _, _ = run(capsys, *options, "add", str(corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"))
    assert code == 0
    return options


def bench_source(capsys, common: list[str], *args: str) -> str:
    code, out, err = run(capsys, *common, "bench", "-n", "7", *args)
    assert code == 0, err
    first = out.splitlines()[0]
    match = re.fullmatch(r"\d+ pages?, (.*), top 10:", first)
    assert match, first
    return match.group(1)


def test_bench_measures_on_given_queries_a_file_or_the_recent_searches(
    tmp_path: Path, common: list[str], capsys
) -> None:
    library = tmp_path / "lib"
    # No search yet: pseudo-queries, and the line says why and what they are worth.
    assert bench_source(capsys, common) == (
        "7 pseudo-queries sampled from the library's pages (no recent searches yet; "
        "they measure less well than real ones)"
    )
    # Searches through the CLI are remembered (bench's own queries are not).
    for query in ("invoice total", "table of contents", "signature"):
        code, _, _ = run(capsys, *common, "search", query)
        assert code == 0
    assert RecentSearches(library).queries() == ["signature", "table of contents", "invoice total"]
    assert bench_source(capsys, common).startswith(
        "7 pseudo-queries sampled from the library's pages "
        f"(only 3 recent searches so far, {MIN_RECENT} needed;"
    )
    for query in ("chart", "footnote", "Signature"):
        run(capsys, *common, "search", query)
    assert bench_source(capsys, common) == "5 of your recent searches"
    assert RecentSearches(library).queries(1) == ["Signature"]
    # Fewer asked for than the minimum remembered: still the searches, the newest -n of them.
    code, out, _ = run(capsys, *common, "bench", "-n", "3")
    assert code == 0 and out.splitlines()[0].endswith(", 3 of your recent searches, top 10:")

    # A file of queries, one a line (blank lines skipped), and queries given as words.
    query_file = tmp_path / "queries.txt"
    query_file.write_text("first query\n\n  second query  \nthird\n", encoding="utf-8")
    assert bench_source(capsys, common, "--queries", str(query_file)) == f"3 queries from {query_file}"
    assert bench_source(capsys, common, "one", "two") == "2 given queries"
    assert RecentSearches(library).read().total == 6  # bench remembered none of them

    code, _, err = run(capsys, *common, "bench", "one", "--queries", str(query_file))
    assert code == 1 and "not both" in err
    code, _, err = run(capsys, *common, "bench", "--queries", str(tmp_path / "absent.txt"))
    assert code == 1 and "Cannot read" in err and "Traceback" not in err
    (tmp_path / "empty.txt").write_text("\n \n")
    code, _, err = run(capsys, *common, "bench", "--queries", str(tmp_path / "empty.txt"))
    assert code == 1 and "holds no queries" in err


def test_searches_can_be_listed_forgotten_and_turned_off(tmp_path: Path, common: list[str], capsys) -> None:
    library = tmp_path / "lib"
    for query in ("alpha", "beta"):
        run(capsys, *common, "search", query)
    code, out, _ = run(capsys, *common, "searches")
    assert code == 0 and out.startswith("2 searches remembered (at most 200)")
    code, out, _ = run(capsys, *common, "searches", "--list")
    assert out.splitlines() == ["beta", "alpha"]
    code, out, _ = run(capsys, *common, "searches", "--forget")
    assert code == 0 and out.strip() == "Forgot 2 searches."
    assert RecentSearches(library).queries() == []

    run(capsys, *common, "search", "gamma")
    code, out, _ = run(capsys, *common, "searches", "--off")
    assert code == 0 and "no longer remembered; 1 search forgotten" in out
    for _ in range(MIN_RECENT):  # the opt-out: nothing is stored, whatever is searched
        run(capsys, *common, "search", "private words")
    assert "private words" not in (library / FILE_NAME).read_text()
    assert RecentSearches(library).queries() == []
    code, out, _ = run(capsys, *common, "searches")
    assert "not remembered (turned off)" in out
    assert "(remembering searches is off;" in bench_source(capsys, common)

    code, out, _ = run(capsys, *common, "searches", "--on")
    assert code == 0 and "remembered again" in out
    run(capsys, *common, "search", "delta")
    assert RecentSearches(library).queries() == ["delta"]
    with pytest.raises(SystemExit):  # one choice at a time
        main([*common, "searches", "--on", "--off"])
    assert "not allowed with" in capsys.readouterr().err
