"""A ColQwen3.5 model by its Hub id, from a local stand-in of the Hub: plan, download, add, search.

The stand-in serves a tiny random-weight ColQwen3.5 under the real id of the catalogue's small
model, as a full model (no adapter) whose ``config.json`` does not say its row width (whether the
published one does is not known here), with a README and a ``.gitattributes`` that the app must
not download.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from helpers.hub_stand_in import HubStandIn
from hub_fixtures import use_hub

from docretriever.cli import main
from docretriever.embedding.families import COLQWEN3_5
from docretriever.testing.tiny_families import build_tiny_family_model

FLASH = "vultr/VultronRetrieverFlash-Qwen3.5-0.8B"


@pytest.fixture()
def flash_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandIn]:
    folder = build_tiny_family_model(tmp_path / "repos" / FLASH, COLQWEN3_5, dim_in_config=False)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# a stand-in\n")
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
    with HubStandIn({FLASH: folder}) as stand_in:
        use_hub(monkeypatch, stand_in.endpoint, tmp_path / "hf-home")
        yield stand_in
        assert not stand_in.server_errors, stand_in.server_errors
    import huggingface_hub

    huggingface_hub.close_session()


def test_the_small_model_by_hub_id_downloads_adds_and_searches(
    flash_hub: HubStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf"
    library = ["--library", str(tmp_path / "library")]
    assert main(["--model", FLASH, "download", "--plan"]) == 0
    plan = capsys.readouterr().out
    # The weights, the configuration, the tokenizer's and processor's files; not the README.
    assert plan.startswith(f"{FLASH}: 6 files,") and "to download" in plan
    assert main(["--model", FLASH, "download"]) == 0
    downloaded = {
        request.path.rsplit("/", 1)[-1] for request in flash_hub.requests if "/resolve/" in request.path
    }
    assert "model.safetensors" in downloaded and "README.md" not in downloaded
    capsys.readouterr()
    assert main([*library, "--model", FLASH, "--visual-tokens", "128", "add", str(pdf)]) == 0
    capsys.readouterr()
    flash_hub.stop()  # from now on the model comes from the cache, the library names it
    assert main([*library, "search", "a page of text", "--json", "-k", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3
    for hit in hits:
        n_x, n_y = hit["grid"]
        width, height = COLQWEN3_5.geometry.render_size(hit["page_width"], hit["page_height"], 128)
        assert (n_x, n_y) == (width // 32, height // 32)
    assert main([*library, "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert FLASH in json.dumps(info)
