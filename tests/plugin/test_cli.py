"""The CLI contract, run in-process through ``main(argv)``."""

import json

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import Audio, Region, load, save
from voicemend.engine.corrupt import add_click, noise_gate, zero_gap
from voicemend.engine.io import info
from voicemend.engine.metrics import log_spectral_distance
from voicemend.plugin.cli import main

from ..conftest import speech_like, speech_root


@pytest.fixture
def damaged_wav(tmp_path):
    clean = Audio.from_array(speech_like(2.0, 16000), 16000)
    damaged = zero_gap(clean, Region(16000, 16000 + 1600))
    return save(damaged, tmp_path / "in.wav"), clean


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_repair_region_writes_output_and_keeps_format(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    code, out, err = run(capsys, "repair", src, "-o", tmp_path / "out.wav", "--region", "1.0:1.1")
    assert code == 0, err
    assert "repaired 1 region" in out
    a, b = sf.info(str(src)), sf.info(str(tmp_path / "out.wav"))
    assert (a.samplerate, a.channels, a.frames, a.subtype) == (
        b.samplerate,
        b.channels,
        b.frames,
        b.subtype,
    )


def test_a_region_cut_short_of_the_dropout_is_snapped_and_reported(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    report = tmp_path / "r.json"
    code, out, err = run(
        capsys, "repair", src, "-o", tmp_path / "o.wav", "--region", "1.002:1.099",
        "--report", report,
    )  # fmt: skip
    assert code == 0, err
    assert "snapped 00:01.002-00:01.099 to a dropout's edges: +2.0 ms before, +1.0 ms after" in out
    data = json.loads(report.read_text())
    assert data["snapped"] == [
        {"given_s": [1.002, 1.099], "snapped_s": [1.0, 1.1], "dropout": "digital_silence"}
    ]
    assert data["regions"][0]["start_s"] == 1.0 and data["regions"][0]["end_s"] == 1.1
    code, out, err = run(
        capsys, "repair", src, "-o", tmp_path / "x.wav", "--region", "1.002:1.099", "--no-snap",
        "--report", report,
    )  # fmt: skip
    assert code == 0, err
    assert "snapped" not in out and json.loads(report.read_text())["snapped"] == []


def test_repair_auto_finds_and_fixes(tmp_path, capsys, damaged_wav):
    src, _clean = damaged_wav
    report = tmp_path / "r.json"
    code, _, err = run(
        capsys, "repair", src, "-o", tmp_path / "out.flac", "--auto", "--report", report
    )
    assert code == 0, err
    regions = json.loads(report.read_text())["regions"]
    assert len(regions) == 1 and regions[0]["start_s"] == pytest.approx(1.0)
    assert sf.info(str(tmp_path / "out.flac")).format == "FLAC"


def test_a_dropout_in_an_mp3_is_found_repaired_and_coded_at_its_bitrate(tmp_path, capsys):
    """A podcast published as MP3: the codec smears the cut, the repair finds its true edges,
    and the output is coded at the input's bitrate, with a note that it was coded again."""
    from voicemend.engine.lossy import file_bitrate_kbps, mp3_encoder_options

    rate = 44100
    clean = Audio.from_array(speech_like(3.0, rate, seed=3), rate)
    damaged = zero_gap(clean, Region(rate, rate + 4410))
    src = tmp_path / "episode.mp3"
    sf.write(str(src), damaged.samples.T, rate, **mp3_encoder_options(96, rate))
    report = tmp_path / "r.json"
    out = tmp_path / "fixed.mp3"
    code, _, err = run(capsys, "repair", src, "-o", out, "--auto", "--report", report)
    assert code == 0, err
    (region,) = json.loads(report.read_text())["regions"]
    assert region["start_s"] == pytest.approx(1.0, abs=0.002)
    assert region["end_s"] == pytest.approx(1.1, abs=0.002)
    assert file_bitrate_kbps(out, 3.0) == pytest.approx(96, rel=0.1)
    assert "fixed.mp3 is MP3 at" in err and "coded again" in err and ".flac" in err
    code, _, err = run(capsys, "repair", src, "-o", tmp_path / "fixed.flac", "--auto")
    assert code == 0 and "coded again" not in err
    code, text, _ = run(capsys, "info", out)
    (line,) = [row for row in text.splitlines() if row.startswith("bitrate:")]
    assert float(line.split()[1]) == pytest.approx(96, rel=0.1) and "MP3" in line


def test_a_clipped_files_many_short_repairs_are_summed_up_and_its_dropout_listed(tmp_path, capsys):
    x = speech_like(3.0, 16000, seed=7)
    x = np.clip(1.5 * 0.8 * x / np.max(np.abs(x)), -0.8, 0.8)
    src = save(zero_gap(Audio.from_array(x, 16000), Region(24000, 24800)), tmp_path / "in.wav")
    report = tmp_path / "r.json"
    args = ["repair", src, "-o", tmp_path / "out.wav", "--auto", "--report", report]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    regions = json.loads(report.read_text())["regions"]
    n, kept = len(regions), sum(r["kept_at_rail"] for r in regions)
    assert n > 40 and kept > 0  # the clipped runs, and the dropout
    lines = out.splitlines()
    assert len(lines) < 10
    assert any(line.startswith("00:01.500-00:01.550") for line in lines)  # the 50 ms dropout
    (summary,) = [line for line in lines if "under 5 ms (clipped peaks, clicks)" in line]
    assert summary.startswith(f"{n - 1} repair(s)")
    assert summary.endswith(f", {kept} sample(s) kept at the clipping rail")
    assert f"repaired {n} region(s)" in out and "--list-all" in out
    code, out, err = run(capsys, *args, "--overwrite", "--list-all")
    assert code == 0, err
    assert len(out.splitlines()) == n + 1  # every repair, and the total


def test_repair_from_audacity_labels(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    labels = tmp_path / "labels.txt"
    labels.write_text("1.000000\t1.100000\tdropout\n\\\t100.0\t4000.0\n0.5\t0.5\tpoint\n")
    code, out, err = run(
        capsys, "repair", src, "-o", tmp_path / "o.wav", "--labels", labels, "--method", "lsar"
    )
    assert code == 0, err
    assert "lsar" in out


def test_in_place_needs_flag_and_outputs_are_not_overwritten(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    before = src.read_bytes()
    code, _, err = run(capsys, "repair", src, "-o", src, "--region", "1.0:1.1")
    assert code == 1 and "--in-place" in err and src.read_bytes() == before
    code, _, err = run(capsys, "repair", src, "--region", "1.0:1.1")
    assert code == 1 and "-o OUT" in err
    code, _, err = run(capsys, "repair", src, "--in-place", "--region", "1.0:1.1")
    assert code == 0, err
    assert src.read_bytes() != before
    other = tmp_path / "exists.wav"
    other.write_bytes(b"keep")
    code, _, err = run(capsys, "repair", src, "-o", other, "--region", "1.0:1.1")
    assert code == 1 and "--overwrite" in err and other.read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--region", "1:2"], "no such file"),
        (b"", ["--region", "0.1:0.2"], "empty"),
        (b"not audio at all" * 100, ["--region", "0.1:0.2"], "cannot read"),
        ("wav", ["--region", "5:6"], "ends after the audio"),
        ("wav", [], "nothing to repair"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, capsys, setup, args, message):
    src = tmp_path / "x.wav"
    if isinstance(setup, bytes):
        src.write_bytes(setup)
    elif setup == "wav":
        save(Audio.from_array(speech_like(1.0, 16000), 16000), src)
    code, _, err = run(capsys, "repair", src, "-o", tmp_path / "y.wav", *args)
    assert code == 1
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y.wav").exists()


def test_nan_samples_are_repaired_and_said_so(tmp_path, capsys):
    data = speech_like(2.0, 16000)
    data[8000:8010] = np.nan
    src = tmp_path / "nan.wav"
    sf.write(str(src), data, 16000, subtype="FLOAT")
    code, out, err = run(capsys, "detect", src)
    assert code == 0, err
    assert "non_finite" in out and "1 detection(s)" in out
    png = tmp_path / "d.png"
    code, blocks, err = run(capsys, "detect", src, "--block-s", 0.5, "--plot", png)
    assert code == 0, err
    assert blocks == out and png.stat().st_size > 0
    code, out, err = run(capsys, "repair", src, "-o", tmp_path / "o.wav", "--region", "1.5:1.6")
    assert code == 0, err
    assert "10 NaN/Inf sample(s) in 1 run(s), the first at 0.500 s" in out
    assert "repaired 2 region(s)" in out
    assert np.isfinite(sf.read(str(tmp_path / "o.wav"))[0]).all()


def test_render_repairs_nan_samples_where_the_chain_repairs_and_refuses_them_where_not(
    tmp_path, capsys
):
    data = speech_like(2.0, 16000)
    data[8000:8010] = np.nan
    src = tmp_path / "nan.wav"
    sf.write(str(src), data, 16000, subtype="FLOAT")
    chain = "podcast-dropout-repair"
    code, out, err = run(capsys, "render", src, "--chain", chain, "-o", tmp_path / "r")
    assert code == 0, out + err
    fixed, _ = sf.read(str(tmp_path / "r" / "nan.wav"))
    assert np.isfinite(fixed).all() and np.sqrt(np.mean(fixed[8000:8010] ** 2)) > 0.01
    gain_only = tmp_path / "gain.json"
    gain_only.write_text(
        json.dumps(
            {
                "format": "voicemend-chain",
                "format_version": 1,
                "stages": [{"type": "Gain", "params": {"gain_db": -3.0}}],
            }
        )
    )
    code, out, err = run(capsys, "render", src, "--chain", gain_only, "-o", tmp_path / "g")
    assert code == 1
    assert "10 NaN/Inf sample(s) in 1 run(s)" in out + err and "no Inpaint stage" in out + err
    # block by block the stages read the file themselves: the repair stages as repair does
    code, out, err = run(
        capsys, "render", src, "--chain", chain, "-o", tmp_path / "b", "--block-s", 1
    )
    assert code == 0, out + err
    assert np.isfinite(sf.read(str(tmp_path / "b" / "nan.wav"))[0]).all()
    # and an effect first refuses it, naming the sample
    code, out, err = run(
        capsys, "render", src, "--chain", gain_only, "-o", tmp_path / "c", "--block-s", 1
    )
    assert code == 1 and "frame 8000" in out + err and "voicemend repair" in out + err


def test_bad_region_syntax_is_a_usage_error(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    with pytest.raises(SystemExit) as exc:
        main(["repair", str(src), "-o", str(tmp_path / "o.wav"), "--region", "2:1"])
    assert exc.value.code == 2
    assert "reversed" in capsys.readouterr().err


def test_unsupported_output_format(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    code, _, err = run(capsys, "repair", src, "-o", tmp_path / "o.xyz", "--region", "1:1.1")
    assert code == 1 and "unsupported output format" in err


@pytest.mark.parametrize("fmt", ["text", "json", "audacity"])
def test_detect_formats(tmp_path, capsys, damaged_wav, fmt):
    src, _ = damaged_wav
    code, out, err = run(capsys, "detect", src, "--format", fmt)
    assert code == 0, err
    if fmt == "json":
        dets = json.loads(out)["detections"]
        assert len(dets) == 1 and dets[0]["kind"] == "digital_silence"
        assert dets[0]["start_s"] == pytest.approx(1.0)
    elif fmt == "audacity":
        start, end, label = out.strip().split("\t")
        assert float(start) == pytest.approx(1.0) and float(end) == pytest.approx(1.1)
        assert label.startswith("digital_silence")
    else:
        assert out.splitlines()[-1] == "1 detection(s) in 2.00 s (digital_silence 1)"


def test_detect_lists_a_gates_pauses_only_when_asked(tmp_path, capsys):
    """A gated recording's silent pauses are not dropouts; --min-confidence 0.2 lists them."""
    rng = np.random.default_rng(0)
    x = 0.001 * rng.standard_normal(32000)
    x[4000:12000] += speech_like(0.5, 16000, seed=1)
    x[20000:28000] += speech_like(0.5, 16000, seed=2)
    gated = noise_gate(Audio.from_array(x.astype(np.float32), 16000))
    src = tmp_path / "gated.wav"
    save(gated, src)
    code, out, err = run(capsys, "detect", src, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["detections"] == []
    code, out, err = run(capsys, "detect", src, "--format", "json", "--min-confidence", "0.2")
    assert code == 0, err
    found = json.loads(out)["detections"]
    assert len(found) == 1 and found[0]["confidence"] == pytest.approx(0.25)
    assert 0.75 < found[0]["start_s"] < 0.8 and found[0]["end_s"] == pytest.approx(1.25, abs=0.01)
    with pytest.raises(SystemExit) as exit_info:
        main(["detect", str(src), "--min-confidence", "2"])
    assert exit_info.value.code == 2 and "not within 0..1" in capsys.readouterr().err


def test_detect_to_file_and_plot(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    out_file, png = tmp_path / "d.txt", tmp_path / "d.png"
    code, _, err = run(capsys, "detect", src, "--format", "audacity", "-o", out_file, "--plot", png)
    assert code == 0, err
    assert out_file.read_text().count("\n") == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "detect", src, "-o", out_file)
    assert code == 1 and "exists" in err


def test_info(capsys, damaged_wav):
    src, _ = damaged_wav
    code, out, _ = run(capsys, "info", src)
    assert code == 0
    assert "16000 Hz" in out and "PCM_16" in out and "00:02.000" in out
    assert "peak:" in out and "dBFS" in out
    assert "bitrate" not in out  # a lossless file's size says nothing of its quality


def test_info_measures_around_nan_samples_and_counts_them(tmp_path, capsys):
    x = np.stack([np.full(3000, 0.5, np.float32), np.full(3000, 0.25, np.float32)], axis=1)
    x[2500, 1] = np.nan
    x[2600:2610, 0] = np.inf
    sf.write(str(tmp_path / "nan.wav"), x, 1000, subtype="FLOAT")
    code, out, _ = run(capsys, "info", tmp_path / "nan.wav")
    assert code == 0
    assert "peak:        -6.0 dBFS, -12.0 dBFS" in out and "rms:         -6.0 dBFS, -12.0" in out
    assert "11 NaN/Inf sample(s), the first at 00:02.500" in out


def test_info_on_empty_and_corrupt_files(tmp_path, capsys):
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), 8000)
    code, out, _ = run(capsys, "info", empty)
    assert code == 0 and "no audio frames" in out
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC" + b"\x00" * 50)
    code, _, err = run(capsys, "info", bad)
    assert code == 1 and "cannot read" in err


def test_a_zoom_m4a_is_repaired_into_m4a_at_its_bitrate(tmp_path, capsys):
    """Zoom and phones record AAC in M4A: found and repaired like any file, written back as
    AAC at the input's bitrate, with the note that it was coded again."""
    rate = 48000
    clean = Audio.from_array(speech_like(3.0, rate, seed=4), rate)
    src = save(zero_gap(clean, Region(rate, rate + 4800)), tmp_path / "zoom.m4a")
    given = info(src).bitrate_kbps
    code, text, _ = run(capsys, "info", src)
    assert code == 0 and "MP4 / AAC" in text and "(AAC, stated by the file)" in text
    report, out = tmp_path / "r.json", tmp_path / "fixed.m4a"
    code, _, err = run(capsys, "repair", src, "-o", out, "--auto", "--report", report)
    assert code == 0, err
    (region,) = json.loads(report.read_text())["regions"]
    assert region["start_s"] == pytest.approx(1.0, abs=0.004)
    assert region["end_s"] == pytest.approx(1.1, abs=0.004)
    written = info(out)
    assert (written.subtype, written.n_frames) == ("AAC", clean.n_frames)
    assert written.bitrate_kbps == pytest.approx(given, rel=0.1)
    assert "fixed.m4a is AAC at" in err and "coded again" in err
    data = bytearray(src.read_bytes())  # a stretch the decoder refuses: one line, not a trace
    data[len(data) // 2 : len(data) // 2 + 600] = bytes(600)
    (tmp_path / "broken.m4a").write_bytes(bytes(data))
    code, _, err = run(capsys, "detect", tmp_path / "broken.m4a")
    assert code == 0 and "voicemend: warning: broken.m4a: " in err and "Traceback" not in err
    lossless = tmp_path / "lossless.m4a"  # a bit depth asks for ALAC
    code, _, err = run(capsys, "repair", src, "-o", lossless, "--auto", "--bit-depth", "24")
    assert code == 0 and "coded again" not in err and info(lossless).subtype == "ALAC_24"


def test_an_alac_m4a_keeps_every_sample_outside_the_repair(tmp_path, capsys):
    """ALAC is lossless: as with FLAC, the repaired file differs only inside the region and its
    crossfades."""
    rate = 44100
    clean = Audio.from_array(speech_like(2.0, rate, seed=5), rate)
    src = save(zero_gap(clean, Region(rate, rate + 2205)), tmp_path / "memo.m4a", subtype="ALAC_24")
    out = tmp_path / "fixed.m4a"
    code, _, err = run(capsys, "repair", src, "-o", out, "--region", "1.0:1.05")
    assert code == 0, err
    assert "coded again" not in err and info(out).subtype == "ALAC_24"
    before, after = load(src).samples, load(out).samples
    fade = round(0.010 * rate)
    np.testing.assert_array_equal(after[:, : rate - fade], before[:, : rate - fade])
    np.testing.assert_array_equal(after[:, rate + 2205 + fade :], before[:, rate + 2205 + fade :])
    assert np.abs(after[:, rate : rate + 2205]).max() > 0.01


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2)])
def test_done_when_200ms_gap_in_dev_speech(tmp_path, capsys, dev_utterance, rate, channels):
    """A zeroed 200 ms gap in real speech: outside ±10 ms identical, gap LSD lowered."""
    clean = load(dev_utterance).resampled(rate)
    if channels == 2:
        clean = clean.with_samples(np.stack([clean.samples[0], 0.8 * clean.samples[0]]))
    from voicemend.engine.corrupt import speech_positions

    gap = speech_positions(clean.samples[0], rate, int(0.2 * rate), 1, np.random.default_rng(0))[0]
    damaged = zero_gap(clean, gap)
    src = save(damaged, tmp_path / "in.wav", subtype="PCM_24")
    start_s, end_s = gap.start / rate, gap.end / rate
    code, _, err = run(
        capsys, "repair", src, "-o", tmp_path / "out.wav", "--region", f"{start_s:.6f}:{end_s:.6f}"
    )
    assert code == 0, err
    before, _ = sf.read(str(src), dtype="int32", always_2d=True)
    after, _ = sf.read(str(tmp_path / "out.wav"), dtype="int32", always_2d=True)
    keep = np.ones(before.shape[0], dtype=bool)
    margin = int(0.01 * rate) + 1
    keep[gap.start - margin : gap.end + margin] = False
    np.testing.assert_array_equal(before[keep], after[keep])
    repaired = load(tmp_path / "out.wav")
    lo, hi = gap.start - int(0.05 * rate), gap.end + int(0.05 * rate)
    for ch in range(channels):
        ref = clean.samples[ch, lo:hi]
        lsd_zero = log_spectral_distance(ref, damaged.samples[ch, lo:hi], rate)
        lsd_fix = log_spectral_distance(ref, repaired.samples[ch, lo:hi], rate)
        assert lsd_fix < lsd_zero


def test_detect_reaper_format_round_trips_into_repair(tmp_path, capsys, damaged_wav):
    src, _ = damaged_wav
    markers = tmp_path / "markers.csv"
    code, _, err = run(capsys, "detect", src, "--format", "reaper", "-o", markers)
    assert code == 0, err
    assert markers.read_text().startswith("#,Name,Start,End,Length\nR1,digital_silence")
    code, out, err = run(capsys, "repair", src, "-o", tmp_path / "fixed.wav", "--labels", markers)
    assert code == 0, err
    assert "repaired 1 region" in out


def test_edit_checks_the_file_before_starting_the_editor(tmp_path, capsys):
    code, _, err = run(capsys, "edit", tmp_path / "missing.wav")
    assert code == 1 and "no such file" in err


def test_bench_speed_devices_must_be_cpu_or_cuda(tmp_path, capsys):
    code, _, err = run(
        capsys, "bench", "speed", "--methods", "lsar", "--devices", "tpu", "--results", tmp_path
    )
    assert code == 1 and "--devices takes cpu and/or cuda, not 'tpu'" in err
    assert not any(tmp_path.iterdir())


def test_bench_quality_rescore_must_name_benched_methods(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "bench",
        "quality",
        "--methods",
        "zero,lsar",
        "--rescore",
        "lsar,pattern",
        "--results",
        tmp_path,
    )
    assert code == 1 and "--rescore names methods this run does not bench: pattern" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rescore-gaps", "200"], "--rescore-gaps needs --rescore"),
        (
            ["--rescore", "lsar", "--rescore-gaps", "200,250"],
            "lengths this run does not bench: 250",
        ),
        (["--rescore", "lsar", "--rescore-gaps", "2OO"], "whole milliseconds"),
    ],
)
def test_bench_quality_rescore_gaps_are_checked(tmp_path, capsys, extra, message):
    code, _, err = run(
        capsys, "bench", "quality", "--methods", "zero,lsar", *extra, "--results", tmp_path
    )
    assert code == 1 and message in err
    assert not any(tmp_path.iterdir())


def test_a_closed_pipe_ends_quietly(tmp_path, damaged_wav):
    """`voicemend info x.wav | head -1`: no traceback when the reader stops early."""
    import subprocess
    import sys

    src, _ = damaged_wav
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicemend.plugin.cli", "info", str(src)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1  # like an error: the output did not all arrive
    proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_train_mel_size_picks_the_model_and_a_contradicting_size_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(4.0, 16000), 16000)
    out = tmp_path / "run"
    argv = ["train", "mel", "--data", data, "--out", out, "--batch-size", 1, "--device", "cpu"]
    assert main([str(a) for a in [*argv, "--steps", 1, "--size", "base"]]) == 0
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert (state["config"]["model"]["d_model"], state["config"]["model"]["num_layers"]) == (384, 8)
    assert main([str(a) for a in [*argv, "--steps", 2]]) == 0  # continues as base
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2 and state["config"]["model"]["d_model"] == 384
    capsys.readouterr()
    assert main([str(a) for a in [*argv, "--steps", 3, "--size", "small"]]) != 0
    assert "not the 'small' size" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "weight", "rate", "workers", "seed", "bf16"),
    [
        ([], 0.0, None, 0, 0, False),
        (["--adversarial", "0.3", "--learning-rate", "1e-4"], 0.3, 1e-4, 0, 0, False),
        (["--workers", "2", "--seed", "7", "--bf16"], 0.0, None, 2, 7, True),
    ],
)
def test_train_mel_passes_the_adversarial_rate_worker_seed_and_bf16_options_to_the_recipe(
    tmp_path, extra, weight, rate, workers, seed, bf16
):
    from voicemend.engine.training.mel import MelTrainConfig

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(4.0, 16000), 16000)
    out = tmp_path / "run"
    argv = ["train", "mel", "--data", data, "--out", out, "--steps", 1, "--batch-size", 1]
    assert main([str(a) for a in [*argv, "--device", "cpu", *extra]]) == 0
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["config"]["train"]["adversarial_weight"] == weight
    assert state["config"]["train"]["learning_rate"] == (rate or MelTrainConfig.learning_rate)
    assert (out / "checkpoint" / "discriminator.safetensors").exists() == (weight > 0)
    assert state["config"]["train"]["data_workers"] == workers
    assert state["config"]["train"]["seed"] == state["seed"] == seed
    assert state["config"]["train"]["bf16"] is bf16


