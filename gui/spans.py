"""Many time spans on a plot as two items, not one item each.

A clipped recording yields thousands of detections (about 100 a second at 3x overdrive); one
``LinearRegionItem`` per span took 4.8 s to add 10 000 of them and about 1 s to redraw at every
zoom. Here all spans are one filled step path (full height) and one set of 1-pixel ticks at their
starts, so that spans narrower than a pixel, such as a clipped run of one sample in a zoomed-out
view, still show.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg

# Beyond the waveform's fixed -1..1 view, so a span fills the view's height.
LOW, HIGH = -1.1, 1.1


class SpanLayer:
    """The spans ``[(start_s, end_s), ...]`` of one kind, drawn with ``brush`` on ``plot``."""

    def __init__(self, plot: pg.PlotWidget, brush: tuple[int, int, int, int], z: float) -> None:
        self.spans: list[tuple[float, float]] = []
        self.fill = pg.PlotDataItem([], [], pen=None, fillLevel=LOW, brush=brush)
        self.ticks = pg.PlotDataItem([], [], connect="pairs", pen=pg.mkPen(brush[:3], width=1))
        for item in (self.fill, self.ticks):
            item.setZValue(z)
            plot.addItem(item)

    def set_spans(self, spans: Sequence[tuple[float, float]]) -> None:
        self.spans = sorted((float(min(a, b)), float(max(a, b))) for a, b in spans)
        if not self.spans:
            self.fill.setData([], [])
            self.ticks.setData([], [])
            return
        bounds = np.asarray(self.spans)
        starts, ends = bounds[:, 0], bounds[:, 1]
        # (start, low) (start, high) (end, high) (end, low) per span: a step path whose fill down
        # to LOW is a rectangle per span and nothing between them.
        x = np.repeat(np.stack([starts, ends], axis=1), 2, axis=1).ravel()
        y = np.tile([LOW, HIGH, HIGH, LOW], len(starts))
        self.fill.setData(x, y)
        self.ticks.setData(np.repeat(starts, 2), np.tile([LOW, HIGH], len(starts)))

    def __len__(self) -> int:
        return len(self.spans)
