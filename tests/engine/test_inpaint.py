"""The inpainter contract: only the regions (± crossfade) change, at any rate and channel count."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicemend.engine import INPAINTERS, Audio, InpaintError, Region, get_inpainter
from voicemend.engine.crossfade import MAX_CROSSFADE_MS
from voicemend.engine.errors import VoicemendError
from voicemend.engine.inpaint import Cancelled, Inpainter
from voicemend.engine.metrics import log_spectral_distance

from ..conftest import speech_like

METHODS = sorted(INPAINTERS)


def zeroed(audio: Audio, region: Region) -> Audio:
    x = audio.samples.copy()
    x[:, region.start : region.end] = 0
    return audio.with_samples(x)


def assert_outside_identical(before: Audio, after: Audio, regions, tolerance_frames: int) -> None:
    changed = np.zeros(before.n_frames, dtype=bool)
    for r in regions:
        changed[max(0, r.start - tolerance_frames) : r.end + tolerance_frames] = True
    np.testing.assert_array_equal(before.samples[:, ~changed], after.samples[:, ~changed])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rate", [8000, 11025, 16000, 44100, 48000, 96000, 192000])
def test_every_method_at_every_rate_keeps_outside_bit_identical(method, rate):
    audio = Audio.from_array(speech_like(0.6, rate, seed=rate), rate)
    gap = Region(int(0.25 * rate), int(0.25 * rate) + int(0.03 * rate))
    damaged = zeroed(audio, gap)
    result = get_inpainter(method).inpaint(damaged, [gap])
    xf = int(MAX_CROSSFADE_MS / 1000 * rate)
    assert_outside_identical(damaged, result.audio, [gap], xf)
    assert result.audio.samples.dtype == np.float32
    assert result.audio.sample_rate == rate
    assert result.reports[0].crossfade_frames[0] <= xf


@pytest.mark.parametrize("method", ["lsar", "pattern", "auto"])
@pytest.mark.parametrize("gap_ms", [10, 40, 100, 200])
def test_repair_beats_zero_fill_on_voiced_signal(method, gap_ms):
    audio = Audio.from_array(speech_like(1.5, 16000), 16000)
    gap = Region(12000, 12000 + gap_ms * 16)
    damaged = zeroed(audio, gap)
    repaired = get_inpainter(method)(damaged, [gap])
    lo, hi = gap.start - 800, gap.end + 800
    ref = audio.samples[0, lo:hi]
    assert log_spectral_distance(ref, repaired.samples[0, lo:hi], 16000) < log_spectral_distance(
        ref, damaged.samples[0, lo:hi], 16000
    )


def test_stereo_channels_are_repaired_separately(stereo48k):
    gap = Region(30000, 30000 + 4800)
    damaged = zeroed(stereo48k, gap)
    out = get_inpainter("auto")(damaged, [gap])
    # the two channels have different pitch, so their fills must differ
    assert not np.allclose(out.samples[0, gap.start : gap.end], out.samples[1, gap.start : gap.end])
    for ch in range(2):
        assert np.sqrt(np.mean(out.samples[ch, gap.start : gap.end] ** 2)) > 0.02


def test_regions_at_file_edges_and_close_together(mono16k):
    regions = [
        Region(0, 200),
        Region(5000, 5400),
        Region(5450, 5900),
        Region(mono16k.n_frames - 300, mono16k.n_frames),
    ]
    for method in METHODS:
        out = get_inpainter(method).inpaint(mono16k, regions)
        assert len(out.reports) == 4
        assert np.all(np.isfinite(out.audio.samples))
        assert_outside_identical(mono16k, out.audio, regions, 160)


def test_whole_file_region_is_an_error(mono16k):
    with pytest.raises(InpaintError, match="whole file"):
        get_inpainter("lsar").inpaint(mono16k, [Region(0, mono16k.n_frames)])


def test_no_regions_returns_identical_audio(mono16k):
    out = get_inpainter("auto")(mono16k, [])
    np.testing.assert_array_equal(out.samples, mono16k.samples)


def test_reports_and_progress_and_cancel(mono16k):
    seen = []
    result = get_inpainter("auto").inpaint(
        mono16k,
        [Region(1000, 1320), Region(20000, 22400)],
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 2), (2, 2)]
    table = get_inpainter("auto")  # 20 and 150 ms: each region goes where AUTO_TABLE says
    assert [r.method for r in result.reports] == [table.method_name(20.0), table.method_name(150.0)]
    assert all(r.elapsed_s >= 0 for r in result.reports)
    with pytest.raises(Cancelled):
        get_inpainter("lsar").inpaint(mono16k, [Region(1000, 1100)], should_cancel=lambda: True)


def test_deterministic(mono16k):
    regions = [Region(8000, 9600)]
    a = get_inpainter("pattern")(mono16k, regions)
    b = get_inpainter("pattern")(mono16k, regions)
    np.testing.assert_array_equal(a.samples, b.samples)


def test_unknown_method():
    with pytest.raises(VoicemendError, match="unknown repair method"):
        get_inpainter("magic")


def test_silent_context_gives_silent_fill():
    audio = Audio(np.zeros((1, 16000), dtype=np.float32), 16000)
    out = get_inpainter("auto")(audio, [Region(8000, 9600)])
    assert not np.any(out.samples)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    starts=st.lists(st.integers(0, 7900), min_size=1, max_size=4),
    lengths=st.lists(st.integers(1, 1200), min_size=4, max_size=4),
    method=st.sampled_from(METHODS),
)
def test_paste_back_invariant_property(starts, lengths, method):
    rate = 8000
    audio = Audio.from_array(speech_like(1.2, rate, seed=3), rate)
    regions = [Region(s, min(audio.n_frames, s + n)) for s, n in zip(starts, lengths, strict=False)]
    result = get_inpainter(method).inpaint(audio, regions)
    assert_outside_identical(audio, result.audio, regions, int(MAX_CROSSFADE_MS / 1000 * rate))
    assert np.all(np.isfinite(result.audio.samples))
    # Fills are limited to 1.5x the undamaged peak; a crossfade of two unrelated signals can add
    # up to sqrt(2) on top inside the (at most 10 ms) fade zones.
    bound = 1.5 * np.sqrt(2) * np.max(np.abs(audio.samples)) + 1e-6
    assert np.max(np.abs(result.audio.samples)) <= bound


def test_auto_follows_its_table(mono16k):
    from voicemend.engine.inpaint import Auto

    auto = Auto(table=((40.0, "lsar"), (float("inf"), "pattern")))
    result = auto.inpaint(mono16k, [Region(1000, 1320), Region(20000, 22400)])
    assert [r.method for r in result.reports] == ["lsar", "pattern"]


def test_pattern_decay_attenuates_long_fills(mono16k):
    from voicemend.engine.inpaint import Pattern

    gap = Region(12000, 12000 + 6400)
    plain = Pattern()(mono16k, [gap]).samples[0, 14000:16000]
    decayed = Pattern(hold_ms=20, decay_db_per_10ms=6)(mono16k, [gap]).samples[0, 14000:16000]
    assert np.sqrt(np.mean(decayed**2)) < 0.5 * np.sqrt(np.mean(plain**2))


def test_auto_table_is_the_one_the_committed_benches_imply(mono16k):
    """AUTO_TABLE is what the committed full dev-split bench chooses (PLCMOS, PESQ breaking
    near-ties) among the installed methods, with the longer-gap bench after it deciding only
    the lengths beyond the full one's, so the README's tables and auto's behaviour cannot
    drift apart."""
    from pathlib import Path

    from voicemend.engine.evaluation.report import auto_table, load_summary
    from voicemend.engine.inpaint import INPAINTERS
    from voicemend.engine.inpaint.auto import AUTO_BAR, AUTO_TABLE, BENCHES

    root = Path(__file__).resolve().parents[2] / "bench" / "results"
    full, *longer = (load_summary(root / name) for name in BENCHES)
    scored = {m for s in (full, *longer) for m in s["informed"]["plcmos"]}
    candidates = sorted(m for m in scored if m in INPAINTERS and m != "auto")
    assert auto_table(full, candidates, longer=longer, bar=AUTO_BAR) == AUTO_TABLE
    for gap_ms in (20, 100, 400):  # and auto's output is that method's, sample for sample
        gap = Region(12000, 12000 + 16 * gap_ms)
        chosen = next(m for limit, m in AUTO_TABLE if gap_ms <= limit)
        a = get_inpainter("auto", device="cpu")(mono16k, [gap])
        b = get_inpainter(chosen, device="cpu")(mono16k, [gap])
        np.testing.assert_array_equal(a.samples, b.samples)


def test_auto_falls_back_to_lsar_for_a_method_not_installed(mono16k):
    from voicemend.engine.inpaint import Auto

    auto = Auto(table=((float("inf"), "not-installed"),), device="cpu")
    result = auto.inpaint(mono16k, [Region(12000, 13600)])
    assert [r.method for r in result.reports] == ["lsar"]


class _Recording(Inpainter):
    """A deterministic method that fills with its window's mean level and records its calls."""

    name = "recording"

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self.calls: list[int] = []

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        return int(0.25 * sample_rate)

    def fill(self, ctx):
        level = np.sqrt(np.mean(ctx.window[:, ctx.known] ** 2))
        n = ctx.span.stop - ctx.span.start
        return np.full((ctx.window.shape[0], n), level), "filled"

    def fill_many(self, contexts):
        self.calls.append(len(contexts))
        return [self.fill(ctx) for ctx in contexts]