def test_train_mel_refuses_a_negative_worker_count(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "mel", "--out", str(tmp_path / "run"), "--workers", "-1"])
    assert "--workers: -1 is below 0" in capsys.readouterr().err


def test_train_decoder_postfilter_needs_a_predictor_and_is_recorded(tmp_path, capsys):
    from voicemend.engine.models.mel_transformer import MelTransformer

    from ..engine.test_mel_transformer import TINY

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(4.0, 16000), 16000)
    argv = ["train", "decoder", "--data", data, "--steps", 1, "--batch-size", 1, "--device", "cpu"]
    assert main([str(a) for a in [*argv, "--out", tmp_path / "a", "--postfilter"]]) != 0
    assert "--postfilter works on a predictor's frames" in capsys.readouterr().err
    MelTransformer(TINY).save_pretrained(tmp_path / "predictor")
    out = tmp_path / "b"
    extra = ["--out", out, "--predictor", tmp_path / "predictor", "--postfilter"]
    assert main([str(a) for a in [*argv, *extra]]) == 0
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["config"]["train"]["gta_postfilter"] == {"strength": 1.0, "max_scale": 3.0}


def test_train_stopped_by_ctrl_c_keeps_its_steps_and_says_how_to_go_on(
    tmp_path, capsys, monkeypatch
):
    """Ctrl-C during `voicemend train` checkpoints the step it was on and exits 130 with the
    two ways on; the `--steps` it names then exports that model without training further."""
    import os
    import signal

    from voicemend.engine.training.run import TrainingRun

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(4.0, 16000), 16000)
    out = tmp_path / "run"
    real_maybe_save = TrainingRun.maybe_save

    def ctrl_c_at_step_2(self, every_s):
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real_maybe_save(self, every_s)

    monkeypatch.setattr(TrainingRun, "maybe_save", ctrl_c_at_step_2)
    before = signal.getsignal(signal.SIGINT)  # Python's default, or ignored in a background job
    argv = ["train", "mel", "--data", data, "--out", out, "--batch-size", 1, "--device", "cpu"]
    assert main([str(a) for a in [*argv, "--steps", 50]]) == 130
    err = capsys.readouterr().err
    assert "SIGINT: stopped at step 2" in err and "--steps 2" in err
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2
    assert not (out / "export").exists()
    monkeypatch.setattr(TrainingRun, "maybe_save", real_maybe_save)
    assert main([str(a) for a in [*argv, "--steps", 2]]) == 0
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2
    assert (out / "export" / "model.safetensors").exists()
    assert signal.getsignal(signal.SIGINT) is before


