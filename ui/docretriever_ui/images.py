"""Converting the core's PIL images for Qt."""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage


def to_qimage(image: Image.Image) -> QImage:
    """An independent RGB888 QImage copy of a PIL image (safe to make on a worker thread)."""
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # the copy owns its pixels; ``data`` may be freed
