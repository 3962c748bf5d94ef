"""Drawing a heat map and region boxes onto a rendered page image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from docretriever.highlight.regions import Region

_BOX_COLOUR = (220, 30, 30)


def draw_highlights(
    image: Image.Image,
    heat: np.ndarray,
    regions: Sequence[Region],
    page_size: tuple[float, float],
    *,
    opacity: float = 0.45,
) -> Image.Image:
    """Return a copy of ``image`` with the heat map blended in and the regions outlined.

    Args:
        image: the page rendered upright (as displayed), any size.
        heat: shape (n_y, n_x), values in [0, 1].
        regions: boxes in points of the displayed page (see :func:`find_regions`).
        page_size: (width, height) of the displayed page in points.
        opacity: strength of the heat overlay where the heat is 1.
    """
    base = image.convert("RGB")
    width, height = base.size
    heat_image = Image.fromarray(np.uint8(np.clip(heat, 0, 1) * 255), mode="L")
    heat_image = heat_image.resize((width, height), Image.Resampling.BILINEAR)
    level = np.asarray(heat_image, dtype=np.float32) / 255.0
    # Warm colours: transparent where cold, through orange to red where hot.
    colour = np.stack([np.full_like(level, 255), 200 * (1 - level), np.zeros_like(level)], axis=-1)
    alpha = (opacity * level)[..., None]
    blended = np.asarray(base, dtype=np.float32) * (1 - alpha) + colour * alpha
    result = Image.fromarray(np.uint8(np.clip(blended, 0, 255)), mode="RGB")
    draw = ImageDraw.Draw(result)
    scale_x, scale_y = width / page_size[0], height / page_size[1]
    line = max(2, round(min(width, height) / 300))
    for region in regions:
        draw.rectangle(
            (region.x0 * scale_x, region.y0 * scale_y, region.x1 * scale_x, region.y1 * scale_y),
            outline=_BOX_COLOUR,
            width=line,
        )
    return result
