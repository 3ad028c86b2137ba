import numpy as np
import pytest

from voicemend.engine.inpaint.lpc import estimate_ar
from voicemend.engine.inpaint.lsar import lsar_interpolate
from voicemend.engine.runs import true_runs


def dense_lsar(x, known, coeffs):
    """Reference: forward + backward prediction error minimised with dense matrices."""
    n, p = x.size, coeffs.size - 1
    fwd, bwd = np.zeros((n - p, n)), np.zeros((n - p, n))
    for k in range(n - p):
        fwd[k, k : k + p + 1] = coeffs[::-1]
        bwd[k, k : k + p + 1] = coeffs
    m = np.vstack([fwd, bwd])
    u, kn = ~known, known
    rhs = -m[:, u].T @ (m[:, kn] @ x[kn])
    return np.linalg.solve(m[:, u].T @ m[:, u], rhs)


@pytest.mark.parametrize("dense_max_entries", [0, 40_000])  # the band solvers / the dense one
@pytest.mark.parametrize("gaps", [[(200, 240)], [(100, 130), (150, 170)], [(0, 20)], [(380, 400)]])
def test_banded_solve_matches_dense_reference(monkeypatch, gaps, dense_max_entries):
    import voicemend.engine.inpaint.lsar as lsar

    monkeypatch.setattr(lsar, "DENSE_MAX_ENTRIES", dense_max_entries)
    taken = []
    real = lsar._solve_dense
    monkeypatch.setattr(lsar, "_solve_dense", lambda *a: taken.append(1) or real(*a))
    rng = np.random.default_rng(1)
    x = np.convolve(rng.standard_normal(400), [1, 0.8, 0.3], mode="same")
    known = np.ones(400, dtype=bool)
    for a, b in gaps:
        known[a:b] = False
    coeffs = estimate_ar([x[a:b] for a, b in true_runs(known)], 12)
    expected = dense_lsar(x, known, coeffs)
    got = lsar_interpolate(x, known, order=12, iterations=1)[~known]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert len(taken) == (dense_max_entries > 0)


def test_recovers_a_tonal_gap_closely():
    t = np.arange(4000) / 16000
    noise = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    x = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t + 1) + noise
    known = np.ones(x.size, dtype=bool)
    known[2000:2480] = False  # 30 ms
    y = lsar_interpolate(x, known, order=40, iterations=2)
    err = np.sqrt(np.mean((y[~known] - x[~known]) ** 2)) / np.sqrt(np.mean(x**2))
    assert err < 0.1


def test_known_samples_are_returned_unchanged():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(1000)
    known = np.ones(1000, dtype=bool)
    known[400:450] = False
    y = lsar_interpolate(x, known, 20)
    np.testing.assert_array_equal(y[known], x[known])


def _speechy_gap(gap_ms: float = 200.0, sr: int = 16_000):
    from ..conftest import speech_like

    x = speech_like(1.0, sr, seed=4).astype(np.float64)
    known = np.ones(x.size, dtype=bool)
    start = x.size // 2 - int(gap_ms * sr / 2000)
    known[start : start + int(gap_ms * sr / 1000)] = False
    return x, known


@pytest.mark.parametrize(
    ("fast_path", "reference", "forced"),
    [
        ("_solve_toeplitz", "_is_toeplitz", lambda *a: False),  # banded Cholesky instead
        ("_toeplitz_cg", "CG_MIN_UNKNOWNS", 10**9),  # Levinson instead
    ],
)
def test_fast_solvers_match_their_reference(monkeypatch, fast_path, reference, forced):
    """A 200 ms interior gap (3 200 unknowns) takes the Toeplitz path, through conjugate
    gradients; forced onto banded Cholesky, or onto Levinson, the fill is the same."""
    import voicemend.engine.inpaint.lsar as lsar

    x, known = _speechy_gap()
    taken = []
    real = getattr(lsar, fast_path)
    monkeypatch.setattr(lsar, fast_path, lambda *a: taken.append(1) or real(*a))
    fast = lsar.lsar_interpolate(x, known, order=400, iterations=3)
    assert len(taken) == 3  # every iteration
    monkeypatch.setattr(lsar, reference, forced)
    slow = lsar.lsar_interpolate(x, known, order=400, iterations=3)
    np.testing.assert_allclose(fast[~known], slow[~known], rtol=0, atol=1e-6 * np.abs(x).max())