def test_repair_and_detect_block_by_block(tmp_path, capsys, damaged_wav):
    """--block-s gives the file a whole-file repair gives; detect lists the same dropouts."""
    src, _ = damaged_wav
    code, out, err = run(
        capsys, "repair", src, "-o", tmp_path / "b.wav", "--auto", "--block-s", 0.5
    )
    assert code == 0, err
    assert "repaired 1 region(s)" in out and "blocks)" in out
    assert run(capsys, "repair", src, "-o", tmp_path / "w.wav", "--auto")[0] == 0
    a, _ = sf.read(str(tmp_path / "b.wav"), dtype="int16")
    b, _ = sf.read(str(tmp_path / "w.wav"), dtype="int16")
    assert np.array_equal(a, b)
    copy = tmp_path / "copy.wav"  # in place: read while the output is written, then replaced
    copy.write_bytes(src.read_bytes())
    assert run(capsys, "repair", copy, "--in-place", "--auto", "--block-s", 0.5)[0] == 0
    assert np.array_equal(sf.read(str(copy), dtype="int16")[0], b)
    code, whole, _ = run(capsys, "detect", src)
    code, blocks, err = run(capsys, "detect", src, "--block-s", 0.5, "--plot", tmp_path / "d.png")
    assert code == 0, err
    assert blocks == whole and (tmp_path / "d.png").stat().st_size > 0


