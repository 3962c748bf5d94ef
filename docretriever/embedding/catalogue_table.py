"""The catalogue as a Markdown table: what ``models/README.md`` shows, checked by the tests.

``python -m docretriever.embedding.catalogue_table`` prints it.
"""

from __future__ import annotations

from docretriever.embedding.catalogue import CATALOGUE, CatalogueEntry
from docretriever.embedding.geometry import TiledGeometry

TABLE_START = "<!-- catalogue table: python -m docretriever.embedding.catalogue_table -->"
TABLE_END = "<!-- end of catalogue table -->"


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:.1f} GB"


def _parameters(count: int) -> str:
    return f"{count / 1e9:.2f} B" if count >= 1e9 else f"{count / 1e6:.0f} M"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _row(entry: CatalogueEntry) -> str:
    geometry = entry.family.geometry
    quality = entry.quality
    tiles = f" in {geometry.tile_px}-px tiles" if isinstance(geometry, TiledGeometry) else ""
    cells = f"{geometry.cell_px} px{tiles}, {geometry.default_cells:,}"
    if entry.cpu_visual_tokens:
        cells += f" ({entry.cpu_visual_tokens} on CPU)"
    default = " (default)" if entry is CATALOGUE[0] else ""
    scores = " / ".join(_score(value) for value in (quality.vidore_v1, quality.vidore_v2, quality.vidore_v3))
    memory = f"{_gigabytes(entry.memory_bytes('float32'))} / {_gigabytes(entry.memory_bytes('bfloat16'))}"
    columns = (
        f"`{entry.hub_id}`{default}",
        entry.family.name,
        _parameters(entry.parameters),
        str(entry.row_dim),
        cells,
        scores,
        _gigabytes(entry.download_bytes),
        memory,
        entry.licence,
    )
    return "| " + " | ".join(columns) + " |"


def catalogue_markdown() -> str:
    """The table of every catalogue entry, between :data:`TABLE_START` and :data:`TABLE_END`."""
    header = (
        "| `--model` | family | parameters | row width | cell, cells per page | ViDoRe v1 / v2 / v3 "
        "| download | memory CPU (fp32) / GPU (bf16) | licence |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    rows = "\n".join(_row(entry) for entry in CATALOGUE)
    return f"{TABLE_START}\n{header}\n{rows}\n{TABLE_END}"


if __name__ == "__main__":
    print(catalogue_markdown())
