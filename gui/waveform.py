"""The waveform view: pyqtgraph with peak downsampling, a draggable selection and overlays."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal

from voicemend.gui.document import Document

OVERVIEW_POINTS = 20_000  # min/max pairs for the whole-file trace; zooming shows detail
DETECTION_BRUSH = (230, 80, 60, 70)
REPAIR_BRUSH = (60, 180, 90, 70)


class WaveformView(pg.PlotWidget):
    """Shows channel 0 of the edited audio; emits the selection in seconds."""

    selectionChanged = pyqtSignal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.showGrid(x=True, y=False, alpha=0.2)
        self.setLabel("bottom", "time", units="s")
        self.setMouseEnabled(x=True, y=False)
        self.curve = self.plot(pen=pg.mkPen((40, 90, 160), width=1))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.selection = pg.LinearRegionItem(values=(0, 0), brush=(80, 120, 220, 60))
        self.selection.sigRegionChanged.connect(self._emit_selection)
        self.addItem(self.selection)
        self.playhead = pg.InfiniteLine(0, pen=pg.mkPen((200, 30, 30), width=1))
        self.addItem(self.playhead)
        self.overlays: list[pg.LinearRegionItem] = []
        self.document: Document | None = None

    def set_document(self, document: Document) -> None:
        self.document = document
        self.refresh()
        self.setXRange(0, document.duration_s, padding=0.01)

    def refresh(self) -> None:
        doc = self.document
        if doc is None:
            return
        x = doc.edited(0, doc.n_frames)[0]
        t = np.arange(x.size, dtype=np.float64) / doc.sample_rate
        self.curve.setData(t, x)
        self.setYRange(-1, 1, padding=0.02)

    def set_overlays(
        self, detections_s: list[tuple[float, float]], repairs_s: list[tuple[float, float]]
    ) -> None:
        for item in self.overlays:
            self.removeItem(item)
        self.overlays = []
        for spans, brush in ((detections_s, DETECTION_BRUSH), (repairs_s, REPAIR_BRUSH)):
            for a, b in spans:
                item = pg.LinearRegionItem(values=(a, b), brush=brush, movable=False)
                self.addItem(item)
                self.overlays.append(item)

    def select(self, start_s: float, end_s: float) -> None:
        self.selection.setRegion((start_s, end_s))

    def selected(self) -> tuple[float, float]:
        a, b = self.selection.getRegion()
        return float(min(a, b)), float(max(a, b))

    def zoom_to(self, start_s: float, end_s: float, margin_s: float = 0.2) -> None:
        self.setXRange(max(0.0, start_s - margin_s), end_s + margin_s, padding=0)

    def _emit_selection(self) -> None:
        a, b = self.selected()
        self.selectionChanged.emit(a, b)
