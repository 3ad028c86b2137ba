"""Block-by-block repair and detection give what a whole-file pass gives, holding only blocks."""

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import blockwise
from voicemend.engine.blockwise import detect_in_blocks, needs_blocks, repair_in_blocks
from voicemend.engine.corrupt import packet_burst, zero_gap
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import load, save
from voicemend.engine.regions import Region

from ..conftest import speech_like

SR = 16000


@pytest.fixture(autouse=True)
def short_margin(monkeypatch):
    """A 1 s margin (lsar reads at most 0.3 s around a gap), so that 2 s blocks exercise it."""
    monkeypatch.setattr(blockwise, "MARGIN_S", 1.0)


@pytest.fixture
def damaged(tmp_path):
    """20 s of stereo with dropouts, some across the 2 s block edges, one longer than a block."""
    from voicemend.engine import Audio

    left, right = speech_like(20.0, SR, seed=1), speech_like(20.0, SR, seed=2, f0_hz=190.0)
    audio = Audio(np.stack([left, 0.8 * right]), SR)
    rng = np.random.default_rng(0)
    # 7.95 and 8.02: the first is the 8 s block's, the second, in its context, the next block's
    for start_s, ms in (
        (1.1, 40),
        (3.98, 60),
        (5.99, 20),
        (7.95, 40),
        (8.02, 80),
        (11.0, 2500),
        (17.97, 80),
    ):
        audio = zero_gap(audio, Region(int(start_s * SR), int(start_s * SR + ms * SR / 1000)))
    audio = packet_burst(audio, Region(int(14.0 * SR), int(14.06 * SR)), -60.0, rng)
    return save(audio, tmp_path / "in.wav", subtype="PCM_16")


def _whole(path, regions, detector=None):
    audio = load(path)
    found = detector(audio) if detector else []
    todo = list(regions) + [d.region for d in found]
    return get_inpainter("lsar").inpaint(audio, todo), found


def test_blocks_match_a_whole_file_pass(tmp_path, damaged):
    given = [Region(int(6.5 * SR), int(6.6 * SR))]
    whole, found = _whole(damaged, given, DropoutDetector())
    out = tmp_path / "out.wav"
    done = repair_in_blocks(
        damaged, out, get_inpainter("lsar"), given, detector=DropoutDetector(), block_s=2.0
    )
    assert done.blocks > 5
    assert [d.region for d in done.detections] == [d.region for d in found]
    assert [r.region for r in done.reports] == [r.region for r in whole.reports]
    expected = tmp_path / "whole.wav"
    save(whole.audio, expected, subtype="PCM_16")
    a, _ = sf.read(str(out), dtype="int16")
    b, _ = sf.read(str(expected), dtype="int16")
    assert np.array_equal(a, b)
    assert sf.info(str(out)).subtype == "PCM_16"


def test_only_the_regions_change(tmp_path, damaged):
    given = [Region(int(3.98 * SR), int(4.04 * SR)), Region(int(11.0 * SR), int(13.5 * SR))]
    out = tmp_path / "out.wav"
    repair_in_blocks(damaged, out, get_inpainter("pattern"), given, block_s=1.0)
    x, _ = sf.read(str(damaged), dtype="int16")
    y, _ = sf.read(str(out), dtype="int16")
    keep = np.ones(len(x), bool)
    fade = int(0.010 * SR)
    for r in given:
        keep[r.start - fade : r.end + fade] = False
    assert np.array_equal(x[keep], y[keep])
    assert np.abs(y[int(11.5 * SR) : int(13 * SR)]).max() > 0  # the 2.5 s gap, > a block, filled


def test_detection_in_blocks_matches_the_whole_file(damaged):
    whole = DropoutDetector()(load(damaged))
    sr, n, found = detect_in_blocks(damaged, block_s=2.0)
    assert (sr, n) == (SR, 20 * SR)
    assert [(d.region, d.kind, d.channels) for d in found] == [
        (d.region, d.kind, d.channels) for d in whole
    ]


