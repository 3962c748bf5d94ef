"""The Qdrant back end in qdrant-client's local mode: the same results as the local library,
idempotent uploads, retries, moving libraries both ways, the CLI and the GUI session.

Local mode scores every page and ignores HNSW settings: these tests prove behaviour, not speed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES, CountingEmbedder, corpus_or_skip

from docretriever.cli import main
from docretriever.embedding.base import ModelIdentity
from docretriever.errors import InvalidInputError, LibraryError, ModelMismatchError
from docretriever.library import open_library
from docretriever.library.local import LocalLibrary
from docretriever.library.qdrant import QdrantLibrary, QdrantLocation, schema
from docretriever.library.transfer import export_to_qdrant, import_from_qdrant

FILES = (
    "015-arabic/habibi-rotated.pdf",
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
    "022-pdfkit/pdfkit.pdf",
    "026-latex-multicolumn/multicolumn.pdf",
)
QUERIES = ("arabic script", "a page of text", "columns of a table")


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for relative in FILES:
        shutil.copy(corpus_or_skip(SAMPLES) / relative, folder)
    return folder


def _top(hits) -> list[tuple[str, int]]:
    return [(hit.doc_id, hit.page) for hit in hits]


def test_locations_are_parsed_and_bad_ones_explained(tmp_path: Path) -> None:
    server = QdrantLocation.parse("qdrant://db.example.org:7000/team-pages")
    assert (server.host, server.port, server.collection, server.grpc, server.https) == (
        "db.example.org", 7000, "team-pages", False, False,
    )  # fmt: skip
    assert QdrantLocation.parse("qdrant+grpc://db/pages").port == 6334
    assert QdrantLocation.parse("qdrants://db/pages").https
    local = QdrantLocation.parse(f"qdrant+local://{tmp_path}/lib/pages")
    assert local.path == str(tmp_path / "lib") and local.collection == "pages"
    assert QdrantLocation.parse("qdrant+local://:memory:/pages").path == ":memory:"
    for bad in ("qdrant://db", "qdrant:///pages", "qdrant+local://pages", "http://db/pages"):
        with pytest.raises(InvalidInputError):
            QdrantLocation.parse(bad)
    with pytest.raises(InvalidInputError, match="not supported"):
        open_library("ftp://db/pages")
    with pytest.raises(InvalidInputError, match="Token pooling"):
        open_library("qdrant+local://:memory:/pages", token_pooling=3)


def test_qdrant_finds_what_exact_local_search_finds_with_the_same_scores_and_maps(
    tmp_path: Path, docs: Path, tiny_embedder
) -> None:
    local = LocalLibrary(tmp_path / "local", embedder=tiny_embedder)
    local.add([docs])
    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    report = remote.add([docs])
    assert report.count("indexed") == 4 and report.pages_embedded == local.info().counts["pages_indexed"]
    for query in QUERIES:
        expected = local.search(query, k=10, exact=True)
        for exact in (False, True):
            hits = remote.search(query, k=10, exact=exact)
            assert _top(hits) == _top(expected), (query, exact)
            np.testing.assert_allclose(
                [h.score for h in hits], [h.score for h in expected], rtol=0, atol=5e-6
            )
            for hit, reference in zip(hits, expected, strict=True):
                assert hit.grid == reference.grid and hit.page_size == reference.page_size
                assert hit.rotation == reference.rotation and hit.path == reference.path
                np.testing.assert_allclose(hit.similarity, reference.similarity, atol=1e-5)
    rendered = remote.render_page(expected[0].doc_id, expected[0].page, 100_000)
    assert 0 < rendered.image.width * rendered.image.height <= 100_000
    local.close()
    remote.close()


def test_adding_again_or_after_a_crash_neither_duplicates_nor_loses_pages(
    tmp_path: Path, docs: Path, tiny_embedder
) -> None:
    counting = CountingEmbedder(tiny_embedder)
    remote = QdrantLibrary(f"qdrant+local://{tmp_path}/qd/pages", embedder=counting)
    remote.add([docs])
    pages = remote.store.count_pages()
    embedded = counting.pages_embedded
    again = remote.add([docs])
    assert again.count("skipped") == 4 and counting.pages_embedded == embedded
    assert remote.store.count_pages() == pages

    # A crash half-way through a document: two of its pages uploaded, the document pending.
    document = remote.find_document(str(docs / "pdflatex-4-pages.pdf"))
    from qdrant_client import models

    remote.store.call(
        remote.store.client.delete,
        remote.store.pages,
        points_selector=models.PointIdsList(
            points=[schema.page_point_id(document.sha256, i) for i in (1, 3)]
        ),
    )
    remote.store.put_document(type(document)(**{**document.__dict__, "status": "pending"}), 2)
    resumed = remote.add([docs])
    assert counting.pages_embedded == embedded + 2  # only the two missing pages
    assert resumed.count("indexed") == 1 and remote.store.count_pages() == pages
    remote.close()


def test_uploads_are_cut_under_the_request_limit(
    tmp_path: Path, docs: Path, tiny_embedder, monkeypatch
) -> None:
    assert schema.pages_per_request(800, 128) * 800 * 128 * 10 <= schema.REQUEST_BYTES
    monkeypatch.setattr(schema, "REQUEST_BYTES", 2 * 800 * 128 * 12)  # about 2 pages a request
    import docretriever.library.qdrant.store as store_module

    monkeypatch.setattr(store_module, "pages_per_request", schema.pages_per_request)
    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    sizes: list[int] = []
    upsert = remote.store.client.upsert

    def recording(collection, points, **kwargs):
        if collection == remote.store.pages:
            sizes.append(len(points))
        return upsert(collection, points=points, **kwargs)

    monkeypatch.setattr(remote.store.client, "upsert", recording)
    remote.add([docs / "pdflatex-4-pages.pdf"])
    assert sum(sizes) == 4 and max(sizes) <= schema.pages_per_request(800, 128) < 4
    remote.close()


def test_transient_failures_are_retried_with_back_off_and_others_are_not() -> None:
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    slept: list[float] = []
    calls = iter([ResponseHandlingException(OSError("reset")), ConnectionError("refused"), "answer"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert schema.with_retries(flaky, "qdrant://db/pages", slept.append) == "answer"
    assert slept == [0.5, 1.0]
    refused = UnexpectedResponse(400, "Bad Request", b"{}", None)  # type: ignore[arg-type]
    with pytest.raises(LibraryError, match="refused a request"):
        schema.with_retries(lambda: (_ for _ in ()).throw(refused), "qdrant://db/pages", slept.append)
    slept.clear()
    with pytest.raises(LibraryError, match="did not answer after 6 tries"):
        schema.with_retries(lambda: (_ for _ in ()).throw(TimeoutError()), "qdrant://db/pages", slept.append)
    assert slept == list(schema.RETRY_DELAYS_S)


def test_another_model_is_refused(tmp_path: Path, docs: Path, tiny_embedder) -> None:
    location = f"qdrant+local://{tmp_path}/qd/pages"
    QdrantLibrary(location, embedder=tiny_embedder).close()
    other = QdrantLibrary(location)
    with pytest.raises(ModelMismatchError, match="built with the model"):
        other.adopt_identity(ModelIdentity("other", "1", "another-fingerprint", 128))
    other.close()
    with pytest.raises(LibraryError, match="no library"):
        QdrantLibrary(f"qdrant+local://{tmp_path}/empty/pages", create=False)


def test_a_mistyped_local_mode_address_creates_nothing_and_odd_folders_are_explained(
    tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    typo = tmp_path / "typo"
    with pytest.raises(LibraryError, match="no library"):
        QdrantLibrary(f"qdrant+local://{typo}/pages", create=False)
    assert not typo.exists()  # a read never makes a library folder, as locally
    common = ["--model", str(tiny_model_dir), "--device", "cpu"]
    assert main(["--library", f"qdrant+local://{typo}/pages", *common, "list"]) == 1
    assert "no library" in capsys.readouterr().err
    assert not typo.exists()

    in_the_way = tmp_path / "a.pdf"
    in_the_way.write_bytes(b"%PDF-1.4\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    for folder, command in ((in_the_way, ["add", str(in_the_way)]), (broken, ["list"])):
        assert main(["--library", f"qdrant+local://{folder}/pages", *common, *command]) == 1
        error = capsys.readouterr().err
        assert "cannot be opened" in error and "internal error" not in error, error


def test_export_and_import_round_trip_with_identical_results(
    tmp_path: Path, docs: Path, tiny_embedder
) -> None:
    source = LocalLibrary(tmp_path / "source", embedder=tiny_embedder)
    shutil.copy(docs / "pdfkit.pdf", docs / "pdfkit-copy.pdf")  # one document at two paths
    source.add([docs])
    remote = QdrantLibrary(f"qdrant+local://{tmp_path}/qd/pages")
    exported = export_to_qdrant(source, remote)
    assert exported.documents == 4 and exported.pages == source.info().counts["pages_indexed"]
    assert export_to_qdrant(source, remote).skipped == 4  # run again: nothing copied twice
    back = LocalLibrary(tmp_path / "back", embedder=tiny_embedder)
    imported = import_from_qdrant(remote, back)
    assert (imported.documents, imported.pages) == (exported.documents, exported.pages)

    def described(library: LocalLibrary) -> list[tuple[object, ...]]:
        return sorted((d.sha256, d.paths, d.size, d.status, d.error) for d in library.documents())

    assert described(back) == described(source)  # every path, the size, the note
    remote_with_model = remote
    remote_with_model._embedder = tiny_embedder
    for query in QUERIES:
        for exact in (False, True):
            expected = source.search(query, k=10, exact=exact)
            for library in (remote_with_model, back):
                hits = library.search(query, k=10, exact=exact)
                assert _top(hits) == _top(expected), (query, exact, type(library).__name__)
                np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=5e-6)
    for library in (source, remote, back):
        library.close()


def test_the_cli_works_against_a_qdrant_library(
    tmp_path: Path, docs: Path, tiny_model_dir: Path, capsys
) -> None:
    url = f"qdrant+local://{tmp_path}/qd/pages"
    common = ["--library", url, "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*common, "add", str(docs)]) == 0
    assert "4 indexed" in capsys.readouterr().out
    assert main([*common, "search", "arabic script", "-k", "3"]) == 0
    assert capsys.readouterr().out.count("[") == 3
    assert main([*common, "list"]) == 0
    assert capsys.readouterr().out.count("indexed") == 4
    assert main([*common, "remove", "pdfkit.pdf"]) == 1  # a name is not a path: refused...
    capsys.readouterr()
    assert main([*common, "remove", str(docs / "pdfkit.pdf")]) == 0  # ...the path is taken
    assert main([*common, "info"]) == 0
    assert "3 indexed" in capsys.readouterr().out
    local = ["--library", str(tmp_path / "local"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*local, "import", "--from", url]) == 0
    assert "3 documents" in capsys.readouterr().out
    assert main([*local, "export", "--to", f"qdrant+local://{tmp_path}/qd2/pages"]) == 0
    assert "3 documents" in capsys.readouterr().out


def test_the_gui_session_works_against_a_qdrant_library(
    ui_session, qtbot, tmp_path: Path, docs: Path
) -> None:
    ui_session.settings.library = f"qdrant+local://{tmp_path}/qd/pages"
    ui_session.reopen()
    with qtbot.waitSignal(ui_session.ingest_finished, timeout=120_000):
        ui_session.add([str(docs)])
    assert {d.status for d in ui_session.documents()} == {"indexed"}
    results = []
    ui_session.search("arabic script", 4, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=30_000)
    images = []
    ui_session.render_hit(results[0][0], 100_000, images.append)
    qtbot.waitUntil(lambda: bool(images), timeout=30_000)
    assert len(results[0]) == 4 and images[0].width() > 0


def test_a_changed_file_replaces_its_old_version_and_unfinished_documents_are_not_found(
    tmp_path: Path, docs: Path, tiny_embedder
) -> None:
    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    target = docs / "pdfkit.pdf"
    remote.add([target])
    old = remote.find_document(str(target))
    shutil.copy(docs / "pdflatex-4-pages.pdf", target)  # the same path, new content
    remote.sync()
    (document,) = remote.documents()
    assert document.sha256 != old.sha256 and remote.store.count_pages() == 4
    assert remote.find_document(str(target)).sha256 == document.sha256

    # A document cut short (pages uploaded, not marked ready) is not searchable yet.
    from qdrant_client import models

    remote.store.call(
        remote.store.client.set_payload,
        remote.store.pages,
        payload={"ready": False},
        points=models.FilterSelector(filter=models.Filter()),
    )
    assert remote.search("a page", k=5) == [] and remote.search("a page", k=5, exact=True) == []
    remote.store.mark_ready(document.sha256)
    assert len(remote.search("a page", k=5)) == 4
    remote.close()


def test_an_upload_of_real_pages_fits_the_servers_request_limit() -> None:
    from qdrant_client import models

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(781, 128)).astype(np.float16).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    point = models.PointStruct(id=schema.page_point_id("ab" * 32, 0), vector={schema.ORIGINAL: rows.tolist()})
    page_bytes = len(models.PointsList(points=[point]).model_dump_json())
    per_request = schema.pages_per_request(781, 128)
    # Pooled vectors (n_x + n_y rows) and the payload add under 10 %; the server's limit is 32 MB.
    assert per_request * page_bytes * 1.1 <= 32 * 1024 * 1024


def test_a_cancelled_qdrant_add_says_what_it_kept(docs: Path, tiny_embedder) -> None:
    """The Ctrl-C message counts the pages kept, as for a local library (issue 15, part 6)."""
    from docretriever.cli.main import kept_after_stop
    from docretriever.errors import Cancelled
    from docretriever.progress import CancelToken, Progress

    remote = QdrantLibrary("qdrant+local://:memory:/pages", embedder=tiny_embedder)
    cancel = CancelToken()

    def stop_after_the_first_batch(progress: Progress) -> None:
        if progress.stage == "Indexing" and (progress.done or 0) > 0:
            cancel.cancel()

    with pytest.raises(Cancelled) as stopped:
        remote.add([docs], stop_after_the_first_batch, cancel)
    kept = remote.store.count_pages()
    remote.close()
    report = stopped.value.report
    assert report is not None and 0 < report.pages_embedded == kept < 10 and report.embedded_in
    documents = len(report.embedded_in)
    assert kept_after_stop(stopped.value).startswith(f"Stopped; {kept} page")
    assert f"of {documents} document" in kept_after_stop(stopped.value)
