"""What the page viewer draws over a page: the heat map and the region boxes.

Drawn in PDF points of the displayed page (the frame of ``Hit.regions``), so both stay put when
the page image underneath is re-rendered at another resolution.
"""

from __future__ import annotations

import numpy as np
import shiboken6
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem

from docretriever.highlight import Region

HEAT_CELL_PX = 16  # resolution of the upsampled heat image per grid cell; the view smooths the rest
_BOX_COLOUR = QColor(220, 30, 30)


def heat_image(heat: np.ndarray, cell_px: int = HEAT_CELL_PX) -> QImage:
    """An RGBA image of a (n_y, n_x) heat map in [0, 1], upsampled bilinearly by ``cell_px``.

    Warm colours as in ``draw_highlights``: orange turning red as the heat rises, with an alpha
    equal to the heat, so cold cells are fully transparent and the page shows through.
    """
    n_y, n_x = heat.shape
    grey = Image.fromarray(np.uint8(np.clip(heat, 0.0, 1.0) * 255), mode="L")
    level = np.asarray(grey.resize((n_x * cell_px, n_y * cell_px), Image.Resampling.BILINEAR))
    height, width = level.shape
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = np.uint8(200 - (200 * level.astype(np.uint16)) // 255)
    rgba[..., 2] = 0
    rgba[..., 3] = level
    data = np.ascontiguousarray(rgba).tobytes()
    return QImage(data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


def stretch_onto_page(
    item: QGraphicsPixmapItem, size: tuple[int, int], page_size: tuple[float, float]
) -> None:
    """Scale a pixmap item of ``size`` pixels so that it covers the page rectangle exactly."""
    item.setTransform(QTransform.fromScale(page_size[0] / size[0], page_size[1] / size[1]))


class HighlightOverlay(QGraphicsRectItem):
    """The heat map and the region boxes over the page; its opacity applies to both."""

    def __init__(self) -> None:
        super().__init__()
        self.setPen(Qt.PenStyle.NoPen)
        self.heat: np.ndarray = np.zeros((1, 1), dtype=np.float32)
        self.heat_item = QGraphicsPixmapItem(self)
        self.heat_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.boxes: list[QGraphicsRectItem] = []

    def show_highlights(
        self, heat: np.ndarray, regions: list[Region], page_size: tuple[float, float]
    ) -> None:
        """Replace what is drawn: ``regions`` are in points of the displayed page."""
        self.setRect(0, 0, *page_size)
        self.heat = heat
        image = heat_image(heat)
        self.heat_item.setPixmap(QPixmap.fromImage(image))
        stretch_onto_page(self.heat_item, (image.width(), image.height()), page_size)
        for box in self.boxes:
            shiboken6.delete(box)  # also takes it out of this item and the scene
        pen = QPen(_BOX_COLOUR, 2)
        pen.setCosmetic(True)  # the same 2 px on screen at every zoom
        self.boxes = []
        for region in regions:
            box = QGraphicsRectItem(region.x0, region.y0, region.x1 - region.x0, region.y1 - region.y0, self)
            box.setPen(pen)
            self.boxes.append(box)