class Failing:
    """lsar that fails on its second call, as a cancelled or crashed repair would."""

    def __init__(self):
        self.inner, self.calls = get_inpainter("lsar"), 0

    def inpaint(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 2:
            raise VoicemendError("stopped")
        return self.inner.inpaint(*args, **kwargs)


def test_a_failure_midway_leaves_no_output(tmp_path, damaged):
    out = tmp_path / "out.wav"
    with pytest.raises(VoicemendError, match="stopped"):
        repair_in_blocks(damaged, out, Failing(), [Region(SR, SR + 800)], block_s=2.0)
    assert list(tmp_path.iterdir()) == [damaged]  # neither the output nor a temporary file


def test_nan_in_a_later_block_is_repaired_there(tmp_path):
    """(engine.nonfinite) The NaN is filled in the block that holds it; the rest is the input."""
    x = speech_like(6.0, SR)
    x[5 * SR + 7] = np.nan
    src = tmp_path / "nan.wav"
    sf.write(str(src), x, SR, subtype="FLOAT")
    done = repair_in_blocks(src, tmp_path / "out.wav", get_inpainter("lsar"), block_s=2.0)
    [report] = done.reports
    assert report.region.start < 5 * SR + 7 < report.region.end
    y, _ = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert np.isfinite(y).all() and np.array_equal(y[: 4 * SR], x[: 4 * SR])


def test_a_reader_without_a_log_names_a_nan_in_a_later_block(tmp_path):
    from voicemend.engine.io import AudioReader

    x = speech_like(6.0, SR)
    x[5 * SR + 7] = np.nan
    sf.write(str(tmp_path / "nan.wav"), x, SR, subtype="FLOAT")
    with AudioReader(tmp_path / "nan.wav") as reader:
        reader.read(4 * SR)
        with pytest.raises(AudioFileError, match=rf"NaN or Inf.*frame {5 * SR + 7}"):
            reader.read(2 * SR)


def test_which_files_go_block_by_block():
    minute = 60 * 48000
    assert not needs_blocks(2, 10 * minute, available=8 * 2**30)  # 10 min: 230 MB
    assert needs_blocks(2, 10 * minute, available=300 * 2**20)  # but not with 300 MB free
    assert needs_blocks(2, 120 * minute, available=None)  # 2 h of 48 kHz stereo: 2.8 GB


def test_a_region_waits_for_the_next_block_but_is_never_context(tmp_path, damaged):
    # The first block (0-2 s) repairs 1.95 s; 2.02 s, inside that repair's context, is the next
    # block's, and the repair must not read its silence as speech.
    given = [Region(int(1.95 * SR), int(1.99 * SR)), Region(int(2.02 * SR), int(2.10 * SR))]
    audio = load(damaged)
    for r in given:
        audio = zero_gap(audio, r)
    src = save(audio, tmp_path / "two.wav", subtype="PCM_16")
    whole, _ = _whole(src, given)
    save(whole.audio, tmp_path / "whole.wav", subtype="PCM_16")
    done = repair_in_blocks(src, tmp_path / "out.wav", get_inpainter("lsar"), given, block_s=2.0)
    assert [r.region for r in done.reports] == given and done.blocks >= 2
    a, _ = sf.read(str(tmp_path / "out.wav"), dtype="int16")
    b, _ = sf.read(str(tmp_path / "whole.wav"), dtype="int16")
    assert np.array_equal(a, b)


def test_a_header_that_promises_more_frames_than_the_file_holds(tmp_path, damaged, monkeypatch):
    """Some formats only estimate their length: the file ends where its samples end."""

    class Overstated(blockwise.AudioReader):
        def __init__(self, path, nonfinite=None):
            super().__init__(path, nonfinite)
            self.n_frames += 3 * SR

    monkeypatch.setattr(blockwise, "AudioReader", Overstated)
    out = tmp_path / "out.wav"
    done = repair_in_blocks(damaged, out, get_inpainter("lsar"), block_s=2.0)
    assert done.n_frames == sf.info(str(out)).frames == 20 * SR
    sr, n, found = detect_in_blocks(damaged, block_s=2.0)
    assert (sr, n) == (SR, 20 * SR) and found
