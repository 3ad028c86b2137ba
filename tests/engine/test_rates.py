import numpy as np

from voicemend.engine.rates import mask_to_rate, to_rate


def test_to_rate_round_trip_keeps_a_tone_and_n_out_fixes_the_length():
    rate = 44_100
    t = np.arange(4410) / rate
    x = np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)])
    low = to_rate(x, rate, 16_000)
    assert low.shape == (2, 1600) and low.dtype == np.float64
    back = to_rate(low, 16_000, rate, n_out=x.shape[1] + 7)  # padded with zeros
    assert back.shape == (2, x.shape[1] + 7) and np.all(back[:, x.shape[1] :] == 0)
    mid = slice(200, 4200)
    assert np.max(np.abs(back[:, mid] - x[:, mid])) < 1e-2
    assert to_rate(x, rate, rate, n_out=100).shape == (2, 100)  # cut


def test_mask_to_rate_rounds_outwards():
    mask = np.zeros(4410, dtype=bool)
    mask[1000:1003] = True  # 3 samples at 44.1 kHz: about 1.1 at 16 kHz
    low = mask_to_rate(mask, 44_100, 16_000, 1600)
    idx = np.flatnonzero(low)
    assert idx[0] <= 1000 * 16_000 // 44_100 and idx[-1] >= (1003 * 16_000 - 1) // 44_100
