"""The speed bench: single-gap latency, throughput on a one-hour "podcast", and peak memory.

Each measurement runs in a fresh child process, so its peak RSS is its own. Figures are reported
both absolute and as ratios to ``lsar`` measured in the same run, because machines are noisy.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import packet_burst, packet_region, speech_positions, zero_gap
from voicemend.engine.data import SpeechFile
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.inpaint import INPAINTERS, get_inpainter
from voicemend.engine.io import load, save
from voicemend.engine.regions import Region

LATENCY_GAPS_MS = (20, 200, 400)
LATENCY_FORMATS = ((16_000, 1), (48_000, 2))
CONTEXT_S = 2.0
PODCAST_RATE = 44_100
PODCAST_CHANNELS = 2


@dataclass(frozen=True)
class SpeedConfig:
    methods: tuple[str, ...] = ("zero", "lsar", "pattern", "auto")
    gaps_ms: tuple[int, ...] = LATENCY_GAPS_MS
    formats: tuple[tuple[int, int], ...] = LATENCY_FORMATS
    repeats: int = 7
    podcast_minutes: float = 60.0
    dropouts: int = 200
    seed: int = 0
    # Where the neural methods are timed: None, the CPU and any GPU; ("cuda",) leaves out the CPU
    # rows (a lent GPU machine's minutes are few). The classical methods run on the CPU always,
    # since they are what the ratios are against.
    devices: tuple[str, ...] | None = None
    podcast: bool = True  # the throughput rows (a whole podcast per method and device)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def concatenated_speech(files: Sequence[SpeechFile], seconds: float) -> np.ndarray:
    """At least ``seconds`` of 16 kHz speech, concatenated from the files in order."""
    parts, total = [], 0
    for f in files:
        x = load(f.path).to_mono().resampled(16_000).samples[0]
        parts.append(x)
        total += x.size
        if total >= seconds * 16_000:
            break
    return np.concatenate(parts)


def _in_child(fn: Callable, *args) -> dict[str, object]:
    """Run ``fn(*args)`` in a spawned process; add its peak RSS in MiB."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_measured, (fn, *args))


def _measured(fn: Callable, *args) -> dict[str, object]:
    result = fn(*args)
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return result


