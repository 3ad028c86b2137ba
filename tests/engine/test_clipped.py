"""Repairs of clipped runs never come out under the rail."""

import numpy as np
import pytest

from voicemend.engine import Audio, get_inpainter
from voicemend.engine.detect import DropoutDetector, DropoutKind, clipped_regions
from voicemend.engine.inpaint.clipped import clipping_rails, keep_beyond_rail

from ..conftest import speech_like

SR = 16000


def test_keep_beyond_rail_moves_only_samples_at_the_rail_inwards_of_it():
    damaged = np.array([[0.5, 0.5, 0.5, 0.5], [0.1, -0.2, 0.3, 0.0]])  # channel 1 never clipped
    fill = np.array([[0.6, 0.3, -0.2, 0.7], [0.0, 0.0, 0.0, 0.0]])
    kept, moved = keep_beyond_rail(damaged, fill, np.ones(4, dtype=bool))
    np.testing.assert_array_equal(kept[0], [0.6, 0.5, 0.5, 0.7])
    np.testing.assert_array_equal(kept[1], fill[1])
    assert moved == 2
    negative, moved = keep_beyond_rail(-damaged[:1], -fill[:1], np.ones(4, dtype=bool))
    np.testing.assert_array_equal(negative[0], [-0.6, -0.5, -0.5, -0.7])
    assert moved == 2
    unmarked, moved = keep_beyond_rail(damaged, fill, np.zeros(4, dtype=bool))
    np.testing.assert_array_equal(unmarked, fill)
    assert moved == 0


def test_the_files_rails_hold_a_one_sample_run_beyond_them():
    """A run of one sample is no rail by itself (one peak touching its own maximum); at the
    file's extreme, where the detector found it, it is."""
    file = np.array([[0.5, 0.5, 0.5, 0.1, 0.5, -0.3], [0.2, 0.1, -0.4, 0.0, 0.3, 0.1]])
    tops, bottoms = clipping_rails(file)
    np.testing.assert_array_equal(tops, [0.5, 0.3])
    np.testing.assert_array_equal(bottoms, [-0.3, -0.4])
    damaged, marked = file[:, 3:], np.array([False, True, False])
    fill = np.array([[0.2, 0.0, -0.4], [0.0, 0.0, 0.0]])
    alone, moved = keep_beyond_rail(damaged, fill, marked)
    np.testing.assert_array_equal(alone, fill)
    assert moved == 0
    held, moved = keep_beyond_rail(damaged, fill, marked, (tops, bottoms))
    # each channel at its own rail: 0.5 in the first, 0.3 in the second
    np.testing.assert_array_equal(held, [[0.2, 0.5, -0.4], [0.0, 0.3, 0.0]])
    assert moved == 2
    quieter, moved = keep_beyond_rail(damaged, fill, marked, (tops + 0.1, bottoms))
    np.testing.assert_array_equal(quieter, fill)  # under the file's rail: a peak, not a run
    assert moved == 0


@pytest.fixture
def clipped_speech():
    """Stereo speech clipped at 80 % of its peak, the second channel a little quieter."""
    x = speech_like(1.5, SR, seed=7)
    x = np.stack([x, 0.9 * x]) / np.max(np.abs(x))
    rail = 0.8
    return Audio(np.clip(x, -rail, rail).astype(np.float32), SR), rail


@pytest.mark.parametrize("method", ["lsar", "auto", "pattern"])
def test_repaired_clipped_runs_stay_beyond_the_rail(clipped_speech, method):
    audio, rail = clipped_speech
    found = DropoutDetector()(audio)
    runs = clipped_regions(found)
    assert len(runs) > 20
    inpainter = get_inpainter(method)
    free = inpainter.inpaint(audio, runs).audio.samples
    kept = inpainter.inpaint(audio, runs, clipped=runs)
    y = kept.audio.samples
    in_runs = np.zeros(audio.n_frames, dtype=bool)
    for r in runs:
        in_runs[r.start : r.end] = True
    assert any(r.n_frames == 1 for r in runs)  # short runs are repaired too
    # every clipped sample the detector marked, one-sample runs included
    at_rail = in_runs[None, :] & (np.abs(audio.samples) >= rail - 1e-6)
    side = np.sign(audio.samples)
    assert np.all(side[at_rail] * y[at_rail] >= rail - 1e-6)
    # without the constraint some fills dip under the rail (the reason it exists)
    assert np.any(side[at_rail] * free[at_rail] < rail - 1e-3)
    # outside the runs (± crossfade) nothing changes
    touched = np.zeros(audio.n_frames, dtype=bool)
    for r in runs:
        touched[max(0, r.start - 160) : r.end + 160] = True
    np.testing.assert_array_equal(y[:, ~touched], audio.samples[:, ~touched])
    assert any("kept at the clipping rail" in r.notes for r in kept.reports)


def test_a_clipped_run_merged_into_a_dropout_keeps_its_rail(clipped_speech):
    """A dropout running into a clipped peak is reported as the dropout (as sure, and first);
    the peak's clipped samples must still be repaired beyond the rail."""
    audio, rail = clipped_speech
    runs = clipped_regions(DropoutDetector()(audio))
    run = max(runs, key=lambda r: r.n_frames)
    samples = audio.samples.copy()
    samples[:, run.start - 480 : run.start] = 0.0  # 30 ms of digital silence up to the peak
    damaged = audio.with_samples(samples)
    found = DropoutDetector()(damaged)
    (merged,) = [d for d in found if d.region.overlaps_or_touches(run)]
    assert merged.kind is not DropoutKind.CLIPPING
    assert run in clipped_regions(found)
    y = (
        get_inpainter("auto")
        .inpaint(damaged, [d.region for d in found], clipped=clipped_regions(found))
        .audio.samples
    )
    at_rail = np.abs(damaged.samples[:, run.start : run.end]) >= rail - 1e-6
    side = np.sign(damaged.samples[:, run.start : run.end])
    assert at_rail.sum() >= 3
    assert np.all((side * y[:, run.start : run.end])[at_rail] >= rail - 1e-6)