@pytest.mark.parametrize("value", ["0", "-5", "nan", "soon"])
def test_a_block_length_must_be_positive_seconds(tmp_path, capsys, damaged_wav, value):
    src, _ = damaged_wav
    with pytest.raises(SystemExit) as exc:
        main(["repair", str(src), "-o", str(tmp_path / "o.wav"), "--auto", "--block-s", value])
    assert exc.value.code == 2
    assert "--block-s" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize(("subtype", "noted"), [("PCM_16", True), ("FLOAT", False)])
def test_restored_peaks_past_full_scale_are_noted_for_an_integer_output(
    tmp_path, capsys, subtype, noted
):
    x = speech_like(2.0, 16000, seed=7)
    x = np.clip(1.5 * x / np.max(np.abs(x)), -1.0, 1.0)
    src = tmp_path / "clipped.wav"
    sf.write(str(src), x, 16000, subtype=subtype)
    code, _, err = run(capsys, "repair", src, "-o", tmp_path / "out.wav", "--auto")
    assert code == 0
    assert ("past full scale" in err and "PCM_16 output" in err) is noted
    assert ("past full scale" in err) is noted


@pytest.mark.parametrize("block_s", [None, 0.5])
def test_bit_depth_float_keeps_restored_peaks_past_full_scale(tmp_path, capsys, block_s):
    x = speech_like(2.0, 16000, seed=7)
    x = np.clip(1.5 * x / np.max(np.abs(x)), -1.0, 1.0)
    src = tmp_path / "clipped.wav"
    sf.write(str(src), x, 16000, subtype="PCM_16")
    blocks = [] if block_s is None else ["--block-s", block_s]
    out = tmp_path / "out.wav"
    code, _, err = run(capsys, "repair", src, "-o", out, "--auto", "--bit-depth", "float", *blocks)
    assert code == 0 and "past full scale" not in err
    assert sf.info(str(out)).subtype == "FLOAT"
    assert np.max(np.abs(sf.read(str(out))[0])) > 1.0
    code, _, err = run(
        capsys, "repair", src, "-o", tmp_path / "o.flac", "--auto", "--bit-depth", "float"
    )
    assert code == 1 and "a FLAC file cannot hold FLOAT samples" in err
    assert not (tmp_path / "o.flac").exists()
    code, _, _ = run(
        capsys, "repair", src, "-o", tmp_path / "o24.flac", "--auto", "--bit-depth", "24"
    )
    assert code == 0 and sf.info(str(tmp_path / "o24.flac")).subtype == "PCM_24"


