import numpy as np

from voicemend.engine.evaluation.speed import (
    PODCAST_RATE,
    add_ratios,
    build_podcast,
    latency_run,
    speed_markdown,
)

from ..conftest import speech_like


def test_ratios_are_relative_to_lsar_in_the_same_setting():
    rows = [
        {
            "kind": "latency",
            "method": "lsar",
            "rate": 16000,
            "channels": 1,
            "gap_ms": 20,
            "device": "cpu",
            "median_s": 0.2,
        },
        {
            "kind": "latency",
            "method": "pattern",
            "rate": 16000,
            "channels": 1,
            "gap_ms": 20,
            "device": "cpu",
            "median_s": 0.05,
        },
        {
            "kind": "latency",
            "method": "pattern",
            "rate": 48000,
            "channels": 2,
            "gap_ms": 20,
            "device": "cpu",
            "median_s": 0.05,
        },
    ]
    rows.append({**rows[1], "method": "neural", "device": "cuda", "median_s": 0.02})
    add_ratios(rows)
    assert rows[0]["vs_lsar"] == 1.0 and rows[1]["vs_lsar"] == 0.25
    assert rows[2]["vs_lsar"] is None  # no lsar figure for that setting
    assert rows[3]["vs_lsar"] == 0.1  # a GPU row is compared with lsar on this machine's CPU


def test_each_row_runs_on_the_device_it_reports(monkeypatch):
    """The CPU rows of a GPU machine must not quietly run on the GPU."""
    import voicemend.engine.evaluation.speed as speed

    asked = []
    real = speed.get_inpainter

    def spy(method, device="auto"):
        asked.append(device)
        return real(method)

    monkeypatch.setattr(speed, "get_inpainter", spy)
    latency_run(speech_like(6.0, 16000), "pattern", 16000, 1, 20, repeats=1, device="cpu")
    assert asked == ["cpu"]


def test_podcast_has_the_dropouts_it_claims():
    speech = np.concatenate([speech_like(3.0, 16000, seed=s) for s in range(4)])
    audio, truth = build_podcast(speech, minutes=0.2, dropouts=6, seed=0)
    assert audio.sample_rate == PODCAST_RATE and audio.n_channels == 2
    assert abs(audio.duration_s - 12.0) < 0.01
    assert 3 <= len(truth) <= 6
    for r in truth:
        seg = audio.samples[:, r.start : r.end]
        assert np.max(np.abs(seg)) < 0.01  # zeros or -60 dBFS comfort noise


def test_latency_run_and_table():
    speech = speech_like(6.0, 16000)
    row = latency_run(speech, "pattern", 16000, 1, 20, repeats=2, device="cpu")
    assert row["median_s"] > 0 and row["repeats"] == 2
    row.update(vs_lsar=1.0, peak_rss_mib=100.0)
    assert "| pattern | 16000 Hz | 1 | cpu | 20 ms |" in speed_markdown([row])


def test_throughput_run_times_the_whole_repair_of_a_file(tmp_path):
    from voicemend.engine.evaluation.speed import throughput_run
    from voicemend.engine.io import save

    speech = np.concatenate([speech_like(3.0, 16000, seed=s) for s in range(4)])
    audio, truth = build_podcast(speech, minutes=0.1, dropouts=3, seed=0)
    path = save(audio, tmp_path / "p.wav", subtype="PCM_16")
    row = throughput_run(str(path), "pattern", len(truth))
    assert row["channels"] == 2 and row["rate"] == PODCAST_RATE
    assert row["detected"] >= 1 and row["injected"] == len(truth)
    assert row["end_to_end_rtf"] >= row["rtf"] > 0
    row.update(vs_lsar=1.0, peak_rss_mib=10.0)
    assert "| pattern | cpu | 0.1 |" in speed_markdown([row])


def test_peak_rss_is_the_child_s_own_not_the_parent_s():
    from voicemend.engine.evaluation.speed import _in_child, peak_rss_mib

    ballast = np.ones(800 * 2**20 // 8)  # the parent holds 800 MiB more than the child will
    parent_peak = peak_rss_mib()
    row = _in_child(dict, [("kind", "probe")])
    assert row["kind"] == "probe"
    # ru_maxrss would report at least the parent's peak here; the child's own is far below it
    assert 0 < row["peak_rss_mib"] < parent_peak - 500
    del ballast


def test_devices_and_no_podcast_leave_out_rows_but_keep_lsar_on_the_cpu(monkeypatch):
    """A lent GPU's minutes are few: --devices cuda --no-podcast times the neural methods on the
    GPU only, and the classical reference still on the CPU."""
    import torch

    import voicemend.engine.evaluation.speed as speed

    planned = []

    def child(fn, *args):
        planned.append((fn.__name__, args[1], args[-1]))  # (speech or file, method, ..., device)
        return {"kind": "latency", "method": args[1], "device": args[-1], "median_s": 1.0}

    monkeypatch.setattr(speed, "_in_child", child)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(speed, "concatenated_speech", lambda files, s: speech_like(s, 16000))
    config = speed.SpeedConfig(
        methods=("lsar", "neural-mel"), podcast_minutes=0.05, dropouts=1, gaps_ms=(200,)
    )
    speed.run_speed([], config)
    everything = set(planned)
    assert ("throughput_run", "neural-mel", "cuda") in everything
    assert ("latency_run", "neural-mel", "cpu") in everything
    planned.clear()
    lean = speed.SpeedConfig(**{**config.to_dict(), "devices": ("cuda",), "podcast": False})
    speed.run_speed([], lean)
    assert sorted(set(planned)) == [
        ("latency_run", "lsar", "cpu"),
        ("latency_run", "neural-mel", "cuda"),
    ]