def test_regions_batch_only_when_their_windows_share_no_sample(mono16k):
    """Far-apart regions go to the method together; a region whose window holds another
    region's repair waits for it. Either way the result is the one-at-a-time result."""
    rate = mono16k.sample_rate
    far = [Region(int(s * rate), int(s * rate) + 800) for s in (0.3, 0.9, 1.5)]
    near = [Region(int(0.3 * rate), int(0.3 * rate) + 800), Region(int(0.45 * rate), 7600)]
    batched = _Recording(max_batch=8)
    single = _Recording(max_batch=1)
    for regions, sizes in ((far, [3]), (near, [1, 1])):
        batched.calls.clear()
        result = batched.inpaint(mono16k, regions)
        assert batched.calls == sizes
        assert all(("batch of 3" in r.notes) == (sizes == [3]) for r in result.reports)
        np.testing.assert_array_equal(
            result.audio.samples, single.inpaint(mono16k, regions).audio.samples
        )
    progress = []
    batched.inpaint(mono16k, far, progress=lambda i, n: progress.append((i, n)))
    assert progress == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(Cancelled):
        batched.inpaint(mono16k, far, should_cancel=lambda: True)


@pytest.mark.parametrize("method", ["lsar", "auto"])
def test_a_partial_region_repairs_only_its_channels(method):
    """A dropout on the right channel only (the far side of a call): the left channel, clean
    speech of its own, stays bit-identical; a whole region beside it repairs both."""
    left = speech_like(2.0, 48000, seed=1)
    right = speech_like(2.0, 48000, seed=2)
    right[48000:52800] = 0.0  # 100 ms, right only
    both = np.stack([left, right])
    both[:, 72000:73440] = 0.0  # 30 ms, both channels
    audio = Audio(both.astype(np.float32), 48000)
    result = get_inpainter(method).inpaint(
        audio, [Region(72000, 73440)], partial=[(Region(48000, 52800), (1,))]
    )
    out = result.audio.samples
    assert len(result.reports) == 2
    keep = np.ones(both.shape[1], bool)
    keep[72000 - 480 : 73440 + 480] = False  # the whole region and its crossfades
    assert np.array_equal(out[0][keep], audio.samples[0][keep])
    assert np.any(out[0][72000:73440] != 0)
    assert np.any(out[1][48000:52800] != 0) and np.any(out[1][72000:73440] != 0)