def test_repair_lines_list_the_first_dropouts_and_count_the_rest():
    from voicemend.engine.inpaint import RegionReport
    from voicemend.plugin.cli import LISTED_REPAIRS, repair_lines

    def report(start, n):
        return RegionReport(Region(start, start + n), "lsar", 0.01, (0, 0), (0, 0), "order 40")

    dropouts = [report(16000 * i, 1600) for i in range(LISTED_REPAIRS + 10)]
    lines = repair_lines(dropouts, 16000, LISTED_REPAIRS)
    assert len(lines) == LISTED_REPAIRS + 2
    assert lines[-2] == "… and 10 more of 5 ms or longer" and "--list-all" in lines[-1]
    assert len(repair_lines(dropouts, 16000, None)) == LISTED_REPAIRS + 10
    few = repair_lines([*dropouts[:3], report(500, 1)], 16000, LISTED_REPAIRS)
    assert len(few) == 4  # under the limit: every repair, short ones too


def test_bench_detection_of_calls_saved_at_48k(tmp_path, capsys, dev_files):
    """The comfort noise of a 16 kHz call saved at 48 kHz is found: the run writes its table
    at the saved rate, with bursts found (none were before the band was measured)."""
    code, out, err = run(
        capsys,
        "bench",
        "detection",
        "--data",
        speech_root(),
        "--limit",
        "2",
        "--per-file",
        "3",
        "--saved-at",
        "48000",
        "--name",
        "det",
        "--results",
        tmp_path,
    )
    assert code == 0, err
    report = json.loads((tmp_path / "det" / "detection.json").read_text())
    assert report["saved_at_hz"] == 48000 and report["n_files"] == 2
    noise = report["scenarios"]["packet_noise"]
    assert noise["true_positives"] >= 5 and noise["false_negatives"] <= 1
    assert "packet_noise" in out
    # clicks are scored too, with a detector that seeks them; the clean files scanned for them
    clicks = report["scenarios"]["click"]
    assert clicks["true_positives"] + clicks["false_negatives"] == 6
    assert report["click_false_alarms"] >= 0
    assert "scanned for clicks alone" in (tmp_path / "det" / "detection.md").read_text()


