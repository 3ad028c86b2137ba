"""The exemplar method: unit selection, frame copying, and the inpainter contract."""

import numpy as np
import pytest
import torch

from voicemend.engine import Audio, Region
from voicemend.engine.crossfade import MAX_CROSSFADE_MS
from voicemend.engine.inpaint.exemplar import (
    Exemplar,
    copy_frames,
    edge_costs,
    edge_offsets,
    unit_path,
)
from voicemend.engine.models.mel_transformer import MelTransformer, MelTransformerConfig

from ..conftest import speech_like

TINY = MelTransformerConfig(
    d_model=32, num_layers=1, num_heads=4, ff_dim=64, pos_kernel=7, pos_groups=4, dropout=0.0
)


@pytest.fixture(scope="module")
def tiny_exemplar() -> Exemplar:
    torch.manual_seed(0)
    return Exemplar(MelTransformer(TINY), device="cpu")


def test_unit_path_follows_the_target_and_jumps_only_when_it_pays():
    rng = np.random.default_rng(6)
    pool = rng.standard_normal((60, 8))
    candidates = np.arange(60)
    target = pool[[10, 11, 12, 40, 41, 42]] + 0.01
    # cheap jumps: each frame gets its nearest pool frame
    np.testing.assert_array_equal(
        unit_path(target, pool, candidates, 0.0), [10, 11, 12, 40, 41, 42]
    )
    # dear jumps: one stretch of six consecutive frames
    np.testing.assert_array_equal(np.diff(unit_path(target, pool, candidates, 1e6)), np.ones(5))
    # frames outside the candidates are never picked
    allowed = np.setdiff1d(candidates, [10, 11, 12])
    assert not set(unit_path(target, pool, allowed, 0.0)) & {10, 11, 12}


def test_edge_costs_pick_the_stretch_that_continues_both_edges():
    rng = np.random.default_rng(3)
    pool = rng.standard_normal((80, 8))
    heard = np.zeros(80, dtype=bool)
    run = np.arange(50, 56)
    heard[run] = True
    # the gap's edges look like frames 9 and 16: the stretch 10-15 joins them best
    pool[49] = pool[9] + 0.01
    pool[56] = pool[16] + 0.01
    candidates = np.flatnonzero(~heard)[1:-1]
    target = np.zeros((6, 8))  # an uninformative prediction: every stretch fits it alike
    entry, leave = edge_costs(pool, candidates, run, heard, 100.0)
    path = unit_path(target, pool, candidates, 1e6, entry, leave)
    np.testing.assert_array_equal(path, np.arange(10, 16))
    # weight 0, or an edge that is not clean context, adds nothing
    assert edge_costs(pool, candidates, run, heard, 0.0) == (None, None)
    heard[49] = True
    entry, leave = edge_costs(pool, candidates, run, heard, 100.0)
    assert entry is None and leave is not None


def test_edge_offsets_line_the_copy_up_with_the_context():
    period, hop = 97, 160.0  # a whole number of frames is never a whole number of periods
    t = np.arange(16000)
    window = np.sin(2 * np.pi * t / period)[None] + 0.3 * np.sin(6 * np.pi * t / period)[None]
    known = np.ones(t.size, dtype=bool)
    gap = (3200, 4800)
    known[gap[0] : gap[1]] = False
    window = np.where(known, window, 0.0)
    run = np.arange(18, 32)
    sources = run + 30  # one stretch, 4800 samples on: 47 samples out of phase
    offsets = edge_offsets(window, known, run, sources, hop, gap, 320)
    assert np.unique(offsets).size == 1  # a stretch moves as one
    assert (30 * hop + offsets[0]) % period == 0
    copied = copy_frames(window, run, sources, hop, offsets)
    edge = slice(gap[0] - 160, gap[0])  # where the copy fades in over the context
    np.testing.assert_allclose(copied[0, edge], window[0, edge], atol=1e-9)
    # a shift that would read from another hole in the context is not taken
    holed = known.copy()
    lo = int((run[0] - 0.5) * hop + 30 * hop) - 60
    holed[lo : lo + 30] = False
    moved = edge_offsets(np.where(holed, window, 0.0), holed, run, sources, hop, gap, 320)
    assert moved[0] > -30


def test_edge_offsets_compare_only_where_the_stretch_is_pasted():
    period, hop = 97, 160.0
    t = np.arange(16000)
    window = (np.sin(2 * np.pi * t / period) + 0.3 * np.sin(6 * np.pi * t / period))[None]
    # past the first stretch's source, a loud copy of the signal half a period out of phase:
    # comparing the edge's context with it would pull the shift half a period away
    window[0, 7930:8300] = -10 * window[0, 7930:8300]
    known = np.ones(t.size, dtype=bool)
    gap = (3200, 4800)
    known[gap[0] : gap[1]] = False
    window = np.where(known, window, 0.0)
    run = np.arange(18, 32)
    # a one-frame first stretch (pasted on 2800-3120, 4800 samples on), then another from 6400 on
    sources = np.r_[48, np.arange(19, 32) + 40]
    offsets = edge_offsets(window, known, run, sources, hop, gap, 320)
    assert (30 * hop + offsets[0]) % period == 0
    # silence at the edges gives nothing to line up with: the copy stays where it was
    quiet = np.zeros((1, t.size))
    np.testing.assert_array_equal(edge_offsets(quiet, known, run, sources, hop, gap, 320), 0)


