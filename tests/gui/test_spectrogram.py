"""Spectrogram columns: where the energy lands, any zoom, cancel."""

import numpy as np

from voicemend.gui.spectrogram import compute, n_fft_for


def _tone(hz, sr=16000, seconds=3.0):
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.5 * np.sin(2 * np.pi * hz * t)] * 2).astype(np.float32)


def test_a_tone_peaks_at_its_frequency_at_any_zoom():
    x = _tone(1000.0)
    read = lambda a, b: x[:, a:b]  # noqa: E731
    n_fft = n_fft_for(16000)
    for start, end, columns in ((0, x.shape[1], 200), (8000, 9000, 200)):  # sparse, dense
        spec = compute(read, x.shape[1], 16000, start, end, columns)
        assert spec.db.shape == (min(columns, end - start), n_fft // 2 + 1)
        peak_hz = spec.db[len(spec.db) // 2].argmax() * 16000 / n_fft
        assert abs(peak_hz - 1000.0) <= 16000 / n_fft
        assert spec.db.max() > -10 and spec.db.min() >= -100


def test_silence_is_at_the_floor_and_cancel_returns_none():
    x = np.zeros((1, 48000 * 4), np.float32)
    read = lambda a, b: x[:, a:b]  # noqa: E731
    spec = compute(read, x.shape[1], 48000, 0, x.shape[1], 100)
    assert np.all(spec.db == -100.0)
    assert compute(read, x.shape[1], 48000, 0, x.shape[1], 100, should_cancel=lambda: True) is None
