"""A chain run over a file block by block gives what the whole-buffer chain gives."""

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from voicemend.engine.audio import Audio
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.plugin.chain import Chain
from voicemend.plugin.cli import main
from voicemend.plugin.processors import ChainContext, DetectDropouts, Inpaint, Processor
from voicemend.plugin.render import render
from voicemend.plugin.streaming import process_file_in_blocks, stream_board

from ..conftest import speech_like

SR = 16000


def damaged_file(path, seconds=6.0, channels=2, subtype="FLOAT"):
    x = speech_like(seconds, SR, seed=3)
    x = np.stack([x, 0.7 * np.roll(x, 40)])[:channels]
    for start_s in (1.0, 2.6, 4.3):  # hard dropouts the detector finds
        a = int(start_s * SR)
        x[:, a : a + 1600] = 0.0
    sf.write(str(path), x.T, SR, subtype=subtype)
    return path


def whole(chain, path):
    """The chain over the whole decoded file, as the float32 a FLOAT file stores."""
    x, _ = sf.read(str(path), dtype="float32", always_2d=True)
    context = ChainContext()
    y = np.atleast_2d(chain.process(np.ascontiguousarray(x.T), SR, context))
    return y, context


def read(path):
    return np.ascontiguousarray(sf.read(str(path), dtype="float32", always_2d=True)[0].T)


@pytest.mark.parametrize(
    "stages, tail_s",
    [
        # effects before and after a repair of given regions, a reverb tail to ring out
        (
            lambda: [
                pedalboard.HighpassFilter(80),
                Inpaint(regions=[(1.0, 1.1), (4.3, 4.4)], method="lsar"),
                pedalboard.Compressor(-20, 4),
                pedalboard.Reverb(room_size=0.6),
            ],
            0.8,
        ),
        # detection handing regions on; the tail appended before a voicemend stage
        (lambda: [DetectDropouts(), Inpaint(method="pattern"), pedalboard.Gain(-3)], 0.3),
        # plugins with latency (resampling) around automatic repair
        (lambda: [pedalboard.Resample(8000), Inpaint(auto=True, method="lsar")], 0.0),
        # given regions a little short of the dropouts: snapped to them either way
        (lambda: [Inpaint(regions=[(1.002, 1.098), (2.61, 2.69)]), pedalboard.Gain(-1)], 0.0),
    ],
)
def test_blocks_match_the_whole_buffer(tmp_path, stages, tail_s):
    src = damaged_file(tmp_path / "in.wav")
    expected, whole_context = whole(Chain(stages(), tail_s=tail_s), src)
    chain = Chain(stages(), tail_s=tail_s)
    context = chain.process_file(src, tmp_path / "out.wav", block_s=1.5)
    got = read(tmp_path / "out.wav")
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert [r["start_s"] for r in context.reports] == [r["start_s"] for r in whole_context.reports]
    assert len(context.reports) >= 2
    assert context.snaps == whole_context.snaps
    assert chain.last_context is context
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]  # no work files


def test_detection_only_copies_and_keeps_the_sample_format(tmp_path):
    src = damaged_file(tmp_path / "in.wav", subtype="PCM_16")
    chain = Chain([DetectDropouts()])
    context = chain.process_file(src, tmp_path / "out.wav", block_s=2.0)
    assert sf.info(str(tmp_path / "out.wav")).subtype == "PCM_16"
    np.testing.assert_array_equal(read(tmp_path / "out.wav"), read(src))
    starts = sorted(round(d["start_s"], 2) for d in context.detections)
    assert starts == [1.0, 2.6, 4.3]


def test_latency_is_flushed_and_the_length_kept(tmp_path):
    src = damaged_file(tmp_path / "in.wav", channels=1)
    board = pedalboard.Pedalboard([pedalboard.Resample(4000), pedalboard.Compressor(-24, 6)])
    expected = board.process(read(src), SR, reset=True)
    written = stream_board(board, src, tmp_path / "out.wav", pad_frames=800)
    got = read(tmp_path / "out.wav")
    assert written == got.shape[1] == read(src).shape[1] + 800
    # the same as one whole call over the padded input
    padded = board.process(np.pad(read(src), ((0, 0), (0, 800))), SR, reset=True)
    np.testing.assert_array_equal(got, padded)
    np.testing.assert_array_equal(got[:, : expected.shape[1]], expected)


