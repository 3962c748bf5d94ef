"""The catalogue as a person chooses from it: each model's figures in words, whether it is on
this computer, how fast it read a page here, and which one suits this computer.

Both shells show these rows (``docretriever models`` and the app's model dialog); neither
computes anything of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docretriever.embedding.catalogue import CATALOGUE, CatalogueEntry
from docretriever.embedding.hardware import Hardware, detect_hardware, recommend, why_recommended
from docretriever.embedding.speed import SpeedMeasurement, cached_speed
from docretriever.progress import format_bytes

NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class ModelRow:
    """One catalogue model for this computer: ``here`` when its files are all on this computer,
    ``speed`` its newest measurement here (None: never measured), ``recommended`` when it is the
    one :func:`~docretriever.embedding.hardware.recommend` picks for it."""

    entry: CatalogueEntry
    here: bool
    speed: SpeedMeasurement | None
    recommended: bool

    @property
    def parameters_text(self) -> str:
        """ "2.2 B", "853 M"."""
        count = self.entry.parameters
        return f"{count / 1e9:.1f} B" if count >= 1e9 else f"{count / 1e6:.0f} M"

    @property
    def quality_text(self) -> str:
        """ViDoRe v1 / v2 / v3 as published: "89.2 / 56.0 / 44.7" ("-" where none is)."""
        quality = self.entry.quality
        scores = (quality.vidore_v1, quality.vidore_v2, quality.vidore_v3)
        return " / ".join("-" if score is None else f"{score:.1f}" for score in scores)

    @property
    def download_text(self) -> str:
        return format_bytes(self.entry.download_bytes)

    @property
    def memory_text(self) -> str:
        """The weights in memory: float32 on a CPU, bfloat16 on a GPU: "8.8 GB / 4.4 GB"."""
        cpu, gpu = self.entry.memory_bytes("float32"), self.entry.memory_bytes("bfloat16")
        return f"{format_bytes(cpu)} / {format_bytes(gpu)}"

    @property
    def cells_text(self) -> str:
        """The page budget: cell size, default cells and the range the model takes:
        "32 px 1,280 (64-16,384)"."""
        geometry = self.entry.family.geometry
        return (
            f"{geometry.cell_px} px {geometry.default_cells:,} "
            f"({geometry.min_cells:,}-{geometry.max_cells:,})"
        )

    @property
    def speed_text(self) -> str:
        """The measured seconds per page here, or "not measured"."""
        return self.speed.describe() if self.speed else NOT_MEASURED

    def as_json(self) -> dict[str, Any]:
        """The row for ``docretriever models --json``: figures as numbers, sizes in bytes."""
        entry, quality = self.entry, self.entry.quality
        return {
            "id": entry.hub_id,
            "name": entry.name,
            "family": entry.family.name,
            "parameters": entry.parameters,
            "row_dim": entry.row_dim,
            "cell_px": entry.family.geometry.cell_px,
            "default_visual_tokens": entry.family.geometry.default_cells,
            "min_visual_tokens": entry.family.geometry.min_cells,
            "max_visual_tokens": entry.family.geometry.max_cells,
            "vidore_v1": quality.vidore_v1,
            "vidore_v2": quality.vidore_v2,
            "vidore_v3": quality.vidore_v3,
            "quality_source": quality.source,
            "download_bytes": entry.download_bytes,
            "memory_bytes_float32_cpu": entry.memory_bytes("float32"),
            "memory_bytes_bfloat16_gpu": entry.memory_bytes("bfloat16"),
            "licence": entry.licence,
            "on_this_computer": self.here,
            "seconds_per_page": self.speed.seconds_per_page if self.speed else None,
            "measured_on": self.speed.device if self.speed else None,
            "measured_visual_tokens": self.speed.visual_tokens if self.speed else None,
            "recommended": self.recommended,
        }


@dataclass(frozen=True)
class ModelChoice:
    """The rows, in catalogue order, and why the recommended one is recommended."""

    rows: tuple[ModelRow, ...]
    hardware: Hardware
    reason: str

    @property
    def recommended(self) -> ModelRow:
        return next(row for row in self.rows if row.recommended)


def model_choice(
    hardware: Hardware | None = None,
    *,
    available: Callable[[str], bool] | None = None,
    cache_file: Path | None = None,
    catalogue: tuple[CatalogueEntry, ...] = CATALOGUE,
) -> ModelChoice:
    """The catalogue for ``hardware`` (this computer's, detected, when None): which models are
    on this computer (``available``, default
    :func:`~docretriever.embedding.model_files.model_is_available`: looks at the disk only), their
    cached speed here and the recommendation. Loads no model and asks no server."""
    if available is None:
        from docretriever.embedding.model_files import model_is_available

        available = model_is_available
    if hardware is None:
        hardware = detect_hardware()
    chosen = recommend(hardware, catalogue)
    rows = tuple(
        ModelRow(
            entry=entry,
            here=available(entry.hub_id),
            speed=cached_speed(entry.hub_id, hardware.machine_key, cache_file=cache_file),
            recommended=entry is chosen,
        )
        for entry in catalogue
    )
    return ModelChoice(rows, hardware, why_recommended(hardware, chosen))