def test_bench_detection_of_files_saved_as_mp3(tmp_path, capsys, dev_files):
    args = ["bench", "detection", "--data", speech_root(), "--limit", "1", "--per-file", "3"]
    args += ["--saved-at", "44100", "--saved-as", "mp3:128", "--name", "d", "--results", tmp_path]
    code, _, err = run(capsys, *args)
    assert code == 0, err
    report = json.loads((tmp_path / "d" / "detection.json").read_text())
    assert report["saved_as"] == "mp3 128 kb/s" and report["saved_at_hz"] == 44100
    zero_runs = report["scenarios"]["zero_run"]
    assert zero_runs["true_positives"] + zero_runs["false_negatives"] == 3
    assert "coded as mp3 128 kb/s" in (tmp_path / "d" / "detection.md").read_text()
    args = ["bench", "detection", "--data", speech_root(), "--limit", "1", "--saved-at", "44100"]
    code, _, err = run(capsys, *args, "--saved-as", "opus", "--results", tmp_path / "no")
    assert code == 1 and "opus codes 8000" in err and not (tmp_path / "no").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "detection", "--saved-as", "flac", "--results", str(tmp_path / "no")])
    assert exit_info.value.code == 2 and "unknown codec 'flac'" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("flag", [[], ["--concealed"]])
