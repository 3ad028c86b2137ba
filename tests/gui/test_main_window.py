"""pytest-qt drives the real widgets offscreen."""

import os

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from voicemend.gui.main_window import MainWindow

from ..conftest import speech_like


@pytest.fixture
def wav(tmp_path):
    x = speech_like(3.0, 16000)
    x[16000:17600] = 0.0
    x[32000:33000] = 0.0
    path = tmp_path / "talk.wav"
    sf.write(str(path), x, 16000, subtype="PCM_16")
    return path


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    return w


def test_open_select_repair_undo_redo(window, qtbot, wav):
    assert window.open_file(wav)
    window.waveform.select(1.0, 1.1)
    assert "100.0 ms" in window.selection_label.text()
    window.method.setCurrentText("lsar")
    window.repair_selection()
    qtbot.waitUntil(lambda: window.job is None and len(window.document.patches) == 1, timeout=10000)
    assert np.any(window.document.edited(16000, 17600) != 0)
    assert window.windowTitle().startswith("talk.wav *")
    window.undo_action.trigger()
    assert window.document.patches == []
    window.redo_action.trigger()
    assert len(window.document.patches) == 1


def test_detect_and_repair_all_then_export(window, qtbot, wav, tmp_path):
    window.open_file(wav)
    window.detect()
    qtbot.waitUntil(
        lambda: window.job is None and window.dropouts.table.rowCount() == 2, timeout=10000
    )
    window.jump_to_detection(0)
    assert window.waveform.selected() == pytest.approx((1.0, 1.1), abs=1e-3)
    window.repair_all()
    qtbot.waitUntil(lambda: window.job is None and len(window.document.patches) == 2, timeout=10000)
    assert window.undo_stack.count() == 1  # repairing all is one undoable step
    out = tmp_path / "fixed.wav"
    assert window.export_to(out)
    y, _ = sf.read(str(out))
    assert np.any(y[16000:17600] != 0) and np.any(y[32000:33000] != 0)
    assert not window.export_to(out)  # exists: refused without confirmation
    assert "exists" in window.last_error


def test_bad_file_shows_an_error_and_keeps_the_session(window, wav, tmp_path):
    window.open_file(wav)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nonsense" * 10)
    assert not window.open_file(bad)
    assert "cannot read" in window.last_error
    assert window.document.path == wav


def test_repair_without_selection_explains(window, wav):
    window.open_file(wav)
    window.repair_selection()
    assert "select a region" in window.last_error
