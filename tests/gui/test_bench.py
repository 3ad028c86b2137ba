"""The editor benchmark's measuring half, on a short file."""

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from voicemend.gui.bench import markdown, measure

from ..conftest import speech_like


def test_measure_reports_open_memory_redraws_and_repair_latency(qtbot, tmp_path, no_audio_device):
    path = tmp_path / "ten.wav"
    x = np.stack([speech_like(10.0, 44100), speech_like(10.0, 44100, seed=3)], axis=1)
    sf.write(str(path), x, 44100, subtype="PCM_16")
    row = measure(path, repairs=1, zooms=3, spans=500)
    assert row["duration_s"] == 10.0 and row["channels"] == 2
    assert row["size_16bit_mib"] == pytest.approx(10 * 44100 * 4 / 2**20, abs=0.1)
    assert row["open_s"] > 0 and row["peak_rss_mib"] > 0
    assert set(row["repair_200ms_ui_latency_ms"]) >= {"lsar"}
    assert row["spans_shown"] == 500 and row["spans_show_ms"] > 0
    table = markdown(row)
    assert "| open (read + peak pyramids + first draw) |" in table
    assert "| 500 detections shown (a clipped file's runs) |" in table
