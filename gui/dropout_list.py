"""The detected-dropouts list: time, length, kind, confidence, channels; repair one, all, or
ignore."""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voicemend.engine.detect import Detection, channel_names
from voicemend.engine.regions import format_time_s

CHANNELS_COLUMN = 4


class DropoutList(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["time", "length", "kind", "confidence", "ch"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.repair_button = QPushButton("Repair")
        self.repair_all_button = QPushButton("Repair all")
        self.ignore_button = QPushButton("Ignore")
        buttons = QHBoxLayout()
        for b in (self.repair_button, self.repair_all_button, self.ignore_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.detections: list[Detection] = []

    def set_detections(
        self, detections: list[Detection], sample_rate: int, n_channels: int = 1
    ) -> None:
        self.detections = list(detections)
        self.table.setRowCount(len(detections))
        for row, d in enumerate(detections):
            start_s, end_s = d.seconds(sample_rate)
            cells = [
                format_time_s(start_s),
                f"{1000 * (end_s - start_s):.1f} ms",
                d.kind.value,
                f"{d.confidence:.2f}",
                channel_names(d.channels, n_channels),
            ]
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        # which channels: a stereo file's dropout may be in one side only; a mono one's is not
        self.table.setColumnHidden(CHANNELS_COLUMN, n_channels == 1)
        self.table.resizeColumnsToContents()  # every column readable without scrolling

    def current(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def remove_row(self, row: int) -> Detection:
        self.table.removeRow(row)
        return self.detections.pop(row)