@pytest.mark.parametrize("hop", [160.0, 441.0, 220.5])
def test_copy_frames_returns_the_window_and_copies_whole_frames(hop):
    rng = np.random.default_rng(1)
    window = rng.standard_normal((2, int(60 * hop)))
    frames = np.arange(50)
    same = copy_frames(window, frames, frames, hop)
    np.testing.assert_allclose(same, window, atol=1e-12)  # the weights sum to one at any hop
    run = np.arange(30, 36)
    moved = copy_frames(window, run, run - 20, hop)
    shift = round(20 * hop)
    inside = np.arange(int(np.ceil(31 * hop)), int(35 * hop))  # reached by the copies only
    np.testing.assert_allclose(moved[:, inside], window[:, inside - shift], atol=1e-12)
    outside = np.r_[0 : int(29.5 * hop), int(37.5 * hop) : window.shape[1]]
    np.testing.assert_array_equal(moved[:, outside], window[:, outside])


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2), (48000, 2), (8000, 1)])
def test_contract_at_rates_and_channels(tiny_exemplar, rate, channels):
    x = np.stack([speech_like(3.0, rate, seed=c) for c in range(channels)]).astype(np.float32)
    gap = Region(int(1.4 * rate), int(1.7 * rate))
    damaged = x.copy()
    damaged[:, gap.start : gap.end] = 0.0
    garbage = x.copy()
    garbage[:, gap.start : gap.end] = np.random.default_rng(2).standard_normal(
        (channels, gap.end - gap.start)
    )
    a = tiny_exemplar.inpaint(Audio(damaged, rate), [gap])
    b = tiny_exemplar(Audio(garbage, rate), [gap]).samples
    again = tiny_exemplar(Audio(damaged, rate), [gap]).samples
    out = a.audio.samples
    np.testing.assert_array_equal(out, b)  # nothing is read from inside the gap
    np.testing.assert_array_equal(out, again)  # deterministic
    xf = int(MAX_CROSSFADE_MS / 1000 * rate)
    np.testing.assert_array_equal(out[:, : gap.start - xf], x[:, : gap.start - xf])
    np.testing.assert_array_equal(out[:, gap.end + xf :], x[:, gap.end + xf :])
    middle = out[:, gap.start + rate // 50 : gap.end - rate // 50]
    assert np.sqrt(np.mean(middle**2)) > 0.3 * np.sqrt(np.mean(x**2))  # speech, not a fade
    assert "stretch" in a.reports[0].notes and a.reports[0].method == "exemplar"


@pytest.mark.parametrize("rate", [16000, 48000])
def test_the_fill_is_full_band_audio_from_the_context(tiny_exemplar, rate, monkeypatch):
    """Before its level is matched to the edges, the middle of the gap is a stretch of the
    context, sample for sample at the input's own rate (so nothing above 8 kHz is lost), never
    a synthesised or resampled one."""
    import voicemend.engine.inpaint.exemplar as exemplar_module

    monkeypatch.setattr(exemplar_module, "level_match", lambda voiced, *args: voiced)
    x = speech_like(3.0, rate, seed=4)
    x = x + 0.05 * np.random.default_rng(5).standard_normal(x.size).astype(np.float32)
    gap = Region(int(1.4 * rate), int(1.6 * rate))
    damaged = x.copy()
    damaged[gap.start : gap.end] = 0.0
    out = tiny_exemplar(Audio.from_array(damaged, rate), [gap]).samples[0]
    probe = out[gap.start + rate // 40 : gap.start + rate // 40 + rate // 50]  # 20 ms inside
    margin = rate // 50
    starts = np.flatnonzero(np.abs(x - probe[0]) < 1e-7)
    starts = starts[(starts + probe.size < gap.start - margin) | (starts > gap.end + margin)]
    assert any(np.max(np.abs(x[s : s + probe.size] - probe)) < 1e-6 for s in starts)


def test_long_gaps_get_few_stretches_and_a_window_without_context_falls_back(tiny_exemplar):
    rate = 16000
    x = speech_like(5.0, rate, seed=5)
    gap = Region(2 * rate, int(2.8 * rate))
    damaged = x.copy()
    damaged[gap.start : gap.end] = 0.0
    report = tiny_exemplar.inpaint(Audio.from_array(damaged, rate), [gap]).reports[0]
    stretches = int(report.notes.split(": ")[1].split(" ")[0])
    assert 1 <= stretches <= 3  # a jump costs more than a close frame saves
    short = speech_like(0.3, rate)
    short[40:4700] = 0.0  # almost nothing around the gap
    report = tiny_exemplar.inpaint(Audio.from_array(short, rate), [Region(40, 4700)]).reports[0]
    assert "lsar" in report.notes
