"""From a hit's similarity map to regions on the page: pure functions on numpy arrays.

Coordinates are PDF points of the page as displayed (rotation applied), origin at the top-left,
x to the right and y down: the frame of the rendered page image, scaled to points. Where each
cell lies on the page is the model's geometry, not known here: the caller passes each cell's box
(see :meth:`docretriever.embedding.geometry.CellGeometry.cell_boxes`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

# Each token's similarities are stretched between its median and its maximum and raised to this
# power, so that a cell counts only where it is close to that token's best match on the page.
SHARPNESS = 4.0


@dataclass(frozen=True)
class Region:
    """A box on the displayed page in points (origin top-left) with a weight in (0, 1]."""

    x0: float
    y0: float
    x1: float
    y1: float
    weight: float

    def as_dict(self) -> dict[str, float]:
        return {
            "x0": round(self.x0, 2),
            "y0": round(self.y0, 2),
            "x1": round(self.x1, 2),
            "y1": round(self.y1, 2),
            "weight": round(self.weight, 4),
        }


def heat_map(similarity: np.ndarray, tokens: np.ndarray | None = None) -> np.ndarray:
    """Aggregate per-token similarity maps into one map of where the query matched.

    Args:
        similarity: float32, shape (n_query_tokens, n_y, n_x), dot products per cell.
        tokens: optional bool mask, shape (n_query_tokens,), of the tokens to include (for
            instance one word of the query); all tokens when None.

    Returns:
        float32, shape (n_y, n_x), in [0, 1] with its maximum at 1 (all zeros when nothing
        stands out). Each token contributes (its similarity stretched between its median and
        its maximum) ** SHARPNESS, weighted by its maximum, i.e. its share of the MaxSim score.
    """
    selected = similarity if tokens is None else similarity[np.asarray(tokens, dtype=bool)]
    if selected.size == 0:
        return np.zeros(similarity.shape[1:], dtype=np.float32)
    flat = selected.reshape(len(selected), -1).astype(np.float32)
    low = np.median(flat, axis=1, keepdims=True)
    high = flat.max(axis=1, keepdims=True)
    spread = np.maximum(high - low, 1e-6)
    stretched = np.clip((flat - low) / spread, 0.0, 1.0) ** SHARPNESS
    heat = (stretched * np.maximum(high, 0.0)).sum(axis=0)
    peak = heat.max()
    if peak <= 0:
        return np.zeros(similarity.shape[1:], dtype=np.float32)
    return (heat / peak).reshape(similarity.shape[1:]).astype(np.float32)


def find_regions(
    heat: np.ndarray,
    cell_boxes: np.ndarray,
    *,
    threshold: float = 0.5,
    max_regions: int = 5,
) -> list[Region]:
    """Boxes around the connected groups of cells whose heat is at least ``threshold``.

    Args:
        heat: shape (n_y, n_x), values in [0, 1] (see :func:`heat_map`).
        cell_boxes: float, shape (n_y, n_x, 4): each cell's (x0, y0, x1, y1) on the displayed
            page in points, from the model's geometry.

    Returns:
        At most ``max_regions`` regions, heaviest first; a region is the smallest box holding
        its cells' boxes, and its weight the highest heat among its cells. Cells are
        4-connected. Raises ValueError when ``cell_boxes`` is not one box per cell of ``heat``.
    """
    n_y, n_x = heat.shape
    boxes = np.asarray(cell_boxes, dtype=np.float64)
    if boxes.shape != (n_y, n_x, 4):
        raise ValueError(f"cell boxes of shape {boxes.shape} for a heat map of shape {heat.shape}")
    hot = heat >= threshold
    seen = np.zeros_like(hot)
    found: list[Region] = []
    for start_y, start_x in zip(*np.nonzero(hot), strict=True):
        if seen[start_y, start_x]:
            continue
        seen[start_y, start_x] = True
        queue = deque([(int(start_y), int(start_x))])
        x0, y0, x1, y1 = (float(v) for v in boxes[start_y, start_x])
        peak = 0.0
        while queue:
            y, x = queue.popleft()
            peak = max(peak, float(heat[y, x]))
            box = boxes[y, x]
            x0, y0 = min(x0, float(box[0])), min(y0, float(box[1]))
            x1, y1 = max(x1, float(box[2])), max(y1, float(box[3]))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < n_y and 0 <= nx < n_x and hot[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        found.append(Region(x0, y0, x1, y1, peak))
    found.sort(key=lambda region: region.weight, reverse=True)
    return found[:max_regions]


def to_unrotated(
    box: tuple[float, float, float, float], rotation: int, page_size: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Map a box from the displayed page to the page's unrotated coordinates.

    This is what PDF annotations need (PyMuPDF: ``rect * page.derotation_matrix``).
    ``page_size`` is the displayed (width, height); ``rotation`` the page's /Rotate in degrees:
    a multiple of 90 (negative or over 360 too); any other value counts as 0, as viewers (and
    :func:`docretriever.documents.pdf.viewer_rotation`) treat it.
    """
    width, height = page_size
    x0, y0, x1, y1 = box
    rotation = int(rotation) % 360 if rotation % 90 == 0 else 0
    if rotation == 0:
        corners = [(x0, y0), (x1, y1)]
    elif rotation == 90:
        corners = [(y, width - x) for x, y in ((x0, y0), (x1, y1))]
    elif rotation == 180:
        corners = [(width - x, height - y) for x, y in ((x0, y0), (x1, y1))]
    elif rotation == 270:
        corners = [(height - y, x) for x, y in ((x0, y0), (x1, y1))]
    else:  # unreachable: the rotation was reduced to one of the four above
        raise AssertionError(rotation)
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return (min(xs), min(ys), max(xs), max(ys))
