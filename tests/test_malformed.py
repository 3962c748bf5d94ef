"""Every broken, damaged and encrypted PDF of qpdf's test suite ends indexed or failed."""

from __future__ import annotations

from pathlib import Path

from conftest import MALFORMED, corpus_or_skip

from docretriever.library import open_library


def test_the_malformed_corpus_never_crashes_and_never_stays_pending(tmp_path: Path, tiny_embedder) -> None:
    folder = corpus_or_skip(MALFORMED)
    files = sorted(folder.glob("*.pdf"))
    library = open_library(tmp_path / "lib", embedder=tiny_embedder)
    report = library.add([folder])
    assert len(report.outcomes) == len(files)
    by_path = {Path(o.path).name: o for o in report.outcomes}
    for outcome in report.outcomes:
        assert outcome.status in {"indexed", "failed", "skipped"}, outcome
        if outcome.status == "failed":
            assert outcome.error and len(outcome.error) > 15
    documents = library.documents()
    assert {d.status for d in documents} <= {"indexed", "failed"}
    assert all(d.error for d in documents if d.status == "failed")
    # Encrypted files: an empty user password opens, a real one is reported as needed.
    assert by_path["enc-R2,V1.pdf"].status == "indexed"
    assert by_path["enc-R2,V1,U=view,O=master.pdf"].status == "failed"
    assert "password" in (by_path["enc-R2,V1,U=view,O=master.pdf"].error or "")
    assert by_path["empty.pdf"].status == "failed"
    # The indexed ones are searchable.
    assert len(library.search("page", k=5)) == 5