def test_bench_detection_concealed_seeks_concealment_in_every_scan(
    tmp_path, capsys, dev_files, flag
):
    code, _, err = run(
        capsys, "bench", "detection", "--data", speech_root(), "--limit", "1",
        "--per-file", "1", "--name", "det", "--results", tmp_path, *flag,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "det" / "detection.json").read_text())
    assert report["concealment_everywhere"] is bool(flag)
    table = (tmp_path / "det" / "detection.md").read_text()
    assert ("concealment sought in every scan" in table) is bool(flag)
    calls = report["scenarios"].get("call_concealed")
    if calls is not None:  # libopus present: bursts counted by length, on the 20 ms grid
        by_ms = report["calls_by_ms"]
        assert (
            sum(n for n, _ in by_ms.values()) == calls["true_positives"] + calls["false_negatives"]
        )
        assert sum(seen for _, seen in by_ms.values()) == report["calls_found"]
        assert all(int(ms) % 20 == 0 and 20 <= int(ms) <= 120 for ms in by_ms)
        assert "| burst | bursts | overlapped |" in table


def test_bench_compare_names_a_folder_that_is_not_a_quality_bench(tmp_path, capsys):
    detection = tmp_path / "detection"
    detection.mkdir()
    (detection / "detection.json").write_text("{}")
    code, _, err = run(capsys, "bench", "compare", detection, detection)
    assert code == 1 and "no summary.json; bench compare reads quality bench results" in err
    bad = tmp_path / "summary.json"
    bad.write_text("not json")
    code, _, err = run(capsys, "bench", "compare", bad, bad)
    assert code == 1 and "not a quality bench summary" in err


@pytest.mark.parametrize("rate", ["0", "-5", "48k"])
def test_bench_detection_saved_at_must_be_a_repairable_rate(tmp_path, capsys, rate):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "detection", "--saved-at", rate, "--results", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--saved-at" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("flag", "kind"), [("--concealed", "concealed"), ("--clicks", "click")])
def test_detect_looks_for_opt_in_kinds_only_when_asked(tmp_path, capsys, monkeypatch, flag, kind):
    """--concealed and --clicks add their kind to the detector the command builds."""
    import voicemend.plugin.cli as cli
    from voicemend.engine.detect import DropoutKind

    seen = []
    real = cli.DropoutDetector

    def spy(settings):
        seen.append(settings.kinds)
        return real(settings)

    monkeypatch.setattr(cli, "DropoutDetector", spy)
    path = tmp_path / "a.wav"
    import soundfile as sf

    from ..conftest import speech_like

    sf.write(str(path), speech_like(1.0, 16000), 16000)
    for flags in ([], [flag]):
        code, _, err = run(capsys, "detect", path, *flags)
        assert code == 0, err
    assert DropoutKind(kind) not in seen[0] and DropoutKind(kind) in seen[1]


