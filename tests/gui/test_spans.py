"""Spans on the waveform: any number of them as two plot items, each span where it belongs."""

import numpy as np
import pytest


@pytest.fixture
def plot(qtbot):
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.setYRange(-1, 1, padding=0)
    return widget


def test_ten_thousand_spans_are_two_items_and_fill_only_inside_them(plot):
    from voicemend.gui.spans import HIGH, LOW, SpanLayer

    before = len(plot.getPlotItem().items)
    layer = SpanLayer(plot, (230, 80, 60, 70), z=5)
    spans = [(i * 0.01 + 0.004, i * 0.01) for i in range(10_000)]  # given end first, unsorted
    layer.set_spans(spans[::-1])
    assert len(plot.getPlotItem().items) == before + 2
    assert len(layer) == 10_000 and layer.spans[0] == (0.0, 0.004)
    x, y = layer.fill.getData()
    assert x.size == 4 * 10_000 and np.all(np.diff(x) >= 0)
    # the path is at the top only between a span's start and end
    top = y == HIGH
    assert np.all(np.isin(y, [LOW, HIGH]))
    np.testing.assert_allclose(x[top][::2], [a for a, _ in layer.spans])
    np.testing.assert_allclose(x[top][1::2], [b for _, b in layer.spans])
    tx, _ = layer.ticks.getData()
    np.testing.assert_allclose(tx[::2], [a for a, _ in layer.spans])
    layer.set_spans([])
    assert len(layer) == 0 and layer.fill.getData()[0] is None  # pyqtgraph: no data