def test_stalled_conjugate_gradients_fall_back_to_levinson(monkeypatch):
    import voicemend.engine.inpaint.lsar as lsar

    x, known = _speechy_gap()
    expected = lsar.lsar_interpolate(x, known, order=400, iterations=2)
    monkeypatch.setattr(lsar, "CG_MAX_STEPS", 2)
    calls = []
    real = lsar.solve_toeplitz
    monkeypatch.setattr(lsar, "solve_toeplitz", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = lsar.lsar_interpolate(x, known, order=400, iterations=2)
    assert len(calls) == 2
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * np.abs(x).max())


def test_toeplitz_cg_solves_a_banded_system_from_any_start():
    from scipy.linalg import toeplitz

    from voicemend.engine.inpaint.lsar import CG_TOLERANCE, _toeplitz_cg

    rng = np.random.default_rng(5)
    c = np.r_[1.0, -1.6, 0.9, 0.1 * rng.standard_normal(30)]  # a resonant AR filter
    band = 2.0 * np.correlate(c, c, mode="full")[c.size - 1 :]
    column = np.zeros(3000)
    column[: band.size] = band
    rhs = rng.standard_normal(3000)
    matrix = toeplitz(column)
    for guess in (None, rng.standard_normal(3000)):
        values = _toeplitz_cg(band, rhs, guess)
        assert values is not None
        residual = np.linalg.norm(matrix @ values - rhs) / np.linalg.norm(rhs)
        assert residual < 10 * CG_TOLERANCE


def test_a_failed_levinson_falls_back_to_cholesky(monkeypatch):
    import voicemend.engine.inpaint.lsar as lsar

    x, known = _speechy_gap(60.0)
    expected = lsar.lsar_interpolate(x, known, order=200, iterations=2)

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular principal minor")

    monkeypatch.setattr(lsar, "solve_toeplitz", broken)
    got = lsar.lsar_interpolate(x, known, order=200, iterations=2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * np.abs(x).max())


def test_gaps_near_the_window_ends_are_not_toeplitz():
    from voicemend.engine.inpaint.lsar import _is_toeplitz

    assert _is_toeplitz(np.arange(100, 200), 50, 400)
    assert not _is_toeplitz(np.arange(30, 130), 50, 400)  # starts within p of the window start
    assert not _is_toeplitz(np.arange(300, 370), 50, 400)  # ends within p of the window end
    assert not _is_toeplitz(np.r_[100:120, 150:170], 50, 400)  # two gaps


