"""Batch rendering: manifest, resume, failures, workers, and a real Ray instance with a crash."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import Audio, load, save
from voicemend.engine.errors import VoicemendError
from voicemend.engine.io import info
from voicemend.plugin.cli import main
from voicemend.plugin.presets import load_preset
from voicemend.plugin.render import MANIFEST_NAME, expand_inputs, plan_outputs, render

from ..conftest import speech_like

PRESET = load_preset("podcast-dropout-repair").to_dict()


def make_inputs(folder, n=3, bad=False):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        x = speech_like(1.0, 16000, seed=i)
        x[8000:8800] = 0.0
        sf.write(str(folder / f"take{i}.wav"), x, 16000, subtype="PCM_24")
    if bad:
        (folder / "broken.wav").write_bytes(b"RIFF" + b"\x00" * 40)
    return folder


def statuses(out):
    data = json.loads((out / MANIFEST_NAME).read_text())
    return {os.path.basename(i["input"]): i["status"] for i in data["items"]}


def test_render_repairs_keeps_format_and_reports_failures(tmp_path):
    src = make_inputs(tmp_path / "in", bad=True)
    out = tmp_path / "out"
    summary = render([str(src)], out, PRESET)
    assert statuses(out) == {
        "broken.wav": "failed",
        "take0.wav": "done",
        "take1.wav": "done",
        "take2.wav": "done",
    }
    assert "cannot read" in summary.failed[0].error
    info = sf.info(str(out / "take0.wav"))
    assert (info.samplerate, info.subtype, info.frames) == (16000, "PCM_24", 16000)
    y, _ = sf.read(str(out / "take0.wav"))
    assert np.any(y[8000:8800] != 0)
    assert summary.done[0].regions_repaired >= 1


def test_rerun_skips_complete_outputs_and_retries_the_rest(tmp_path):
    src = make_inputs(tmp_path / "in", bad=True)
    out = tmp_path / "out"
    render([str(src)], out, PRESET)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("take*.wav")}
    sf.write(str(src / "broken.wav"), speech_like(0.5, 16000), 16000)  # the user fixes the file
    seen = []
    render([str(src)], out, PRESET, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (3, 4)  # three were already complete
    assert statuses(out)["broken.wav"] == "done"
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("take*.wav")} == before
    (out / "take1.wav").unlink()  # an output lost after the run is rendered again
    render([str(src)], out, PRESET)
    assert (out / "take1.wav").exists()


def test_two_local_workers(tmp_path):
    src = make_inputs(tmp_path / "in", n=4)
    summary = render([str(src / "*.wav")], tmp_path / "out", PRESET, workers=2, fmt="flac")
    assert len(summary.done) == 4
    assert sf.info(str(tmp_path / "out" / "take3.flac")).format == "FLAC"


def test_render_to_m4a_keeps_a_coded_inputs_bitrate_and_an_alac_ones_samples(tmp_path):
    """Zoom's M4A recordings rendered back to M4A: AAC at the input's bitrate; a lossless
    (ALAC) input stays ALAC."""
    src = make_inputs(tmp_path / "in", n=1)
    audio = load(src / "take0.wav")
    aac = save(audio, src / "zoom.m4a")
    save(audio, src / "memo.m4a", subtype="ALAC_24")
    (src / "take0.wav").unlink()
    summary = render([str(src)], tmp_path / "out", PRESET, fmt="m4a")
    assert len(summary.done) == 2
    out = info(tmp_path / "out" / "zoom.m4a")
    assert out.subtype == "AAC"
    assert out.bitrate_kbps == pytest.approx(info(aac).bitrate_kbps, rel=0.1)
    assert info(tmp_path / "out" / "memo.m4a").subtype == "ALAC_24"


def test_inputs_outputs_and_overwrite_safety(tmp_path):
    src = make_inputs(tmp_path / "in", n=2)
    (src / "sub").mkdir()
    sf.write(str(src / "sub" / "take0.wav"), speech_like(0.5, 16000), 16000)
    save(Audio.from_array(speech_like(0.5, 16000), 16000), src / "sub" / "zoom.m4a")
    (src / "notes.txt").write_text("not audio")
    files = expand_inputs([str(src), str(src / "take0.wav")])
    assert len(files) == 4  # the folder's audio files (an M4A too), found once each
    pairs = plan_outputs(files, tmp_path / "out", "wav")
    assert len({dst for _, dst in pairs}) == 4  # same names in subfolders do not collide
    with pytest.raises(VoicemendError, match="would replace an input"):
        plan_outputs(files, src, "wav")
    with pytest.raises(VoicemendError, match="no such file"):
        expand_inputs([str(tmp_path / "nothing*.wav")])


def test_render_cli(tmp_path, capsys):
    src = make_inputs(tmp_path / "in", n=2)
    labels = tmp_path / "regions.txt"
    labels.write_text("0.1\t0.12\tclick\n")
    code = main(
        [
            "render",
            str(src),
            "-o",
            str(tmp_path / "out"),
            "--chain",
            "podcast-dropout-repair",
            "--regions",
            str(labels),
            "--format",
            "flac",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "rendered 2 of 2" in captured.out
    code = main(
        ["render", str(src), "-o", str(tmp_path / "out2"), "--chain", str(tmp_path / "x.json")]
    )
    assert code == 1 and "no such preset" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_retries_a_crashed_task_and_loses_nothing(tmp_path):
    pytest.importorskip("ray")
    src = make_inputs(tmp_path / "in", n=4)
    marker = tmp_path / "crashed-once"
    out = tmp_path / "out"
    summary = render([str(src)], out, PRESET, workers=2, use_ray=True, fault_marker=str(marker))
    assert marker.exists()  # one worker really died mid-run
    assert len(summary.done) == 4 and not summary.failed
    assert set(statuses(out).values()) == {"done"}
    for i in range(4):
        y, _ = sf.read(str(out / f"take{i}.wav"))
        assert y.shape == (16000,) and np.any(y[8000:8800] != 0)


def test_render_bench_folder_and_table(tmp_path, dev_files):
    from voicemend.plugin.bench_render import build_folder, render_markdown, run_render_bench

    paths = build_folder(dev_files[:2], tmp_path, minutes=0.1, file_s=3.0)
    assert len(paths) == 2 and sf.info(str(paths[0])).samplerate == 44100
    rows = run_render_bench(
        dev_files[:2], PRESET, minutes=0.1, file_s=3.0, workers=(1,), with_ray=False
    )
    assert rows[0]["files"] == 2 and rows[0]["failed"] == 0 and rows[0]["rtf"] > 0
    assert "| 1 worker | 2 |" in render_markdown(rows)


def test_progress_within_a_file(tmp_path):
    src = make_inputs(tmp_path / "in", n=1)
    stages = []
    render(
        [str(src)], tmp_path / "out", PRESET, within_file=lambda s, d, t: stages.append((s, d, t))
    )
    assert {s for s, _, _ in stages} == {"detect", "repair"}
    assert ("repair", 1, 1) in stages


@pytest.mark.parametrize("blocks", [[], ["--block-s", "1"]])
def test_render_repairs_a_tagged_label_in_its_channel_only(tmp_path, capsys, blocks):
    left, right = speech_like(3.0, 48000, seed=1), speech_like(3.0, 48000, seed=2)
    right[72000:76800] = 0.0
    src = tmp_path / "in.wav"
    sf.write(str(src), np.stack([left, right], 1).astype(np.float32), 48000, subtype="FLOAT")
    labels = tmp_path / "regions.txt"
    labels.write_text("1.5\t1.6\tdigital_silence 1.00 [R]\n")
    preset = tmp_path / "repair.json"
    stages = [{"type": "voicemend.Inpaint", "params": {"method": "lsar"}}]
    preset.write_text(
        json.dumps({"format": "voicemend-chain", "format_version": 1, "stages": stages})
    )
    argv = ["render", str(src), "-o", str(tmp_path / "out"), "--chain", str(preset)]
    code = main([*argv, "--regions", str(labels), *blocks])
    assert code == 0, capsys.readouterr().err
    y = sf.read(str(tmp_path / "out" / "in.wav"), dtype="float32", always_2d=True)[0].T
    assert np.array_equal(y[0], left.astype(np.float32))
    assert np.sqrt(np.mean(y[1, 72000:76800] ** 2)) > 0.01
