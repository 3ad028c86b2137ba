"""The waveform view: peak-pyramid traces, raw samples up close, selection, overlays, playhead.

Only what is on screen is drawn: a min/max envelope from the pyramid level that fits the view's
width, or every channel's samples once a pyramid bin would be wider than a pixel. Either the
edited or the original audio is shown (A/B).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal

from voicemend.gui.document import Document
from voicemend.gui.peaks import BIN_FRAMES, PeakPyramid, copy_pyramid
from voicemend.gui.spans import SpanLayer

DETECTION_BRUSH = (230, 80, 60, 70)
REPAIR_BRUSH = (60, 180, 90, 70)
CHANNEL_PENS = ((40, 90, 160), (200, 120, 40), (60, 150, 60), (150, 60, 150))
# Changed ranges closer than this are re-read as one, up to this many frames in a read.
MERGE_GAP_FRAMES = 1 << 14
MERGED_READ_FRAMES = 1 << 20


def merged_ranges(ranges: list[tuple[int, int]], most: int) -> list[tuple[int, int]]:
    """``ranges`` sorted, overlapping or near ones (MERGE_GAP_FRAMES) joined while the result
    stays within ``most`` frames."""
    out: list[list[int]] = []
    for start, end in sorted(ranges):
        if (
            out
            and start - out[-1][1] <= MERGE_GAP_FRAMES
            and max(end, out[-1][1]) - out[-1][0] <= most
        ):
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]


class WaveformView(pg.PlotWidget):
    """Emits the selection in seconds; ``show_original`` switches the trace to the source (A/B)."""

    selectionChanged = pyqtSignal(float, float)
    clicked = pyqtSignal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.showGrid(x=True, y=False, alpha=0.2)
        self.setLabel("bottom", "time", units="s")
        self.setMouseEnabled(x=True, y=False)
        self.curves: list[pg.PlotDataItem] = []
        self.selection = pg.LinearRegionItem(values=(0, 0), brush=(80, 120, 220, 60))
        self.selection.setZValue(10)
        self.selection.sigRegionChanged.connect(self._emit_selection)
        self.addItem(self.selection)
        self.playhead = pg.InfiniteLine(0, pen=pg.mkPen((200, 30, 30), width=1))
        self.playhead.setZValue(20)
        self.addItem(self.playhead)
        self.detection_spans = SpanLayer(self, DETECTION_BRUSH, z=5)
        self.repair_spans = SpanLayer(self, REPAIR_BRUSH, z=5)
        self.document: Document | None = None
        self.pyramids: dict[str, PeakPyramid] = {}
        self.show_original = False
        self._drag_from: float | None = None
        self.getViewBox().sigXRangeChanged.connect(self.redraw)
        self.set_dark(False)

    # --- content ----------------------------------------------------------------------------
    def set_document(self, document: Document) -> None:
        self.document = document
        original = PeakPyramid(document.n_frames, document.original)
        self.pyramids = {"original": original, "edited": copy_pyramid(original, document.edited)}
        for frame_range in [(p.start, p.end) for p in document.patches]:
            self.pyramids["edited"].update(*frame_range)
        self.select(0, 0)
        self.setXRange(0, document.duration_s, padding=0.01)
        self.setYRange(-1, 1, padding=0.02)
        self.redraw()

    def edited_ranges(self, ranges: list[tuple[int, int]]) -> None:
        """Frames [start, end) of the edited audio changed (repairs applied or undone), all at
        once (undoing "repair all" on a clipped file is thousands): neighbours are re-read
        together, in reads of at most MERGED_READ_FRAMES, then one redraw."""
        if "edited" not in self.pyramids or not ranges:
            return
        for start, end in merged_ranges(ranges, MERGED_READ_FRAMES):
            self.pyramids["edited"].update(start, end)
        self.redraw()

    def set_show_original(self, original: bool) -> None:
        self.show_original = original
        self.redraw()

    def redraw(self, *_args) -> None:
        doc = self.document
        if doc is None:
            return
        (x0, x1), _ = self.getViewBox().viewRange()
        sr = doc.sample_rate
        f0, f1 = max(0, int(x0 * sr)), min(doc.n_frames, int(np.ceil(x1 * sr)) + 1)
        width = max(100, int(self.getViewBox().width()) or 1000)
        if f1 <= f0:
            traces: list[tuple[np.ndarray, np.ndarray]] = []
        elif f1 - f0 <= BIN_FRAMES * width:
            # Closer than one pyramid bin per pixel: the samples themselves (pyqtgraph thins them
            # to per-pixel peaks as it draws).
            read = doc.original if self.show_original else doc.edited
            block = read(f0, f1)
            t = np.arange(f0, f1, dtype=np.float64) / sr
            traces = [(t, ch) for ch in block]
        else:
            pyramid = self.pyramids["original" if self.show_original else "edited"]
            x, y = pyramid.envelope(f0, f1, width)
            traces = [(x / sr, y)]
        while len(self.curves) < len(traces):
            pen = CHANNEL_PENS[len(self.curves) % len(CHANNEL_PENS)]
            curve = self.plot(pen=pg.mkPen(pen, width=1))
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.curves.append(curve)
        for i, curve in enumerate(self.curves):
            if i < len(traces):
                curve.setData(*traces[i])
            else:
                curve.setData([], [])

    def trace_points(self) -> int:
        """How many points are drawn now (the benchmark and tests check it stays small)."""
        return sum(0 if c.xData is None else len(c.xData) for c in self.curves)

    def set_overlays(
        self, detections_s: list[tuple[float, float]], repairs_s: list[tuple[float, float]]
    ) -> None:
        self.detection_spans.set_spans(detections_s)
        self.repair_spans.set_spans(repairs_s)

    @property
    def overlays(self) -> list[tuple[float, float]]:
        """Every span drawn: detections, then repairs."""
        return [*self.detection_spans.spans, *self.repair_spans.spans]

    def set_dark(self, dark: bool) -> None:
        self.setBackground((30, 30, 34) if dark else "w")

    # --- selection and navigation -----------------------------------------------------------
    def select(self, start_s: float, end_s: float) -> None:
        self.selection.setRegion((start_s, end_s))

    def selected(self) -> tuple[float, float]:
        a, b = self.selection.getRegion()
        return float(min(a, b)), float(max(a, b))

    def zoom_to(self, start_s: float, end_s: float, margin_s: float = 0.2) -> None:
        self.setXRange(max(0.0, start_s - margin_s), end_s + margin_s, padding=0)

    def zoom_by(self, factor: float) -> None:
        """Zoom around the view's centre: factor < 1 zooms in."""
        (x0, x1), _ = self.getViewBox().viewRange()
        centre, half = (x0 + x1) / 2, max(1e-4, (x1 - x0) * factor / 2)
        self.setXRange(max(0.0, centre - half), centre + half, padding=0)

    def zoom_full(self) -> None:
        if self.document is not None:
            self.setXRange(0, self.document.duration_s, padding=0.01)

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    # Shift-drag (or a plain drag on the plot) sets the selection; the wheel zooms.
    def mousePressEvent(self, ev) -> None:
        if ev.button() == pg.QtCore.Qt.MouseButton.LeftButton and self.document is not None:
            self._drag_from = self._time_at(ev)
            self.select(self._drag_from, self._drag_from)
            self.clicked.emit(self._drag_from)
            ev.accept()
            return
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev) -> None:
        if self._drag_from is not None:
            t = self._time_at(ev)
            self.select(min(self._drag_from, t), max(self._drag_from, t))
            ev.accept()
            return
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev) -> None:
        if self._drag_from is not None:
            self._drag_from = None
            ev.accept()
            return
        super().mouseReleaseEvent(ev)

    def _time_at(self, ev) -> float:
        point = self.getViewBox().mapSceneToView(self.mapToScene(ev.position().toPoint()))
        duration = self.document.duration_s if self.document else 0.0
        return float(min(max(point.x(), 0.0), duration))

    def _emit_selection(self) -> None:
        a, b = self.selected()
        self.selectionChanged.emit(a, b)
