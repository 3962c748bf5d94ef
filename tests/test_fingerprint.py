"""The model fingerprint names the weights only (issue 14): one identity however the folder is
laid out, another for any changed value; the digest cache; libraries recorded with the legacy
fingerprint open and are migrated, on both back ends."""

from __future__ import annotations

import json
import os
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from docretriever.embedding.base import ModelIdentity
from docretriever.embedding.weights_fingerprint import (
    CACHE_ENV,
    CACHE_NAME,
    default_cache_file,
    legacy_folder_fingerprint,
    weights_fingerprint,
)
from docretriever.errors import LibraryError, ModelError, ModelMismatchError
from docretriever.library.local import LocalLibrary
from docretriever.library.local.lock import WriterLock
from docretriever.library.qdrant import QdrantLibrary


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default digest cache in this test's folder, never the real per-user cache."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    return tmp_path / "user-cache" / CACHE_NAME


def _read(path: Path) -> tuple[dict, bytes]:
    """A safetensors file's header (``__metadata__`` included) and data bytes."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _write(
    path: Path, tensors: dict[str, tuple[str, list[int], bytes]], metadata: dict | None = None
) -> None:
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads the header to 8 bytes
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(data for _, _, data in tensors.values()))


def _tensors(path: Path) -> dict[str, tuple[str, list[int], bytes]]:
    header, data = _read(path)
    header.pop("__metadata__", None)
    return {
        name: (info["dtype"], info["shape"], data[info["data_offsets"][0] : info["data_offsets"][1]])
        for name, info in header.items()
    }


def _reshard(source: Path, destination: Path, shards: int) -> None:
    """``source``'s model re-saved in ``shards`` files with an index: other file and tensor names,
    reversed tensor order, other metadata."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("*.safetensors"))
    tensors = list(reversed(_tensors(source / "model.safetensors").items()))
    weight_map = {}
    for number in range(shards):
        name = f"model-{number + 1:05d}-of-{shards:05d}.safetensors"
        part = {f"renamed.{key}": value for key, value in tensors[number::shards]}
        _write(destination / name, part, {"format": "pt", "shard": str(number)})
        weight_map.update(dict.fromkeys(part, name))
    (destination / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


def _adapter(folder: Path, base: str, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "r": 4}))
    rng = np.random.default_rng(seed)
    lora = {f"layer.{i}.lora_A.weight": rng.standard_normal((4, 16), dtype=np.float32) for i in range(3)}
    _write(folder / "adapter_model.safetensors", {k: ("F32", [4, 16], v.tobytes()) for k, v in lora.items()})
    return folder


