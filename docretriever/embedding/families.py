"""The model families DocRetriever loads, told apart by their checkpoint's ``model_type``.

A family is what decides how a checkpoint is run and read back: which colpali-engine classes
load it, how it cuts a page into cells (its :class:`~docretriever.embedding.geometry.CellGeometry`),
the width of its rows, and what goes before a query. Everything here is known without torch,
so a library can say which family built it, and check a budget, before any model is loaded.

Sources: the colpali-engine 0.3.18 classes named below (their processors' prompts and
augmentation token), transformers 5.23's Qwen2-VL / Qwen3-VL image processors (patch 14 or 16,
merge 2) and its Idefics3 image processor and ModernVBert model (512-px tiles of 8 x 8 cells), and
the configurations of the published checkpoints (see :mod:`docretriever.embedding.catalogue`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from docretriever.embedding.geometry import COLQWEN2_GEOMETRY, CellGeometry, TiledGeometry
from docretriever.errors import InvalidInputError, ModelError


@dataclass(frozen=True, kw_only=True)
class ModelFamily:
    """One family of late-interaction page retrievers.

    ``model_types``: the ``model_type`` values of its checkpoints' ``config.json``.
    ``model_class`` and ``processor_class``: the colpali-engine classes (names in
    ``colpali_engine.models``) that load it. ``row_dim``: the width of its embedding rows when
    the checkpoint does not say (ColQwen2: 128; the Qwen3-VL ColQwen3: 320); the loaded model's
    own ``dim`` wins. ``query_prefix``: what its checkpoints were trained to see before a
    query. ``augmentation_tokens``: how many of the processor's query augmentation tokens follow
    the query (colpali-engine's training collator appends 10). ``width_from_config``: the class
    sizes its projection from ``config.dim`` (ColQwen3_5: ``getattr(config, "dim", 128)``).
    """

    name: str
    model_types: tuple[str, ...]
    model_class: str
    processor_class: str
    geometry: CellGeometry
    row_dim: int
    query_prefix: str
    augmentation_tokens: int = 10
    width_from_config: bool = False


# Qwen3-VL and Qwen3.5 vision: 16-px patches merged 2 x 2 into 32-px cells. The processors of
# the published checkpoints take at least 64 cells (shortest_edge 65,536 px, the Qwen3-VL
# preprocessor default) and at most 16,384 (longest_edge 16,777,216 px).
QWEN3_GEOMETRY_LIMITS = {"cell_px": 32, "min_cells": 64, "max_cells": 16_384}

COLQWEN2 = ModelFamily(
    name="ColQwen2",
    model_types=("qwen2_vl",),
    model_class="ColQwen2",
    processor_class="ColQwen2Processor",
    geometry=COLQWEN2_GEOMETRY,
    row_dim=128,
    # The vidore checkpoints were trained with this prefix; colpali-engine >= 0.3.13 stopped adding it.
    query_prefix="Query: ",
)
COLQWEN2_5 = ModelFamily(
    name="ColQwen2.5",
    model_types=("qwen2_5_vl",),
    model_class="ColQwen2_5",
    processor_class="ColQwen2_5_Processor",
    geometry=CellGeometry(family="ColQwen2.5", cell_px=28, min_cells=4, max_cells=16_384, default_cells=768),
    row_dim=128,
    query_prefix="Query: ",
)
COLQWEN3 = ModelFamily(
    name="ColQwen3",
    model_types=("qwen3_vl",),
    model_class="ColQwen3",
    processor_class="ColQwen3Processor",
    geometry=CellGeometry(family="ColQwen3", default_cells=1280, **QWEN3_GEOMETRY_LIMITS),
    row_dim=320,
    query_prefix="",
)
COLQWEN3_5 = ModelFamily(
    name="ColQwen3.5",
    model_types=("qwen3_5",),
    model_class="ColQwen3_5",
    processor_class="ColQwen3_5Processor",
    geometry=CellGeometry(family="ColQwen3.5", default_cells=1280, **QWEN3_GEOMETRY_LIMITS),
    row_dim=320,
    # The vultr checkpoints' rows are 320 wide (MTEB's ModelMeta); whether their config.json says
    # "dim": 320 is not published, so the width is read from the weights.
    query_prefix="",
    width_from_config=True,
)

# ColModernVBert (ModernVBERT/colmodernvbert): SigLIP vision on 512-px tiles (the Idefics3
# image processor's max_image_size), 16-px patches pixel-shuffled 4 x 4 into 8 x 8 cells of 64 px
# per tile (its processor_config.json: image_seq_len 64). The default, 16 tiles, is what
# colpali-engine's default longest_edge of 2048 px gives a letter or A4 page (4 x 4 tiles); the
# checkpoint's own preprocessor_config.json was not seen. At most 6 tiles a side: the Idefics3
# processor and tokenizer know <row_r_col_c> markers up to 6.
COLMODERNVBERT = ModelFamily(
    name="ColModernVBert",
    model_types=("modernvbert",),  # transformers 5.23's ModernVBertConfig.model_type
    model_class="ColModernVBert",
    processor_class="ColModernVBertProcessor",
    geometry=TiledGeometry(
        family="ColModernVBert",
        cell_px=64,
        tile_px=512,
        max_tiles_per_side=6,
        min_cells=64,
        max_cells=36 * 64,
        default_cells=16 * 64,
    ),
    row_dim=128,
    # MTEB's ColModernVBertWrapper passes no prefix; colpali-engine's processor has none.
    query_prefix="",
)

FAMILIES: tuple[ModelFamily, ...] = (COLQWEN2, COLQWEN2_5, COLQWEN3, COLQWEN3_5, COLMODERNVBERT)
DEFAULT_FAMILY = COLQWEN2


def family_named(name: str) -> ModelFamily:
    """The family called ``name`` (as :attr:`ModelFamily.name`, e.g. "ColQwen3.5"). Raises
    :class:`ModelError` for a name DocRetriever does not know (a library written by a newer
    version)."""
    for family in FAMILIES:
        if family.name == name:
            return family
    raise ModelError(
        f"This library was built with a {name} model, which this version of DocRetriever cannot load; "
        "update DocRetriever."
    )


def family_of_model_type(model_type: str | None, model_id: str) -> ModelFamily:
    """The family whose checkpoints have ``model_type``. Raises :class:`ModelError` naming the
    families DocRetriever loads for any other (``model_id`` names the model in the message)."""
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    names = ", ".join(family.name for family in FAMILIES)
    raise ModelError(
        f"{model_id} is not a model DocRetriever can load (its model type is {model_type or 'unknown'}); "
        f"it loads {names} checkpoints in the colpali-engine layout, such as vidore/colqwen2-v1.0. "
        "`docretriever models` lists the supported models."
    )


def read_model_type(*folders: Path | None) -> str | None:
    """The ``model_type`` in the first of ``folders`` that has a ``config.json`` (a LoRA
    adapter's folder has none: its base's says). None when none has one or it cannot be read."""
    for folder in folders:
        if folder is None:
            continue
        config = Path(folder) / "config.json"
        try:
            value = json.loads(config.read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            continue
        return str(value) if value else None
    return None


def check_cells_of_any_family(cells: int) -> None:
    """Raise :class:`InvalidInputError` unless some family takes a budget of ``cells`` cells: the
    check for a budget given before the model is known (the library's, or the default)."""
    fewest = min(family.geometry.min_cells for family in FAMILIES)
    most = max(family.geometry.max_cells for family in FAMILIES)
    if not fewest <= cells <= most:
        raise InvalidInputError(
            f"The visual-token budget must be at least {fewest:,} and at most {most:,} (the most any "
            f"model DocRetriever loads takes per page), not {cells:,}; `docretriever models` lists "
            "each model's limits."
        )