def test_a_partial_region_naming_a_channel_the_audio_lacks_is_refused(mono16k):
    with pytest.raises(InpaintError, match="channel 1"):
        get_inpainter("lsar").inpaint(mono16k, [], partial=[(Region(100, 200), (1,))])


def test_a_partial_region_beside_a_whole_one_leaves_its_crossfade_alone():
    """5 ms apart: in the channel the partial region is not damaged in, the output is the
    whole region's repair alone (its fill and crossfades), nothing of the partial one's."""
    x = np.stack([speech_like(2.0, 48000, seed=1), speech_like(2.0, 48000, seed=2)])
    whole, part = Region(72000, 76800), Region(77040, 81840)
    x[:, whole.start : whole.end] = 0.0
    x[1, part.start : part.end] = 0.0
    audio = Audio(x.astype(np.float32), 48000)
    auto = get_inpainter("auto")
    result = auto.inpaint(audio, [whole], partial=[(part, (1,))])
    both = result.audio.samples
    alone = auto.inpaint(audio, [whole], also_damaged=[part]).audio.samples
    # the partial region's left crossfade reaches back into the whole one's fill
    assert result.reports[1].crossfade_frames[0] > part.start - whole.end
    np.testing.assert_array_equal(both[0], alone[0])
    assert np.any(both[1, part.start : part.end] != 0)