def test_more_iterations_keep_a_long_fill_near_the_speech_level(example_clip):
    """Nine 200 ms gaps in the bundled LJ Speech clip: the middle half of LSAR's fill, in dB
    re the true speech there. Two iterations sink far under it; ten stay near it."""
    from voicemend.engine.io import load

    x = load(example_clip).to_mono().samples[0].astype(np.float64)
    sr, ctx = 16_000, 2400
    n = int(0.2 * sr)

    def median_level_db(iterations):
        levels = []
        for start_s in np.arange(1.0, 8.5, 0.9):
            s = int(start_s * sr)
            seg = x[s - ctx : s + n + ctx].copy()
            known = np.ones(seg.size, dtype=bool)
            known[ctx : ctx + n] = False
            y = lsar_interpolate(seg, known, order=400, iterations=iterations)
            mid = slice(ctx + n // 4, ctx + n - n // 4)
            levels.append(10 * np.log10(np.mean(y[mid] ** 2) / np.mean(seg[mid] ** 2)))
        return float(np.median(levels))

    two, ten = median_level_db(2), median_level_db(10)
    assert two < -12.0
    assert -8.0 < ten < 3.0


def test_high_rates_iterate_at_16k_first_and_keep_more_level(example_clip):
    """At 48 kHz the iterations run at 16 kHz, then two at the full rate: the fill's middle
    stays louder than two full-rate iterations alone leave it."""
    import dataclasses

    from voicemend.engine.inpaint.lsar import Lsar, LsarSettings
    from voicemend.engine.io import load
    from voicemend.engine.regions import Region

    audio = load(example_clip).resampled(48_000)
    n = int(0.2 * 48_000)
    two = Lsar(dataclasses.replace(LsarSettings(), iterations=2))
    levels = {"two": [], "multirate": []}
    for start_s in (2.5, 4.0, 5.5):
        s = int(start_s * 48_000)
        damaged = audio.samples.copy()
        damaged[:, s : s + n] = 0.0
        mid = slice(s + n // 4, s + n - n // 4)
        truth = float(np.mean(audio.samples[0, mid].astype(np.float64) ** 2))
        for name, method in (("two", two), ("multirate", Lsar())):
            result = method.inpaint(audio.with_samples(damaged), [Region(s, s + n)])
            y = result.audio.samples[0, mid].astype(np.float64)
            levels[name].append(10 * np.log10(np.mean(y**2) / truth))
            if name == "multirate":
                assert "iterations at 16 kHz" in result.reports[0].notes
    assert np.median(levels["multirate"]) > np.median(levels["two"]) + 3.0


@pytest.mark.parametrize("rate", [16_000, 48_000])
def test_gaps_under_10_ms_take_three_iterations_and_longer_ones_ten(
    example_clip, rate, monkeypatch
):
    """A clipped peak or a click needs no more (the settings' docstring has the measurement);
    a 30 ms gap keeps all ten. Each iteration fits one AR model; above 24 kHz they run at
    16 kHz and two more follow at the full rate."""
    import voicemend.engine.inpaint.lsar as lsar_module
    from voicemend.engine.inpaint.lsar import Lsar
    from voicemend.engine.io import load
    from voicemend.engine.regions import Region

    audio = load(example_clip).resampled(rate)
    lsar = Lsar()
    assert lsar.iterations(int(0.009 * rate), rate) == 3
    assert lsar.iterations(int(0.010 * rate), rate) == 10
    fits = []
    monkeypatch.setattr(
        lsar_module, "estimate_ar", lambda *a, **k: fits.append(1) or estimate_ar(*a, **k)
    )
    extra = 0 if rate <= lsar_module.MULTIRATE_ABOVE_HZ else 2
    start = int(2.0 * rate)
    for gap_ms, expected in ((2.0, 3), (30.0, 10)):
        region = Region(start, start + int(gap_ms / 1000 * rate))
        damaged = audio.samples.copy()
        damaged[:, region.start : region.end] = 0.0
        fits.clear()
        lsar.inpaint(audio.with_samples(damaged), [region])
        assert len(fits) == expected + extra


@pytest.mark.parametrize(
    "runs",
    [
        [(3, 9), (14, 20), (60, 61)],  # runs closer and farther apart than the order
        [(0, 4), (30, 35), (95, 100)],  # touching both ends of the window
        [(40, 41), (43, 44), (46, 47), (49, 50)],  # single samples (clipped peaks)
    ],
)
@pytest.mark.parametrize("block_entries", [1 << 18, 7])  # all diagonals at once / a few at a time
def test_the_band_of_several_runs_matches_the_dense_normal_matrix(monkeypatch, runs, block_entries):
    import voicemend.engine.inpaint.lsar as lsar

    monkeypatch.setattr(lsar, "BAND_BLOCK_ENTRIES", block_entries)
    rng = np.random.default_rng(4)
    n, h = 100, rng.standard_normal(9)
    unknown = np.concatenate([np.arange(a, b) for a, b in runs])
    rows = np.zeros((n - h.size + 1, n))
    for k in range(rows.shape[0]):
        rows[k, k : k + h.size] = h
    normal = (rows.T @ rows)[np.ix_(unknown, unknown)]
    band = lsar._band(h, unknown, n)
    for d in range(h.size):
        expected = np.zeros(unknown.size)
        if d < unknown.size:
            expected[: unknown.size - d] = np.diagonal(normal, -d)
        np.testing.assert_allclose(band[d], expected, atol=1e-12)


def test_no_full_rate_iterations_keep_the_16_khz_fill_and_change_nothing_at_16_khz():
    from voicemend.engine import Audio, Region
    from voicemend.engine.inpaint.lsar import Lsar, LsarSettings

    from ..conftest import speech_like

    low_only = Lsar(LsarSettings(full_rate_iterations=0))
    x16 = speech_like(1.5, 16_000, seed=2)
    gap16 = Region(12000, 12000 + 1600)
    x16[gap16.start : gap16.end] = 0.0
    audio16 = Audio.from_array(x16, 16_000)
    np.testing.assert_array_equal(
        low_only(audio16, [gap16]).samples, Lsar()(audio16, [gap16]).samples
    )
    rate = 48_000
    x = speech_like(1.5, rate, seed=2) + 0.05 * np.random.default_rng(0).standard_normal(
        int(1.5 * rate)
    ).astype(np.float32)  # a high band for the full-rate passes to continue
    gap = Region(36000, 36000 + 4800)
    x[gap.start : gap.end] = 0.0
    audio = Audio.from_array(x, rate)

    def high_db(y: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(y[gap.start : gap.end] * np.hanning(gap.n_frames))) ** 2
        hz = np.fft.rfftfreq(gap.n_frames, 1 / rate)
        return 10 * np.log10(spec[hz > 9000].sum() + 1e-20)

    kept = low_only.inpaint(audio, [gap])
    assert kept.reports[0].notes == "at 16 kHz"
    assert high_db(kept.audio.samples[0]) < high_db(Lsar()(audio, [gap]).samples[0]) - 20


def test_above_24_khz_the_voice_band_comes_from_the_16_khz_fill_for_gaps_from_10_ms():
    from scipy.signal import butter, sosfiltfilt

    from voicemend.engine import Audio, Region
    from voicemend.engine.inpaint.lsar import Lsar, LsarSettings

    from ..conftest import speech_like

    rate = 48_000
    x = speech_like(1.5, rate, seed=6)
    long_gap, click = Region(30000, 30000 + 1920), Region(50000, 50000 + 96)  # 40 ms, 2 ms
    for r in (long_gap, click):
        x[r.start : r.end] = 0.0
    audio = Audio.from_array(x, rate)
    shipped = Lsar()
    before = Lsar(LsarSettings(low_rate_band_hz=None))
    new, old = shipped.inpaint(audio, [long_gap]), before.inpaint(audio, [long_gap])
    assert "its fill kept under 7 kHz" in new.reports[0].notes
    low_only = Lsar(LsarSettings(full_rate_iterations=0)).inpaint(audio, [long_gap])
    sos = butter(8, 5000, btype="low", fs=rate, output="sos")
    seg = slice(long_gap.start, long_gap.end)

    def low(y):
        return sosfiltfilt(sos, y.samples[0])[seg]

    # under the split the fill is the 16 kHz one's, which the full-rate passes had moved
    assert (
        np.abs(low(new.audio) - low(low_only.audio)).max()
        < 0.1 * np.abs(low(old.audio) - low(low_only.audio)).max()
    )
    np.testing.assert_array_equal(  # clicks and clipped peaks keep the full-rate fill
        shipped(audio, [click]).samples, before(audio, [click]).samples
    )


def test_solves_run_with_one_openblas_thread_and_restore_it(monkeypatch):
    """Many small solves are slower split across OpenBLAS's threads (voicemend.engine.blas);
    the limit holds only while LSAR solves."""
    from threadpoolctl import ThreadpoolController

    from voicemend.engine.inpaint import lsar

    def blas_threads() -> set[int]:
        return {
            i["num_threads"]
            for i in ThreadpoolController().info()
            if i["internal_api"] == "openblas"
        }

    outside = blas_threads()
    if not outside:
        pytest.skip("numpy here is not linked to OpenBLAS")
    seen: list[set[int]] = []
    solve = lsar._solve

    def watched(*args, **kwargs):
        seen.append(blas_threads())
        return solve(*args, **kwargs)

    monkeypatch.setattr(lsar, "_solve", watched)
    x = np.sin(np.arange(4000) * 0.05)
    known = np.ones(x.size, dtype=bool)
    known[2000:2100] = False
    lsar_interpolate(x, known, order=40, iterations=3)
    assert seen and all(s == {1} for s in seen)
    assert blas_threads() == outside
