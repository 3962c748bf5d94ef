"""The real checkpoints' layouts end to end: vidore/colqwen2-v1.0 by Hub id through the CLI,
online then with no network at all; one identity for the same weights wherever they sit; the
README's offline recipes; a LoRA adapter that does not fit its base fails loudly."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from conftest import SAMPLES, corpus_or_skip
from safetensors.torch import load_file, save_file

from docretriever.cli import main
from docretriever.embedding import ModelSpec, load_embedder
from docretriever.embedding.model_files import ModelFiles, locate_model
from docretriever.errors import ModelError

ADAPTER = "vidore/colqwen2-v1.0"
BASE = "vidore/colqwen2-base"


def cut_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, a machine with no network: every connection fails, loopback too."""

    def refuse(self: socket.socket, address: object) -> None:
        raise OSError(101, f"Network is unreachable (test): {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _options(library: Path, model: str) -> list[str]:
    """The CLI's global options for a library and a model, on the CPU with a small pixel budget."""
    return ["--library", str(library), "--model", model, "--device", "cpu", "--visual-tokens", "64"]


def _side_by_side(hub_repos: dict[str, Path], folder: Path) -> Path:
    """The README's offline recipe: the adapter and its base copied side by side, the adapter's
    ``base_model_name_or_path`` set to the base's folder, relative to the adapter's."""
    adapter = folder / "colqwen2-v1.0"
    shutil.copytree(hub_repos[ADAPTER], adapter)
    shutil.copytree(hub_repos[BASE], folder / "colqwen2-base")
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = "../colqwen2-base"
    config_path.write_text(json.dumps(config, indent=2))
    return adapter


def test_cli_downloads_then_adds_and_searches_then_again_with_no_network(
    hub, tmp_path: Path, capsys, monkeypatch
) -> None:
    pdf = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    common = _options(tmp_path / "lib", ADAPTER)
    code, out, err = _cli(capsys, *common, "add", str(pdf))
    assert code == 0, err
    assert "1 indexed" in out
    assert f"Downloading {ADAPTER}" in err
    assert f"{ADAPTER} at revision {hub.commit(ADAPTER)[:7]}" in err  # which revision, in one line
    code, out, err = _cli(capsys, *common, "search", "pdfkit document", "--json")
    assert code == 0, err
    online = json.loads(out)
    assert online and online[0]["path"] == str(pdf)
    code, out, _ = _cli(capsys, *common, "info", "--json")
    recorded = json.loads(out)["model_fingerprint"]

    hub.stop()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cut_the_network(monkeypatch)
    code, out, err = _cli(capsys, *common, "search", "pdfkit document", "--json")
    assert code == 0, err
    assert json.loads(out) == online
    assert "from the Hugging Face cache" in err
    code, out, _ = _cli(capsys, *common, "info", "--json")
    assert json.loads(out)["model_fingerprint"] == recorded


def test_the_same_weights_have_one_identity_wherever_they_are(hub, hub_repos, tmp_path: Path) -> None:
    from huggingface_hub import snapshot_download

    by_id = locate_model(ADAPTER)  # downloads only the files the app reads
    # A full snapshot, training checkpoint and READMEs included, in another cache.
    full = {
        repo: Path(snapshot_download(repo, cache_dir=tmp_path / "full-cache", endpoint=hub.endpoint))
        for repo in (ADAPTER, BASE)
    }
    assert (full[ADAPTER] / "checkpoint-2310").is_dir()
    full_snapshot = ModelFiles(ADAPTER, "full", full[ADAPTER], full[BASE])
    # Copied folders, the adapter's base path edited, metadata files changed.
    copied = _side_by_side(hub_repos, tmp_path / "copied")
    (copied / "results.json").write_text('{"ndcg_at_5": 0.9}')
    (copied / "README.md").write_text("edited")
    (copied.parent / "colqwen2-base" / "config.json").write_text(
        (hub_repos[BASE] / "config.json").read_text().replace("4.45.0", "4.45.1")
    )
    identities = {by_id.fingerprint(), full_snapshot.fingerprint(), locate_model(str(copied)).fingerprint()}
    assert len(identities) == 1

    # Negative control: the training checkpoint's adapter holds other weights.
    other = tmp_path / "other"
    shutil.copytree(copied, other / "colqwen2-v1.0")
    for name in ("adapter_model.safetensors",):
        shutil.copy(copied / "checkpoint-2310" / name, other / "colqwen2-v1.0" / name)
    (other / "colqwen2-v1.0" / "adapter_config.json").write_text(
        (copied / "adapter_config.json")
        .read_text()
        .replace("../colqwen2-base", str(copied.parent / "colqwen2-base"))
    )
    assert locate_model(str(other / "colqwen2-v1.0")).fingerprint() not in identities
    # Nor is the same adapter scaled differently: lora_alpha changes what the model computes.
    config = json.loads((copied / "adapter_config.json").read_text())
    config["lora_alpha"] = 4
    (copied / "adapter_config.json").write_text(json.dumps(config))
    assert locate_model(str(copied)).fingerprint() not in identities


def test_a_relative_base_path_is_taken_from_the_adapter_folder(
    hub_repos, tmp_path: Path, monkeypatch
) -> None:
    adapter = _side_by_side(hub_repos, tmp_path / "models")
    elsewhere = tmp_path / "elsewhere" / "cwd"
    elsewhere.mkdir(parents=True)
    decoy = tmp_path / "elsewhere" / "colqwen2-base"  # what "../colqwen2-base" means from the cwd
    shutil.copytree(hub_repos[BASE], decoy)
    monkeypatch.chdir(elsewhere)
    assert locate_model(str(adapter)).base_folder == (tmp_path / "models" / "colqwen2-base").resolve()


def test_the_transformers_native_layout_is_refused_by_name(hub_repos) -> None:
    with pytest.raises(ModelError, match='"-hf" layout'):
        locate_model(str(hub_repos["vidore/colqwen2-v1.0-hf"]))


def test_the_readme_offline_recipes_work_with_no_network(
    hub, hub_cache: Path, hub_repos, tmp_path: Path, capsys, monkeypatch
) -> None:
    """README, "Getting a model onto a machine without a network": folders side by side, or the
    two Hugging Face cache folders copied from a machine that downloaded the model."""
    locate_model(ADAPTER)
    offline_home = tmp_path / "offline-machine"
    for repo in (ADAPTER, BASE):
        name = "models--" + repo.replace("/", "--")
        shutil.copytree(hub_cache / name, offline_home / "hub" / name, symlinks=True)
    hub.stop()
    monkeypatch.setenv("HF_HOME", str(offline_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(offline_home / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cut_the_network(monkeypatch)
    folder = _side_by_side(hub_repos, tmp_path / "models")
    pdf = corpus_or_skip(SAMPLES) / "022-pdfkit" / "pdfkit.pdf"
    fingerprints = set()
    for model, library in ((str(folder), "lib-folder"), (ADAPTER, "lib-cache")):
        common = _options(tmp_path / library, model)
        code, out, err = _cli(capsys, *common, "add", str(pdf))
        assert code == 0, err
        code, out, err = _cli(capsys, *common, "search", "pdfkit", "--json")
        assert code == 0 and json.loads(out), err
        code, out, _ = _cli(capsys, *common, "info", "--json")
        fingerprints.add(json.loads(out)["model_fingerprint"])
    assert len(fingerprints) == 1  # either way, one model: the libraries are interchangeable


@pytest.mark.parametrize("fault", ["missing", "unexpected"])
def test_an_adapter_that_does_not_fit_its_base_fails_loudly(hub_repos, tmp_path: Path, fault: str) -> None:
    adapter = _side_by_side(hub_repos, tmp_path)
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    name = sorted(key for key in tensors if "layers.0." in key and "lora_B" in key)[0]
    if fault == "missing":
        del tensors[name]
    else:
        tensors[name.replace("layers.0.", "layers.7.")] = tensors[name].clone()
    save_file(tensors, str(weights))
    with pytest.raises(ModelError, match="does not fit its base model"):
        load_embedder(ModelSpec(str(adapter), device="cpu"))


def test_the_adapter_check_catches_lora_weights_left_untrained(hub_repos, tmp_path: Path) -> None:
    """Negative control for the check itself: transformers' own load_adapter, without
    colpali-engine's key renaming, leaves the text layers' LoRA weights untrained and reports
    them as missing and unexpected (colpali-engine issue #424's failure); the check refuses it,
    and refuses a model whose LoRA values were reset behind its back."""
    import torch
    from colpali_engine.models import ColQwen2

    from docretriever.embedding.checkpoint_loading import check_adapter_loaded, load_checkpoint

    adapter = _side_by_side(hub_repos, tmp_path)
    model = ColQwen2.from_pretrained(str(adapter.parent / "colqwen2-base"), dtype=torch.float32)
    info = model.load_adapter(str(adapter))
    with pytest.raises(ModelError, match="does not fit"):
        check_adapter_loaded(model, info, adapter)

    loaded = load_checkpoint(ColQwen2, locate_model(str(adapter)), torch.float32)  # checked: it fits
    lora_b = next(p for n, p in loaded.named_parameters() if "lora_B" in n)
    with torch.no_grad():
        lora_b.zero_()
    with pytest.raises(ModelError, match="did not load"):
        check_adapter_loaded(loaded, {"missing_keys": set(), "unexpected_keys": set()}, adapter)


@pytest.mark.parametrize("file_dtype", ["float32", "float16"])
def test_an_adapter_saved_in_another_dtype_passes_the_check_in_bfloat16(
    hub_repos, tmp_path: Path, file_dtype: str
) -> None:
    """PEFT adapters are often saved in float32; the model holds them in its own dtype (bf16 on
    a GPU). The check compares values as the model received them, not as stored."""
    import torch
    from colpali_engine.models import ColQwen2

    from docretriever.embedding.checkpoint_loading import load_checkpoint

    adapter = _side_by_side(hub_repos, tmp_path)
    weights = adapter / "adapter_model.safetensors"
    tensors = {
        name: tensor.to(getattr(torch, file_dtype)) for name, tensor in load_file(str(weights)).items()
    }
    save_file(tensors, str(weights))
    model = load_checkpoint(ColQwen2, locate_model(str(adapter)), torch.bfloat16)
    assert next(p for n, p in model.named_parameters() if "lora_B" in n).dtype == torch.bfloat16