def test_refusals_leave_nothing_behind(tmp_path):
    src = damaged_file(tmp_path / "in.wav")
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    chain = Chain([pedalboard.Gain(1)])
    with pytest.raises(AudioFileError, match="exists"):
        chain.process_file(src, out)
    assert out.read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="above 0 s"):
        chain.process_file(src, tmp_path / "new.wav", block_s=0)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros((0, 2), np.float32), SR)
    with pytest.raises(AudioFileError, match="no audio frames"):
        chain.process_file(empty, tmp_path / "new.wav")

    class Reverse(Processor):  # a stage with no block-wise form
        type_name = "test.Reverse"

        def apply(self, audio: Audio, context: ChainContext) -> Audio:
            return audio.with_samples(audio.samples[:, ::-1])

        def params(self):
            return {}

    with pytest.raises(VoicemendError, match="Reverse cannot process a file block by block"):
        process_file_in_blocks([pedalboard.Gain(1), Reverse()], src, tmp_path / "new.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.wav", "in.wav", "out.wav"]


def test_a_failing_stage_removes_its_work_files(tmp_path):
    src = damaged_file(tmp_path / "in.wav")
    # an Inpaint at a rate repair does not support fails after the effects ran
    low = tmp_path / "low.wav"
    sf.write(str(low), read(src).T, 4000, subtype="FLOAT")
    chain = Chain([pedalboard.Gain(1), Inpaint(regions=[(1.0, 1.1)], method="lsar")])
    with pytest.raises(VoicemendError, match="outside the supported"):
        chain.process_file(low, tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "low.wav"]


def test_render_in_blocks_matches_render_whole(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    damaged_file(folder / "take.wav", subtype="PCM_24")
    preset = Chain(
        [DetectDropouts(), Inpaint(method="lsar"), pedalboard.HighpassFilter(80)]
    ).to_dict()
    whole_run = render([str(folder)], tmp_path / "whole", preset)
    block_run = render([str(folder)], tmp_path / "blocks", preset, block_s=2.0)
    assert whole_run.done[0].regions_repaired == block_run.done[0].regions_repaired == 3
    np.testing.assert_array_equal(
        read(tmp_path / "blocks" / "take.wav"), read(tmp_path / "whole" / "take.wav")
    )
    assert sf.info(str(tmp_path / "blocks" / "take.wav")).subtype == "PCM_24"
    code = main(
        [
            "render",
            str(folder),
            "-o",
            str(tmp_path / "cli"),
            "--chain",
            "podcast-dropout-repair",
            "--block-s",
            "2",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "cli" / "take.wav").exists()
    with pytest.raises(SystemExit):
        main(["render", str(folder), "-o", str(tmp_path / "x"), "--chain", "x", "--block-s", "0"])


def test_render_takes_a_file_too_large_to_hold_block_by_block(tmp_path, monkeypatch):
    import voicemend.plugin.render as render_module

    folder = tmp_path / "in"
    folder.mkdir()
    damaged_file(folder / "take.wav")
    monkeypatch.setattr(render_module, "needs_blocks", lambda channels, frames: True)

    def refuse(*args, **kwargs):
        raise AssertionError("the whole-buffer path ran")

    monkeypatch.setattr(Chain, "process", refuse)
    preset = Chain([DetectDropouts(), Inpaint(method="lsar")]).to_dict()
    summary = render([str(folder)], tmp_path / "out", preset)
    assert [i.status for i in summary.items] == ["done"]
    assert summary.items[0].regions_repaired == 3


def test_render_bit_depth_whole_or_in_blocks(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    damaged_file(folder / "take.wav", subtype="PCM_16")
    for name, blocks in (("whole", []), ("blocks", ["--block-s", "2"])):
        argv = ["render", str(folder), "-o", str(tmp_path / name), "--chain", "voice-cleanup"]
        assert main([*argv, "--bit-depth", "float", *blocks]) == 0, capsys.readouterr().err
        assert sf.info(str(tmp_path / name / "take.wav")).subtype == "FLOAT"
        # the same folder at another depth is rendered again, not skipped as complete
        assert main([*argv, "--bit-depth", "24", *blocks]) == 0
        assert sf.info(str(tmp_path / name / "take.wav")).subtype == "PCM_24"
    np.testing.assert_array_equal(
        read(tmp_path / "whole" / "take.wav"), read(tmp_path / "blocks" / "take.wav")
    )
    argv = ["render", str(folder), "-o", str(tmp_path / "f"), "--chain", "voice-cleanup"]
    assert main([*argv, "--format", "flac", "--bit-depth", "float"]) == 1
    assert "a FLAC file cannot hold FLOAT samples" in capsys.readouterr().err
