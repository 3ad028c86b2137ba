"""The spectrogram view: columns of the visible range, computed in a background thread.

It follows the waveform's time axis; each pan or zoom (debounced) starts a new computation and
cancels the one before, so the GUI thread only ever uploads a finished image.
"""

from __future__ import annotations

import contextlib
import threading

import pyqtgraph as pg
from PyQt6.QtCore import QRectF, QTimer, pyqtSignal

from voicemend.gui import spectrogram
from voicemend.gui.document import Document

DEBOUNCE_MS = 120
LEVELS_DB = (-100.0, -20.0)


class SpectrogramView(pg.PlotWidget):
    computed = pyqtSignal(object, int)  # (Spectrogram, generation); emitted from the worker

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("left", "frequency", units="Hz")
        self.setLabel("bottom", "time", units="s")  # scaled (ms, s) as the waveform's is
        self.setMouseEnabled(x=True, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.addItem(self.image)
        self.document: Document | None = None
        self.show_original = False
        self.last: spectrogram.Spectrogram | None = None
        self._generation = 0
        self._cancel = threading.Event()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start)
        self.computed.connect(self._show)
        self.getViewBox().sigXRangeChanged.connect(self.schedule)

    def set_document(self, document: Document) -> None:
        self.document = document
        self.setYRange(0, document.sample_rate / 2, padding=0)
        self.schedule()

    def set_show_original(self, original: bool) -> None:
        self.show_original = original
        self.schedule()

    def schedule(self, *_args) -> None:
        """Recompute soon (after the view stops moving); cheap to call often."""
        if self.document is not None and self.isVisible():
            self._timer.start()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.schedule()

    def busy(self) -> bool:
        return self._timer.isActive() or (not self._cancel.is_set() and self._generation > 0)

    def _start(self) -> None:
        doc = self.document
        if doc is None:
            return
        self._cancel.set()  # the previous computation stops at its next check
        self._cancel = cancel = threading.Event()
        self._generation += 1
        generation = self._generation
        (x0, x1), _ = self.getViewBox().viewRange()
        sr = doc.sample_rate
        start, end = max(0, int(x0 * sr)), min(doc.n_frames, int(x1 * sr) + 1)
        columns = max(64, min(2000, int(self.getViewBox().width()) or 800))
        read = doc.original if self.show_original else doc.edited

        def work() -> None:
            try:
                result = spectrogram.compute(
                    read, doc.n_frames, sr, start, end, columns, cancel.is_set
                )
            except Exception:  # the document changed under us; the next pass redraws
                result = None
            if result is not None and not cancel.is_set():
                # RuntimeError: the view was closed and deleted meanwhile, so no one to show it to
                with contextlib.suppress(RuntimeError):
                    self.computed.emit(result, generation)
            cancel.set()

        threading.Thread(target=work, name="voicemend-spectrogram", daemon=True).start()

    def _show(self, result: spectrogram.Spectrogram, generation: int) -> None:
        if generation != self._generation or self.document is None:
            return
        self.last = result
        self.image.setImage(result.db.T, levels=LEVELS_DB, autoLevels=False)
        sr = result.sample_rate
        self.image.setRect(
            QRectF(
                result.start_frame / sr,
                0.0,
                (result.end_frame - result.start_frame) / sr,
                result.max_hz,
            )
        )