@pytest.mark.skipif(
    not __import__("voicemend.engine.opus", fromlist=["x"]).opus_available(),
    reason="libopus0 is not installed",
)
@pytest.mark.parametrize("blocks", [[], ["--block-s", "2"]])
def test_repair_auto_concealed_repairs_a_calls_concealed_loss(
    tmp_path, capsys, dev_utterance, blocks
):
    """A dev utterance through Opus with 100 ms of packets lost in its speech: ``--auto`` alone
    leaves the call as it is; ``--auto --concealed`` repairs that burst and nothing else."""
    from voicemend.engine.corrupt import speech_positions
    from voicemend.engine.opus import OpusCodec

    x = load(dev_utterance).to_mono().resampled(16000).samples[0]
    codec = OpusCodec(24000, 16000)
    place = speech_positions(x, 16000, 6 * 320, 1, np.random.default_rng(5))[0]
    first = -(-place.start // 320)
    call = codec.roundtrip(x, set(range(first, first + 5)))
    src = save(Audio.from_array(call, 16000), tmp_path / "call.wav", subtype="FLOAT")
    burst = (first * 320, (first + 5) * 320)
    outs = _repair_auto_without_and_with(capsys, src, tmp_path, "--concealed", blocks)
    plain, plain_report = outs[0]
    assert plain_report["regions"] == [] and np.array_equal(plain, call)
    repaired, report = outs[1]
    spans = [(round(r["start_s"] * 16000), round(r["end_s"] * 16000)) for r in report["regions"]]
    assert any(a < burst[1] and b > burst[0] for a, b in spans)
    outside = np.ones(call.size, bool)
    for a, b in spans:
        outside[max(0, a - 160) : b + 160] = False  # the region and its crossfade
    assert np.array_equal(repaired[outside], call[outside])
    assert not np.array_equal(repaired[burst[0] : burst[1]], call[burst[0] : burst[1]])


def _repair_auto_without_and_with(capsys, src, tmp_path, flag, blocks):
    """``repair --auto`` of ``src`` without ``flag`` (0) and with it (1): output samples and
    report of each."""
    outs = {}
    for flags in ([], [flag]):
        out, report = tmp_path / f"out{len(flags)}.wav", tmp_path / f"r{len(flags)}.json"
        code, _, err = run(
            capsys, "repair", src, "-o", out, "--auto", "--report", report, *flags, *blocks
        )
        assert code == 0, err
        outs[len(flags)] = (sf.read(str(out), dtype="float32")[0], json.loads(report.read_text()))
    return outs


@pytest.mark.parametrize("flag", ["--concealed", "--clicks"])
def test_repair_opt_in_kinds_need_auto(tmp_path, capsys, damaged_wav, flag):
    src, _ = damaged_wav
    code, _, err = run(capsys, "repair", src, "-o", tmp_path / "o.wav", "--region", "0.1:0.2", flag)
    assert code != 0 and "--auto" in err and flag in err and not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("blocks", [[], ["--block-s", "1"]])
def test_repair_auto_clicks_takes_out_a_click_and_leaves_the_rest(tmp_path, capsys, blocks):
    """A click 30 dB over the voice at 1.2 s: ``--auto`` alone leaves it; ``--auto --clicks``
    repairs about a millisecond around it, where the output comes back near the clean voice,
    and nothing else."""
    rate, at = 48000, 57_600
    clean = speech_like(2.5, rate, seed=7)
    clicked = add_click(Audio.from_array(clean, rate), at, np.ones(1), 30.0)[0].samples[0]
    src = save(Audio.from_array(clicked, rate), tmp_path / "in.wav", subtype="FLOAT")
    outs = _repair_auto_without_and_with(capsys, src, tmp_path, "--clicks", blocks)
    assert outs[0][1]["regions"] == [] and np.array_equal(outs[0][0], clicked)
    repaired, report = outs[1]
    [region] = report["regions"]
    a, b = round(region["start_s"] * rate), round(region["end_s"] * rate)
    assert a <= at < b and b - a <= 2 * rate // 1000
    outside = np.ones(clicked.size, bool)
    outside[a - rate // 100 : b + rate // 100] = False  # the region and its crossfade
    assert np.array_equal(repaired[outside], clicked[outside])
    assert abs(repaired[at] - clean[at]) < 0.1 * abs(clicked[at] - clean[at])


@pytest.mark.parametrize("blocks", [[], ["--block-s", "1"]])
def test_detect_names_the_channel_a_dropout_is_in(tmp_path, capsys, blocks):
    left, right = speech_like(3.0, 48000, seed=1), speech_like(3.0, 48000, seed=2)
    right[72000:76800] = 0.0
    src = save(Audio(np.stack([left, right]).astype(np.float32), 48000), tmp_path / "in.wav")
    code, out, err = run(capsys, "detect", src, *blocks)
    assert code == 0, err
    assert "digital_silence" in out and out.splitlines()[0].endswith("channels R")


@pytest.mark.parametrize("blocks", [[], ["--block-s", "1"]])
def test_repair_auto_leaves_the_channel_without_the_dropout_as_it_was(tmp_path, capsys, blocks):
    """A two-person recording, one voice per channel, with a dropout on the right only: the
    left voice is not re-synthesised under it."""
    left, right = speech_like(3.0, 48000, seed=1), speech_like(3.0, 48000, seed=2)
    right[72000:76800] = 0.0
    src = save(Audio(np.stack([left, right]).astype(np.float32), 48000), tmp_path / "in.wav",
               subtype="FLOAT")  # fmt: skip
    out, report = tmp_path / "out.wav", tmp_path / "r.json"
    code, _, err = run(capsys, "repair", src, "-o", out, "--auto", "--report", report, *blocks)
    assert code == 0, err
    regions = json.loads(report.read_text())["regions"]
    assert len(regions) == 1 and abs(regions[0]["start_s"] - 1.5) < 0.002
    y = sf.read(str(out), dtype="float32", always_2d=True)[0].T
    assert np.array_equal(y[0], left.astype(np.float32))
    assert np.sqrt(np.mean(y[1, 72000:76800] ** 2)) > 0.01


@pytest.mark.parametrize("blocks", [[], ["--block-s", "1"]])
def test_labels_of_a_one_side_dropout_say_so_and_repair_that_side_only(tmp_path, capsys, blocks):
    """detect --format audacity tags a right-only dropout [R]; repair --labels honours it, and
    the channels of detect's JSON too."""
    left, right = speech_like(3.0, 48000, seed=1), speech_like(3.0, 48000, seed=2)
    right[72000:76800] = 0.0
    src = save(Audio(np.stack([left, right]).astype(np.float32), 48000), tmp_path / "in.wav",
               subtype="FLOAT")  # fmt: skip
    for fmt, name in (("audacity", "labels.txt"), ("json", "found.json")):
        labels = tmp_path / name
        code, _, err = run(capsys, "detect", src, "--format", fmt, "-o", labels)
        assert code == 0, err
        if fmt == "audacity":
            assert labels.read_text().rstrip().endswith("digital_silence 1.00 [R]")
        out = tmp_path / f"out-{fmt}.wav"
        code, _, err = run(capsys, "repair", src, "-o", out, "--labels", labels, *blocks)
        assert code == 0, err
        y = sf.read(str(out), dtype="float32", always_2d=True)[0].T
        assert np.array_equal(y[0], left.astype(np.float32))
        assert np.sqrt(np.mean(y[1, 72000:76800] ** 2)) > 0.01
