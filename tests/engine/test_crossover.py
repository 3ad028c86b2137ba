"""``hybrid``: one method below the crossover, another above, each from its own context."""

import numpy as np
import pytest

from voicemend.engine import INPAINTERS, Audio, Region, get_inpainter
from voicemend.engine.inpaint import GapContext, Inpainter
from voicemend.engine.inpaint.crossover import Crossover

from ..conftest import speech_like

SR = 16_000


class _Tones(Inpainter):
    """Fills the gap (and its fades) with fixed tones; records the windows it was given."""

    name = "tones"

    def __init__(self, tones: dict[float, float], context: int, fade: int) -> None:
        self.tones, self.context, self.fade = tones, context, fade
        self.windows: list[tuple[int, int, int]] = []

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        return self.context

    def crossfade_frames(self, gap_frames: int, sample_rate: int) -> int:
        return self.fade

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        self.windows.append((ctx.window.shape[1], ctx.gap_start, ctx.fade_left))
        t = (ctx.window_start + np.arange(ctx.span.start, ctx.span.stop)) / ctx.sample_rate
        y = sum(a * np.sin(2 * np.pi * f * t) for f, a in self.tones.items())
        return np.tile(y, (ctx.window.shape[0], 1)), f"{len(self.tones)} tones"


def _amplitude(x: np.ndarray, hz: float) -> float:
    t = np.arange(x.size) / SR
    return float(2 * np.abs(np.mean(x * np.exp(-2j * np.pi * hz * t))))


@pytest.fixture
def damaged() -> tuple[Audio, Region]:
    x = 0.3 * np.random.default_rng(0).standard_normal(SR)
    gap = Region(6000, 6000 + 3200)  # 200 ms
    x[gap.start : gap.end] = 0.0
    return Audio.from_array(x.astype(np.float32), SR), gap


def test_each_band_comes_from_its_method(damaged):
    audio, gap = damaged
    # each method fills with a 200 Hz and a 4 kHz tone, at different strengths
    low = _Tones({200.0: 0.5, 4000.0: 0.05}, context=800, fade=0)
    high = _Tones({200.0: 0.05, 4000.0: 0.3}, context=4000, fade=160)
    y = Crossover(low, high, crossover_hz=1000.0)(audio, [gap]).samples[0]
    middle = y[gap.start + 800 : gap.end - 800]
    assert _amplitude(middle, 200.0) == pytest.approx(0.5, rel=0.02)  # low's low band
    assert _amplitude(middle, 4000.0) == pytest.approx(0.3, rel=0.02)  # high's high band


def test_each_method_gets_its_own_window_and_fades(damaged):
    audio, gap = damaged
    low = _Tones({200.0: 0.5}, context=800, fade=0)
    high = _Tones({4000.0: 0.3}, context=4000, fade=160)
    hybrid = Crossover(low, high)
    result = hybrid.inpaint(audio, [gap])
    assert low.windows == [(800 + 3200 + 800, 800, 0)]
    assert high.windows == [(4000 + 3200 + 4000, 4000, 160)]
    (report,) = result.reports
    assert report.crossfade_frames == (160, 160)
    assert report.notes == "tones below 700 Hz (1 tones), tones above (1 tones)"
    outside = np.ones(audio.n_frames, dtype=bool)
    outside[gap.start - 160 : gap.end + 160] = False
    np.testing.assert_array_equal(result.audio.samples[:, outside], audio.samples[:, outside])


def test_a_crossover_the_rate_cannot_hold_leaves_the_low_method_alone(damaged):
    audio, gap = damaged
    low = _Tones({200.0: 0.5, 4000.0: 0.2}, context=800, fade=0)
    high = _Tones({4000.0: 0.3}, context=800, fade=0)
    y = Crossover(low, high, crossover_hz=9000.0)(audio, [gap]).samples[0]
    only_low = Crossover(low, low, crossover_hz=9000.0)(audio, [gap]).samples[0]
    np.testing.assert_array_equal(y, only_low)
    with pytest.raises(ValueError, match="above 0 Hz"):
        Crossover(low, high, crossover_hz=0.0)


@pytest.mark.skipif("hybrid" not in INPAINTERS, reason="the neural-mel weights are not installed")
def test_shipped_hybrid_is_lsar_below_and_neural_mel_above():
    x = speech_like(2.0, SR, seed=3)
    gap = Region(14000, 14000 + 3200)
    x[gap.start : gap.end] = 0.0
    audio = Audio.from_array(x, SR)
    hybrid = get_inpainter("hybrid", device="cpu")
    first = hybrid.inpaint(audio, [gap])
    again = get_inpainter("hybrid", device="cpu").inpaint(audio, [gap])
    np.testing.assert_array_equal(first.audio.samples, again.audio.samples)  # deterministic
    lsar = get_inpainter("lsar")(audio, [gap]).samples[0]
    mel = get_inpainter("neural-mel", device="cpu")(audio, [gap]).samples[0]
    y = first.audio.samples[0]
    seg = slice(gap.start, gap.end)

    def band_db(v: np.ndarray, lo: float, hi: float) -> float:
        spec = np.abs(np.fft.rfft(v[seg] * np.hanning(gap.n_frames))) ** 2
        hz = np.fft.rfftfreq(gap.n_frames, 1 / SR)
        return 10 * np.log10(spec[(hz >= lo) & (hz < hi)].sum() + 1e-20)

    assert band_db(y, 80, 450) == pytest.approx(band_db(lsar, 80, 450), abs=1.0)
    assert band_db(y, 2000, 7000) == pytest.approx(band_db(mel, 2000, 7000), abs=1.0)
    assert first.reports[0].method == "hybrid"
    assert first.reports[0].notes.startswith("lsar below 700 Hz")


@pytest.mark.skipif("hybrid" not in INPAINTERS, reason="the neural-mel weights are not installed")
def test_shipped_hybrid_keeps_lsar_s_16_khz_fill_above_24_khz():
    """Its LSAR half stops at the 16 kHz iterations there (the band it keeps is under 700 Hz)."""
    rate = 48_000
    x = np.stack([speech_like(2.0, rate, seed=3), speech_like(2.0, rate, seed=4)])
    gap = Region(42000, 42000 + 9600)
    x[:, gap.start : gap.end] = 0.0
    hybrid = get_inpainter("hybrid", device="cpu")
    assert hybrid.low.settings.full_rate_iterations == 0
    notes = hybrid.inpaint(Audio(x, rate), [gap]).reports[0].notes
    assert notes.startswith("lsar below 700 Hz (at 16 kHz)")