def proc_status_mib(field: str) -> float | None:
    """A memory figure of this process from ``/proc/self/status`` (``VmRSS``, ``VmHWM``...) in
    MiB; None where there is no /proc (macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """This process's own peak resident memory. ``ru_maxrss`` will not do for a spawned child:
    Linux carries the high-water mark across exec, so it reports the parent's peak if larger;
    ``VmHWM`` belongs to the new address space."""
    peak = proc_status_mib("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def latency_run(
    speech: np.ndarray,
    method: str,
    rate: int,
    channels: int,
    gap_ms: int,
    repeats: int,
    device: str,
) -> dict[str, object]:
    """Median time to repair one gap with ``CONTEXT_S`` of context on each side."""
    import torch

    torch.set_num_threads(1)
    audio = Audio.from_array(speech[: int((2 * CONTEXT_S + 1) * 16_000)], 16_000).resampled(rate)
    if channels > 1:
        audio = audio.with_samples(
            np.repeat(audio.samples, channels, axis=0)
            * np.linspace(1.0, 0.8, channels, dtype=np.float32)[:, None]
        )
    start = int(CONTEXT_S * rate)
    region = Region(start, start + round(gap_ms * rate / 1000))
    damaged = zero_gap(audio, region)
    window = damaged.slice_frames(0, region.end + int(CONTEXT_S * rate))
    inpainter = get_inpainter(method, device=device)
    inpainter.inpaint(window, [region])  # warm-up (imports, caches, CUDA kernels)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        inpainter.inpaint(window, [region])
        times.append(time.perf_counter() - t0)
    return {
        "kind": "latency",
        "method": method,
        "rate": rate,
        "channels": channels,
        "gap_ms": gap_ms,
        "device": device,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "repeats": repeats,
    }


def build_podcast(
    speech: np.ndarray, minutes: float, dropouts: int, seed: int
) -> tuple[Audio, list[Region]]:
    """``minutes`` of 44.1 kHz stereo speech with realistic dropouts (10-400 ms)."""
    rng = np.random.default_rng(seed)
    base = Audio.from_array(speech, 16_000).resampled(PODCAST_RATE).samples[0]
    n = int(minutes * 60 * PODCAST_RATE)
    reps = int(np.ceil(n / base.size))
    gains = np.repeat(rng.uniform(0.6, 1.2, reps).astype(np.float32), base.size)[:n]
    mono = np.tile(base, reps)[:n] * gains
    audio = Audio(np.stack([mono, 0.9 * mono]).astype(np.float32), PODCAST_RATE)
    lengths_ms = np.exp(rng.uniform(np.log(10), np.log(400), dropouts))
    truth: list[Region] = []
    x = audio.samples[0]
    # Place in slices so the active-speech search stays cheap on an hour of audio.
    slices = np.array_split(np.arange(dropouts), max(1, dropouts // 10))
    bounds = np.linspace(0, n, len(slices) + 1).astype(int)
    samples = audio.samples.copy()
    for (lo, hi), idx in zip(itertools.pairwise(bounds.tolist()), slices, strict=True):
        for i in idx:
            length = int(lengths_ms[i] * PODCAST_RATE / 1000)
            found = speech_positions(
                x[lo:hi],
                PODCAST_RATE,
                length,
                1,
                rng,
                taken=[Region(r.start - lo, r.end - lo) for r in truth if lo <= r.start < hi],
            )
            if not found:
                continue
            r = Region(found[0].start + lo, found[0].end + lo)
            if rng.random() < 0.4:
                r = packet_region(r.start, max(1, round(lengths_ms[i] / 20)), PODCAST_RATE)
                r = Region(r.start, min(r.end, n))
                piece = packet_burst(
                    audio.slice_frames(r.start, r.end), Region(0, r.n_frames), -60.0, rng
                )
                samples[:, r.start : r.end] = piece.samples
            else:
                samples[:, r.start : r.end] = 0.0
            truth.append(r)
    return audio.with_samples(samples), sorted(truth)


def throughput_run(path: str, method: str, injected: int, device: str = "cpu") -> dict[str, object]:
    """What `voicemend repair --auto` does to the podcast file: load, detect, repair, save.

    Runs in its own process, so the peak memory is the pipeline's own (the synthetic podcast
    is built once, in the parent). Real-time factor = (detect + repair) / duration; the
    end-to-end factor adds reading and writing the file. ``device`` applies to the neural
    methods (the detector and the classical methods are numpy code).
    """
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    audio = load(path)
    t1 = time.perf_counter()
    detections = DropoutDetector()(audio)
    t2 = time.perf_counter()
    result = get_inpainter(method, device=device).inpaint(audio, [d.region for d in detections])
    t3 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        save(result.audio, Path(tmp) / "repaired.wav")
    t4 = time.perf_counter()
    duration = audio.duration_s
    return {
        "kind": "throughput",
        "method": method,
        "device": device,
        "rate": audio.sample_rate,
        "channels": audio.n_channels,
        "minutes": round(duration / 60, 3),
        "injected": injected,
        "detected": len(detections),
        "load_s": t1 - t0,
        "detect_s": t2 - t1,
        "repair_s": t3 - t2,
        "save_s": t4 - t3,
        "total_s": t3 - t1,
        "rtf": (t3 - t1) / duration,
        "end_to_end_rtf": (t4 - t0) / duration,
    }


def run_speed(
    files: Sequence[SpeechFile],
    config: SpeedConfig,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, object]]:
    import torch

    # The podcast tiles up to ten minutes of distinct speech; no more is read than it needs.
    podcast_s = min(600.0, 60 * config.podcast_minutes)
    speech = concatenated_speech(files, 2 * CONTEXT_S + 1 + podcast_s)
    gpu = ["cuda"] if torch.cuda.is_available() else []
    jobs: list[tuple[Callable, tuple]] = []
    for method in config.methods:
        # Classical methods are numpy code: they only have a CPU figure.
        devices = ["cpu", *gpu] if INPAINTERS[method].uses_torch_device else ["cpu"]
        if INPAINTERS[method].uses_torch_device and config.devices is not None:
            devices = [d for d in devices if d in config.devices]
        for rate, channels in config.formats:
            for gap in config.gaps_ms:
                for device in devices:
                    args = (speech, method, rate, channels, gap, config.repeats, device)
                    jobs.append((latency_run, args))
        for device in devices if config.podcast else ():
            jobs.append((throughput_run, (method, device)))  # the podcast file is filled in below
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        podcast = Path(tmp) / "podcast.wav"
        audio, truth = build_podcast(speech, config.podcast_minutes, config.dropouts, config.seed)
        save(audio, podcast, subtype="PCM_16")
        del audio
        for i, (fn, args) in enumerate(jobs, start=1):
            if fn is throughput_run:
                args = (str(podcast), args[0], len(truth), args[1])
            rows.append(_in_child(fn, *args))
            if progress is not None:
                progress(i, len(jobs))
    add_ratios(rows)
    return rows


def add_ratios(rows: list[dict[str, object]]) -> None:
    """``vs_lsar``: each time divided by lsar's in the same setting and run. lsar is numpy code
    that runs on the CPU, so a GPU row is compared with lsar on the CPU of the same machine."""

    def key(r: dict[str, object]) -> tuple:
        return (r["kind"], r.get("rate"), r.get("channels"), r.get("gap_ms"))

    field_of = {"latency": "median_s", "throughput": "total_s"}
    base = {key(r): r[field_of[str(r["kind"])]] for r in rows if r["method"] == "lsar"}
    for r in rows:
        ref = base.get(key(r))
        value = r[field_of[str(r["kind"])]]
        r["vs_lsar"] = round(float(value) / float(ref), 4) if ref else None


def speed_markdown(rows: Sequence[dict[str, object]]) -> str:
    lines = [
        "#### Latency: one gap with 2 s of context each side (median)",
        "",
        "| method | rate | channels | device | gap | median | vs lsar | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "latency":
            lines.append(
                f"| {r['method']} | {r['rate']} Hz | {r['channels']} | {r['device']} | "
                f"{r['gap_ms']} ms | {1000 * float(r['median_s']):.1f} ms | {r['vs_lsar']} | "
                f"{r['peak_rss_mib']} MiB |"
            )
    lines += [
        "",
        "#### Throughput: `repair --auto` on a 44.1 kHz stereo 16-bit podcast file",
        "",
        "Load, detect, repair and save in one process; the real-time factor counts detect +",
        "repair, the end-to-end one adds reading and writing the file. Peak RSS is that process's.",
        "",
        "| method | device | minutes | dropouts injected / detected | load | detect | repair | "
        "save | real-time factor | end to end | vs lsar | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "throughput":
            lines.append(
                f"| {r['method']} | {r.get('device', 'cpu')} | {r['minutes']} | "
                f"{r['injected']} / {r['detected']} | "
                f"{float(r.get('load_s', 0)):.1f} s | {float(r['detect_s']):.1f} s | "
                f"{float(r['repair_s']):.1f} s | {float(r.get('save_s', 0)):.1f} s | "
                f"{float(r['rtf']):.4f} | {float(r.get('end_to_end_rtf', r['rtf'])):.4f} | "
                f"{r['vs_lsar']} | {r['peak_rss_mib']} MiB |"
            )
    return "\n".join(lines) + "\n"