def test_the_same_weights_have_one_fingerprint_however_the_folder_is_laid_out(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "digests.json"
    expected = weights_fingerprint([tiny_model_dir], cache_file=cache)
    edited = tmp_path / "edited"
    shutil.copytree(tiny_model_dir, edited)
    config = json.loads((edited / "config.json").read_text())
    (edited / "config.json").write_text(json.dumps({**config, "note": "edited"}, indent=4))
    (edited / "README.md").write_text("# Another model card\n")
    (edited / "results.json").write_text('{"ndcg@5": 0.9}')
    (edited / "checkpoint-2310").mkdir()
    _write(edited / "checkpoint-2310" / "model.safetensors", {"x": ("F32", [1], b"\0\0\0\0")})
    (edited / "optimizer.pt").write_bytes(b"training state")
    (edited / "training_args.bin").write_bytes(b"arguments")
    _reshard(tiny_model_dir, tmp_path / "resharded", shards=3)
    for folder in (edited, tmp_path / "resharded"):
        assert weights_fingerprint([folder], cache_file=cache) == expected, folder

    base_path = _adapter(tmp_path / "adapter", str(tiny_model_dir))
    with_adapter = weights_fingerprint([tiny_model_dir, base_path], cache_file=cache)
    moved = _adapter(tmp_path / "adapter-pointing-elsewhere", "/opt/models/colqwen2-base")
    assert weights_fingerprint([edited, moved], cache_file=cache) == with_adapter
    assert with_adapter not in (expected, weights_fingerprint([base_path, tiny_model_dir], cache_file=cache))
    other_adapter = _adapter(tmp_path / "other-adapter", str(tiny_model_dir), seed=1)
    assert weights_fingerprint([tiny_model_dir, other_adapter], cache_file=cache) != with_adapter


def test_a_copy_resaved_by_transformers_with_smaller_shards_matches(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from colpali_engine.models import ColQwen2

    model = ColQwen2.from_pretrained(str(tiny_model_dir), torch_dtype=torch.float32)
    model.save_pretrained(tmp_path / "resaved", max_shard_size="300KB", safe_serialization=True)
    assert len(list((tmp_path / "resaved").glob("*.safetensors"))) > 1
    assert (tmp_path / "resaved" / "model.safetensors.index.json").exists()
    assert weights_fingerprint([tmp_path / "resaved"]) == weights_fingerprint([tiny_model_dir])


def test_any_changed_value_changes_it_but_header_metadata_does_not(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from docretriever.testing.tiny_model import build_tiny_model

    expected = weights_fingerprint([tiny_model_dir])
    tensors = _tensors(tiny_model_dir / "model.safetensors")
    for name, folder in (("same", tmp_path / "metadata"), ("changed", tmp_path / "one-float")):
        shutil.copytree(tiny_model_dir, folder)
        if name == "changed":
            dtype, shape, data = tensors["custom_text_proj.bias"]
            value = np.frombuffer(data, dtype="<f4").copy()
            value[7] = np.nextafter(value[7], np.float32(1))  # the smallest change a float allows
            tensors = {**tensors, "custom_text_proj.bias": (dtype, shape, value.tobytes())}
        _write(folder / "model.safetensors", tensors, {"format": "pt", "trained_by": "someone else"})
    assert weights_fingerprint([tmp_path / "metadata"]) == expected
    assert weights_fingerprint([tmp_path / "one-float"]) != expected
    other_seed = build_tiny_model(tmp_path / "seed-1", seed=1)
    assert weights_fingerprint([other_seed]) != expected


def test_digests_come_from_the_cache_until_the_file_changes(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    weights, cache = folder / "model.safetensors", tmp_path / "digests.json"
    first = weights_fingerprint([folder], cache_file=cache)
    # Overwrite tensor bytes in place, keeping size, inode and mtime: a fingerprint that read
    # the bytes again would change, one from the cache cannot.
    stat = weights.stat()
    with open(weights, "r+b") as handle:
        handle.seek(-64, os.SEEK_END)
        handle.write(b"\x7f" * 64)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights_fingerprint([folder], cache_file=cache) == first
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = weights_fingerprint([folder], cache_file=cache)
    assert changed != first
    assert changed == weights_fingerprint([folder], cache_file=tmp_path / "fresh.json")
    entries = json.loads(cache.read_text())["files"]
    assert list(entries) == [os.path.realpath(weights)]  # the stale entry was replaced


def test_a_damaged_or_unwritable_cache_is_ignored(
    tiny_model_dir: Path, tmp_path: Path, _private_cache
) -> None:
    expected = weights_fingerprint([tiny_model_dir], cache_file=tmp_path / "good.json")
    for damaged in (b"\x00\xffnot json", b"[1, 2]", b'{"version": 1, "files": {"x": 3}}'):
        cache = tmp_path / "damaged.json"
        cache.write_bytes(damaged)
        assert weights_fingerprint([tiny_model_dir], cache_file=cache) == expected
        assert json.loads(cache.read_text())["version"] == 1  # rebuilt
    (tmp_path / "a-file").write_text("")
    assert weights_fingerprint([tiny_model_dir], cache_file=tmp_path / "a-file" / "digests.json") == expected
    # Without cache_file: $DOCRETRIEVER_CACHE_DIR, here the test's own folder.
    assert default_cache_file() == _private_cache
    assert weights_fingerprint([tiny_model_dir]) == expected and _private_cache.exists()


def test_a_hub_snapshot_symlink_shares_the_cache_entry_of_its_blob(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    blob = tmp_path / "hub" / "blobs" / "0123abcd"
    blob.parent.mkdir(parents=True)
    shutil.copy(tiny_model_dir / "model.safetensors", blob)
    for revision in ("rev1", "rev2"):
        snapshot = tmp_path / "hub" / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "model.safetensors").symlink_to(os.path.relpath(blob, snapshot))
    cache = tmp_path / "digests.json"
    expected = weights_fingerprint([tiny_model_dir], cache_file=tmp_path / "other.json")
    for revision in ("rev1", "rev2"):
        assert weights_fingerprint([tmp_path / "hub" / "snapshots" / revision], cache_file=cache) == expected
    assert list(json.loads(cache.read_text())["files"]) == [os.path.realpath(blob)]


def test_missing_or_damaged_weights_are_explained(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "bin-only").mkdir()
    (tmp_path / "bin-only" / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelError, match="holds no weights in safetensors format"):
        weights_fingerprint([tmp_path / "bin-only"])
    data = (tiny_model_dir / "model.safetensors").read_bytes()
    for name, content, reason in (
        ("truncated", data[: len(data) - 100], "incomplete"),
        ("tiny", data[:5], "shorter than a safetensors header"),
        ("garbage", struct.pack("<Q", 12) + b"{not json!!}", "not valid JSON"),
        ("huge-header", struct.pack("<Q", 1 << 40) + b"{}", "header length is impossible"),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(content)
        with pytest.raises(ModelError, match=reason):
            weights_fingerprint([tmp_path / name])
    _write(tmp_path / "bad-shape.safetensors", {"x": ("F32", [3], b"\0" * 8)})
    (tmp_path / "bad-shape").mkdir()
    shutil.move(tmp_path / "bad-shape.safetensors", tmp_path / "bad-shape" / "model.safetensors")
    with pytest.raises(ModelError, match="as many bytes as its shape"):
        weights_fingerprint([tmp_path / "bad-shape"])
    _reshard(tiny_model_dir, tmp_path / "partial", shards=2)
    (tmp_path / "partial" / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelError, match=r"lacks model-00002-of-00002\.safetensors"):
        weights_fingerprint([tmp_path / "partial"])


def test_the_legacy_fingerprint_is_the_one_recorded_before(tmp_path: Path) -> None:
    """Pinned values from the previous ModelFiles.fingerprint(), for (folder) and (folder, base)."""
    model, adapter = tmp_path / "m", tmp_path / "b"
    (model / "sub").mkdir(parents=True)
    adapter.mkdir()
    (model / "config.json").write_text('{"model_type": "qwen2_vl"}')
    (model / "README.md").write_text("ignored")
    (model / ".gitattributes").write_text("ignored")
    (model / "sub" / "weights.bin").write_bytes(bytes(range(256)) * (5 * 4096))  # over 4 MiB
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "x"}')
    assert (
        legacy_folder_fingerprint([model])
        == "5e8ed7d43f37fe5cbe7fb372bcbd3b8e7f3a855221eb187026d5267f114e66e4"
    )
    assert (
        legacy_folder_fingerprint([adapter, model])
        == "e60b5f11335b52ffc67393c9709c6f593fec729328388d4ed4d0640e367e9765"
    )


# --- libraries built with the legacy fingerprint ------------------------------------------------


class _Model:
    """Stands in for a loaded model: a library only asks it for its identity when it opens."""

    def __init__(self, identity: ModelIdentity) -> None:
        self.identity = identity


@pytest.fixture()
def tiny_identity(tiny_model_dir: Path) -> ModelIdentity:
    """The tiny model's identity as a model load gives it: both fingerprints."""
    return ModelIdentity(
        "tiny",
        "local",
        weights_fingerprint([tiny_model_dir]),
        128,
        legacy_fingerprint=legacy_folder_fingerprint([tiny_model_dir]),
    )


def _legacy(identity: ModelIdentity) -> _Model:
    """The same model as a previous version identified it."""
    assert identity.legacy_fingerprint is not None
    return _Model(replace(identity, fingerprint=identity.legacy_fingerprint, legacy_fingerprint=None))


OTHER = ModelIdentity("other", "local", "f" * 64, 128, legacy_fingerprint="e" * 64)


def test_a_local_library_of_the_legacy_fingerprint_opens_and_is_migrated(
    tmp_path: Path, tiny_identity: ModelIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "library"
    LocalLibrary(folder, embedder=_legacy(tiny_identity)).close()
    with pytest.raises(ModelMismatchError, match="built with the model tiny"):
        LocalLibrary(folder, embedder=_Model(OTHER))  # negative control

    # Best effort: while another task writes, or when the catalog cannot be written, it opens
    # all the same, keeps the legacy record, and migrates at a later opening.
    busy = WriterLock(folder)
    with busy:
        library = LocalLibrary(folder, create=False, embedder=_Model(tiny_identity))
    library.close()
    with monkeypatch.context() as patch:

        def refuse(*args: object) -> bool:
            raise LibraryError("The library catalog could not be written: readonly database.")

        patch.setattr("docretriever.storage.catalog.Catalog.replace_meta", refuse)
        LocalLibrary(folder, create=False, embedder=_Model(tiny_identity)).close()
    library = LocalLibrary(folder, create=False)
    assert library.info().model_fingerprint == tiny_identity.legacy_fingerprint
    library.close()

    library = LocalLibrary(folder, create=False, embedder=_Model(tiny_identity))
    assert library.identity() == tiny_identity
    assert library.info().model_fingerprint == tiny_identity.fingerprint
    library.close()
    for model in (tiny_identity, replace(tiny_identity, legacy_fingerprint=None)):
        LocalLibrary(folder, create=False, embedder=_Model(model)).close()
    with pytest.raises(ModelMismatchError):
        LocalLibrary(folder, create=False, embedder=_Model(OTHER))


def test_a_qdrant_library_of_the_legacy_fingerprint_opens_and_is_migrated(
    tmp_path: Path, tiny_identity: ModelIdentity
) -> None:
    location = f"qdrant+local://{tmp_path}/qdrant/pages"
    QdrantLibrary(location, embedder=_legacy(tiny_identity)).close()
    # Negative control. The refused library releases the folder at once, even while its error
    # (and so the half-made library) is still held, as a dialog showing it would.
    with pytest.raises(ModelMismatchError, match="built with the model tiny") as refused:
        QdrantLibrary(location, embedder=_Model(OTHER))
    library = QdrantLibrary(location, create=False, embedder=_Model(tiny_identity))
    assert library.identity() == tiny_identity
    meta = library.store.meta()
    assert meta is not None and meta["model_fingerprint"] == tiny_identity.fingerprint
    assert meta["model_id"] == "tiny" and meta["dim"] == 128
    library.close()
    QdrantLibrary(
        location, create=False, embedder=_Model(replace(tiny_identity, legacy_fingerprint=None))
    ).close()
    other = QdrantLibrary(location, create=False)
    with pytest.raises(ModelMismatchError):
        other.adopt_identity(OTHER)
    other.close()
    assert refused.value is not None


def test_a_refusal_says_the_weights_differ_when_the_names_agree() -> None:
    from docretriever.library.model_refusal import model_mismatch

    wanted = ModelIdentity("vidore/colqwen2-v1.0", "b" * 40, "f" * 64, 128)
    other_name = str(model_mismatch("tiny", "local", wanted, "another library folder"))
    other_revision = str(model_mismatch("vidore/colqwen2-v1.0", "a" * 40, wanted, "another library folder"))
    same_names = str(model_mismatch("vidore/colqwen2-v1.0", "b" * 40, wanted, "another library folder"))
    assert "built with the model tiny" in other_name
    assert "vidore/colqwen2-v1.0@REVISION" in other_revision and "weights differ" in other_revision
    assert "weights of vidore/colqwen2-v1.0 here differ" in same_names


@pytest.mark.parametrize("back_end", ["local", "qdrant"])
def test_an_add_refused_for_another_model_leaves_the_library_as_it_was(
    tmp_path: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch, back_end: str
) -> None:
    """A file changed in place and a new file, added with another model: refused, and nothing
    of the library changes (the old version is not forgotten, nothing is pending, no folder
    is followed), because the model is checked before the first write for a file to index."""
    from conftest import SAMPLES, corpus_or_skip

    from docretriever.library import open_library

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(corpus_or_skip(SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf", docs / "a.pdf")
    location = str(tmp_path / "lib") if back_end == "local" else f"qdrant+local://{tmp_path}/q/pages"
    library = open_library(location, embedder=tiny_embedder)
    library.add([docs / "a.pdf"])
    library.close()

    def snapshot() -> tuple[object, ...]:
        opened = open_library(location, embedder=tiny_embedder)
        try:
            info = opened.info()
            documents = sorted((d.sha256, d.paths, d.status, d.page_count) for d in opened.documents())
            return documents, info.followed, info.counts.get("pages_indexed")
        finally:
            opened.close()

    before = snapshot()
    with open(docs / "a.pdf", "ab") as changed:  # new bytes at the same path
        changed.write(b"\n% edited\n")
    shutil.copy(corpus_or_skip(SAMPLES) / "001-trivial/minimal-document.pdf", docs / "b.pdf")
    monkeypatch.setattr(
        "docretriever.library.embedding_library.load_embedder", lambda *args, **kwargs: _Model(OTHER)
    )
    library = open_library(location)  # the model is loaded when a file needs it
    with pytest.raises(ModelMismatchError, match="built with the model tiny"):
        library.add([docs])
    library.close()
    monkeypatch.undo()
    assert snapshot() == before
