"""The list of models the set-up dialog offers: one row per catalogue model with its published
quality, download size, memory, licence, whether it is here and how fast it read a page here.

It shows what :func:`docretriever.embedding.model_choice.model_choice` computed and nothing
more; the dialog decides what choosing a row does.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from docretriever.embedding.model_choice import ModelChoice, ModelRow
from docretriever.embedding.speed import SpeedMeasurement

COLUMNS = ("Model", "ViDoRe v1 / v2 / v3", "Download", "Memory CPU / GPU", "Licence", "Here", "Speed here")
SPEED_COLUMN = COLUMNS.index("Speed here")
_HUB_ID = Qt.ItemDataRole.UserRole
RECOMMENDED = " (recommended)"


class ModelChoiceList(QWidget):
    """The catalogue as a one-choice list, the recommended model labelled and explained above it.

    ``chosen`` is emitted with the Hub id of the row that becomes current, by a click, the keys,
    or :meth:`select`.
    """

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice: ModelChoice | None = None
        self.recommendation_label = QLabel("Looking at this computer…")
        self.recommendation_label.setWordWrap(True)
        self.recommendation_label.setTextFormat(Qt.TextFormat.RichText)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setMinimumHeight(150)
        self.tree.currentItemChanged.connect(self._current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.recommendation_label)
        layout.addWidget(self.tree)

    def show_choice(self, choice: ModelChoice) -> None:
        """Fill the list with ``choice``'s rows (nothing selected) and say which is recommended
        and why."""
        self.choice = choice
        self.tree.blockSignals(True)
        self.tree.clear()
        for row in choice.rows:
            self.tree.addTopLevelItem(_item(row))
        self.tree.blockSignals(False)
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        # Wide enough for every column, so "Speed here" is seen without scrolling.
        columns = sum(self.tree.columnWidth(column) for column in range(len(COLUMNS)))
        self.tree.setMinimumWidth(min(columns + 2 * self.tree.frameWidth() + 4, 1200))
        recommended = choice.recommended.entry
        self.recommendation_label.setText(
            f"Recommended for this computer: <b>{escape(recommended.name)}</b>. Found {escape(choice.reason)}"
        )

    def _items(self) -> list[QTreeWidgetItem]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item for item in items if item is not None]

    def hub_ids(self) -> list[str]:
        """The Hub ids listed, in order."""
        return [str(item.data(0, _HUB_ID)) for item in self._items()]

    def selected(self) -> str | None:
        """The Hub id of the current row, None when none is."""
        item = self.tree.currentItem()
        return str(item.data(0, _HUB_ID)) if item is not None else None

    def select(self, hub_id: str) -> bool:
        """Make the row of ``hub_id`` (case and ``@revision`` ignored) current; False when no row is
        that model, and then none is current."""
        wanted = hub_id.strip().partition("@")[0].lower()
        for item in self._items():
            if str(item.data(0, _HUB_ID)).lower() == wanted:
                self.tree.setCurrentItem(item)
                return True
        self.tree.setCurrentIndex(QModelIndex())
        return False

    def row_text(self, hub_id: str, column: int) -> str:
        """What the row of ``hub_id`` shows in ``column`` ("" when no row is that model)."""
        for item in self._items():
            if item.data(0, _HUB_ID) == hub_id:
                return item.text(column)
        return ""

    def show_speed(self, hub_id: str, measurement: SpeedMeasurement) -> None:
        """Put a new measurement in the row of ``hub_id`` (when listed)."""
        for item in self._items():
            if str(item.data(0, _HUB_ID)).lower() == hub_id.partition("@")[0].lower():
                item.setText(SPEED_COLUMN, measurement.describe())
                item.setText(COLUMNS.index("Here"), "yes")

    def _current_changed(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        if current is not None:
            self.chosen.emit(str(current.data(0, _HUB_ID)))


def _item(row: ModelRow) -> QTreeWidgetItem:
    entry = row.entry
    name = entry.name + (RECOMMENDED if row.recommended else "")
    item = QTreeWidgetItem(
        [
            name,
            row.quality_text,
            row.download_text,
            row.memory_text,
            # The first clause ("MIT on the Hub"); the whole statement is the tooltip.
            entry.licence.split(";")[0],
            "yes" if row.here else "no",
            row.speed_text,
        ]
    )
    item.setData(0, _HUB_ID, entry.hub_id)
    item.setToolTip(0, f"{entry.hub_id}: {entry.summary}" if entry.summary else entry.hub_id)
    item.setToolTip(1, entry.quality.source)
    item.setToolTip(3, "The weights in float32 on a CPU / in bfloat16 on a GPU")
    item.setToolTip(4, entry.licence)
    if row.recommended:
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
    return item
