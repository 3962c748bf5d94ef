"""The models DocRetriever offers: what each is, costs and scores, from public sources.

Every figure here is copied from a public source named beside it, never estimated from memory;
``models/README.md`` is checked against this table by the tests. Quality is nDCG on the ViDoRe
benchmarks as published in the MTEB result files (github.com/embeddings-benchmark/results): v1
and v2 nDCG@5, v3 nDCG@10 averaged over its 10 tasks. Speed is not here: it depends on the
machine and is measured there (see :mod:`docretriever.embedding.speed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from docretriever.embedding.families import COLMODERNVBERT, COLQWEN2, COLQWEN2_5, COLQWEN3_5, ModelFamily

BYTES_PER_PARAMETER = {"float32": 4, "bfloat16": 2}


@dataclass(frozen=True, kw_only=True)
class Quality:
    """Published ViDoRe scores (percent), None where none is published, and where they are from."""

    vidore_v1: float | None
    vidore_v2: float | None
    vidore_v3: float | None
    source: str


@dataclass(frozen=True, kw_only=True)
class CatalogueEntry:
    """One model the app offers.

    ``hub_id``: the Hugging Face repository (owner/name). ``parameters``: the model's parameter
    count. ``download_bytes``: what the app downloads (weights, adapter, tokenizer and processor
    files), from the repositories' file listings. ``base_id``: the base model a LoRA adapter is
    put on, None for a full model. ``licence``: as published on the model card.
    ``cpu_visual_tokens``: a budget for a computer without a GPU, shown in the models table
    (fewer cells, faster, some recall lost; not applied by itself); None: the family's default.
    """

    hub_id: str
    name: str
    family: ModelFamily
    parameters: int
    row_dim: int
    licence: str
    download_bytes: int
    quality: Quality
    base_id: str | None = None
    cpu_visual_tokens: int | None = None
    summary: str = ""
    sources: tuple[str, ...] = ()

    def memory_bytes(self, dtype: str) -> int:
        """The weights' size in memory in ``dtype`` ("float32" on a CPU, "bfloat16" on a GPU),
        without the activations of a batch."""
        return self.parameters * BYTES_PER_PARAMETER[dtype]


# Where the figures are from (all read 2026-12; see models/README.md):
# - quality: the MTEB result files, github.com/embeddings-benchmark/results at f4cc6c8 (2026-08-20),
#   averaged over each benchmark's tasks (v1: 10 tasks, v2: 4, v3: all 10) and their language subsets;
# - parameters, licence, row width, memory: the models' ModelMeta in github.com/embeddings-benchmark/mteb
#   at a905523 (mteb/models/model_implementations/colqwen_models.py, colmodernvbert_models.py);
# - download sizes: the Hub repositories' file listings (weights, adapter, tokenizer and processor
#   files), or for the vultr models (listing not seen) MTEB's memory_usage_mb of their bf16 weights.
_RESULTS = "MTEB results f4cc6c8 (embeddings-benchmark/results), recomputed averages"

CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        hub_id="vidore/colqwen2-v1.0",
        name="ColQwen2 v1.0",
        family=COLQWEN2,
        parameters=2_210_000_000,
        row_dim=128,
        licence="MIT on the Hub; Apache-2.0 in MTEB and colpali-engine's README",
        # The base's two fp32 shards (4.98 + 3.85 GB), the adapter (74 MB), tokenizer files (16 MB).
        download_bytes=8_920_000_000,
        quality=Quality(vidore_v1=89.2, vidore_v2=56.0, vidore_v3=44.7, source=_RESULTS),
        base_id="vidore/colqwen2-base",
        cpu_visual_tokens=256,
        summary="the model DocRetriever was designed around (the default)",
    ),
    CatalogueEntry(
        hub_id="vidore/colqwen2.5-v0.2",
        name="ColQwen2.5 v0.2",
        family=COLQWEN2_5,
        parameters=3_000_000_000,
        row_dim=128,
        licence="MIT on the Hub; Apache-2.0 in MTEB and colpali-engine's README",
        # The base's shards (5 + 2.51 GB), the adapter (240 MB), tokenizer files (13 MB).
        download_bytes=7_760_000_000,
        quality=Quality(vidore_v1=89.5, vidore_v2=60.1, vidore_v3=51.9, source=_RESULTS),
        base_id="vidore/colqwen2.5-base",
        cpu_visual_tokens=256,
        summary="ColQwen2's successor: better on ViDoRe v2 and v3",
    ),
    CatalogueEntry(
        hub_id="vultr/VultronRetrieverFlash-Qwen3.5-0.8B",
        name="Vultron Flash 0.8B (ColQwen3.5)",
        family=COLQWEN3_5,
        parameters=853_341_916,
        row_dim=320,
        licence="Apache-2.0",
        download_bytes=1_707_000_000,
        quality=Quality(vidore_v1=88.2, vidore_v2=60.4, vidore_v3=56.2, source=_RESULTS),
        cpu_visual_tokens=256,
        summary="under 1 B parameters, for computers without a GPU; better than ColQwen2 on v2 and v3",
    ),
    CatalogueEntry(
        hub_id="vultr/VultronRetrieverCore-Qwen3.5-4.5B",
        name="Vultron Core 4.5B (ColQwen3.5)",
        family=COLQWEN3_5,
        parameters=4_540_085_056,
        row_dim=320,
        licence="Apache-2.0",
        download_bytes=9_080_000_000,
        quality=Quality(vidore_v1=92.2, vidore_v2=66.1, vidore_v3=63.6, source=_RESULTS),
        summary="for a GPU with 16 GB or more",
    ),
    CatalogueEntry(
        hub_id="vultr/VultronRetrieverPrime-Qwen3.5-8B",
        name="Vultron Prime 8B (ColQwen3.5)",
        family=COLQWEN3_5,
        parameters=8_394_006_064,
        row_dim=320,
        licence="Apache-2.0",
        download_bytes=16_788_000_000,
        quality=Quality(vidore_v1=92.1, vidore_v2=68.2, vidore_v3=64.3, source=_RESULTS),
        summary="the best published scores; for a GPU with 24 GB or more",
    ),
    CatalogueEntry(
        hub_id="ModernVBERT/colmodernvbert",
        name="ColModernVBert",
        family=COLMODERNVBERT,
        parameters=252_002_304,
        row_dim=128,
        licence="MIT",
        # Unverified: the file listing at MTEB's revision (9052fc0) was not seen, nor whether it
        # is a full model or an adapter over vidore/colmodernvbert-base. This is its weights in
        # float32 (MTEB's memory_usage_mb 961 = 252,002,304 x 4 bytes).
        download_bytes=1_008_000_000,
        # No ViDoRe v1 or v2 result files in MTEB's results; v3 over its 10 tasks.
        quality=Quality(vidore_v1=None, vidore_v2=None, vidore_v3=26.1, source=_RESULTS),
        summary="the smallest (252 M parameters, 512-px tiles); far below the others on ViDoRe v3",
    ),
)


def catalogue_entry(source: str) -> CatalogueEntry | None:
    """The entry of the model ``source`` names (a Hub id, with or without ``@revision``), or None
    for a model the catalogue does not list (a folder, another Hub model)."""
    repo_id = source.strip().partition("@")[0]
    for entry in CATALOGUE:
        if entry.hub_id.lower() == repo_id.lower():
            return entry
    return None
