"""Render the editor's screenshots for the README (run under a display; see screenshots.sh).

Damages the bundled example the way the demo does, opens it in the real editor, detects the
dropouts, repairs one, and saves window grabs to the folder given (default docs/screenshots).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSettings
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from voicemend.engine import io
from voicemend.gui.main_window import MainWindow
from voicemend.plugin.demo import damage, example_path
from voicemend.plugin.presets import SHIPPED_DIR


def wait_until(condition, timeout_ms: int = 60_000) -> None:
    waited = 0
    while not condition():
        if waited > timeout_ms:
            raise TimeoutError("the editor did not finish in time")
        QTest.qWait(50)
        waited += 50


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        damaged, _truth = damage(io.load(example_path()), np.random.default_rng(7))
        clip = Path(tmp) / "interview-with-dropouts.wav"
        io.save(damaged, clip, subtype="PCM_16")
        settings = QSettings(str(Path(tmp) / "editor.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings)
        window.ask = lambda _q, choices=("Yes", "No"): choices[-1]
        window.resize(1500, 860)
        window.show()
        window.open_file(clip)
        window.method.setCurrentText("auto")
        window.detect()
        wait_until(lambda: window.job is None and window.dropouts.detections)
        first = window.dropouts.detections[0]
        window.dropouts.table.selectRow(0)
        window.repair_current_detection()
        wait_until(lambda: window.job is None and window.document.patches)
        window.waveform.zoom_full()
        wait_until(lambda: window.spectrogram.last is not None and not window.spectrogram.busy())
        QTest.qWait(300)
        window.grab().save(str(out_dir / "editor-dropouts.png"))

        start_s, end_s = first.seconds(window.document.sample_rate)
        window.waveform.select(start_s, end_s)
        window.waveform.zoom_to(start_s, end_s, margin_s=0.25)
        QTest.qWait(300)
        wait_until(lambda: not window.spectrogram.busy())
        QTest.qWait(200)
        window.grab().save(str(out_dir / "editor-repaired.png"))

        window.docks["Effects chain"].raise_()
        window.chain_panel.load(SHIPPED_DIR / "podcast-dropout-repair.json")
        window.set_dark(True)
        window.waveform.zoom_full()
        QTest.qWait(300)
        wait_until(lambda: not window.spectrogram.busy())
        QTest.qWait(200)
        window.grab().save(str(out_dir / "editor-chain-dark.png"))
        window.set_dark(False)
        window.undo_stack.setClean()
        window.close()
    app.processEvents()
    for png in sorted(out_dir.glob("editor-*.png")):
        print(png)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
