"""File jobs: the same repair whole or block by block, with progress in seconds for the latter."""

import itertools

import numpy as np
import pytest

from voicemend.engine import Audio, Region, save
from voicemend.engine.corrupt import packet_burst, zero_gap
from voicemend.plugin.jobs import RepairJob, run_detect, run_repair

from ..conftest import speech_like


def test_block_repair_reports_regions_and_progress_in_seconds(tmp_path, monkeypatch):
    from voicemend.engine import blockwise

    monkeypatch.setattr(blockwise, "MARGIN_S", 0.5)  # 1 s blocks in a 5 s file
    audio = Audio.from_array(speech_like(5.0, 16000), 16000)
    audio = zero_gap(audio, Region(40000, 41600))
    src = save(audio, tmp_path / "in.wav")
    seen, detect_seen = [], []
    job = RepairJob(src, tmp_path / "out.wav", regions_s=[(1.0, 1.05)], auto=True, block_s=1.0)
    outcome = run_repair(
        job,
        progress=lambda d, t: seen.append((d, t)),
        detect_progress=lambda d, t: detect_seen.append((d, t)),
    )
    assert outcome.audio is None and outcome.blocks >= 4
    assert [r.region for r in outcome.reports] == [Region(16000, 16800), Region(40000, 41600)]
    assert [d.region for d in outcome.detections] == [Region(40000, 41600)]
    assert seen[-1] == (5, 5) and detect_seen[-1] == (5, 5)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    whole = run_repair(RepairJob(src, tmp_path / "w.wav", regions_s=[(1.0, 1.05)], auto=True))
    assert whole.audio is not None and whole.blocks == 0
    assert [r.region for r in whole.reports] == [r.region for r in outcome.reports]


def test_detect_job_whole_or_in_blocks(tmp_path):
    audio = zero_gap(Audio.from_array(speech_like(4.0, 16000), 16000), Region(30000, 31600))
    src = save(audio, tmp_path / "in.wav")
    whole, blocks = run_detect(src), run_detect(src, block_s=1.0)
    assert whole.audio is not None and blocks.audio is None
    assert blocks.duration_s == whole.duration_s == 4.0
    assert [d.region for d in blocks.detections] == [d.region for d in whole.detections]


def clipped_file(path, rail=0.8):
    """Stereo float speech clipped at ``rail`` (a float file keeps restored peaks past it)."""
    import numpy as np

    x = speech_like(2.5, 16000, seed=7)
    x = np.stack([x, 0.9 * x]) / np.max(np.abs(x))
    return save(Audio(np.clip(x, -rail, rail).astype(np.float32), 16000), path, subtype="FLOAT")


def test_auto_repair_of_clipping_stays_beyond_the_rail_whole_or_in_blocks(tmp_path, monkeypatch):
    import numpy as np

    from voicemend.engine import blockwise
    from voicemend.engine.io import load

    monkeypatch.setattr(blockwise, "MARGIN_S", 0.5)
    src = clipped_file(tmp_path / "in.wav")
    whole = run_repair(RepairJob(src, tmp_path / "w.wav", auto=True, method="lsar"))
    blocks = run_repair(RepairJob(src, tmp_path / "b.wav", auto=True, method="lsar", block_s=1.0))
    assert blocks.blocks >= 2
    x, y = load(src).samples, load(tmp_path / "w.wav").samples
    np.testing.assert_array_equal(load(tmp_path / "b.wav").samples, y)
    marked = np.zeros(x.shape[1], dtype=bool)
    for d in whole.detections:
        marked[d.region.start : d.region.end] = True
    at_rail = marked[None, :] & (np.abs(x) >= 0.8 - 1e-6)
    assert at_rail.sum() > 50
    assert any(d.region.n_frames == 1 for d in whole.detections)  # short runs kept too
    assert np.all(np.sign(x[at_rail]) * y[at_rail] >= 0.8 - 1e-6)
    assert np.any(np.abs(y[at_rail]) > 0.81)  # peaks restored past the rail
    assert any("clipping rail" in r.notes for r in whole.reports)


@pytest.mark.parametrize("block_s", [None, 1.0])
def test_a_given_region_cut_short_of_a_burst_is_snapped_unless_told_not_to(
    tmp_path, monkeypatch, block_s
):
    from voicemend.engine import blockwise

    monkeypatch.setattr(blockwise, "MARGIN_S", 0.5)
    clean = Audio.from_array(speech_like(3.0, 16000, seed=5), 16000)
    burst = Region(24000, 24960)
    src = save(packet_burst(clean, burst, -60.0, np.random.default_rng(1)), tmp_path / "in.wav")
    given = [(1.503, 1.557)]
    job = RepairJob(src, tmp_path / "out.wav", regions_s=given, block_s=block_s)
    outcome = run_repair(job)
    (snap,) = outcome.snapped()
    (report,) = outcome.reports
    assert report.region == snap.snapped
    assert report.region.start <= burst.start and report.region.end >= burst.end
    exact = RepairJob(src, tmp_path / "x.wav", regions_s=given, block_s=block_s, snap=False)
    kept = run_repair(exact)
    assert kept.snapped() == [] and kept.reports[0].region == Region(24048, 24912)
