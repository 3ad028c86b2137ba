"""Batch-render benchmark: files/min and real-time factor for 1 vs N local workers and Ray."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import zero_gap
from voicemend.engine.data import SpeechFile
from voicemend.engine.io import load, save
from voicemend.engine.regions import Region
from voicemend.plugin.render import render

FOLDER_RATE = 44_100


def build_folder(
    files: Sequence[SpeechFile], folder: Path, minutes: float, file_s: float, seed: int = 0
) -> list[Path]:
    """``minutes`` of 44.1 kHz stereo speech in files of ``file_s`` seconds, each with dropouts."""
    rng = np.random.default_rng(seed)
    speech = np.concatenate([load(f.path).to_mono().samples[0] for f in files])
    base = Audio.from_array(speech, 16_000).resampled(FOLDER_RATE).samples[0]
    n_files = int(np.ceil(minutes * 60 / file_s))
    length = int(file_s * FOLDER_RATE)
    paths = []
    for i in range(n_files):
        start = int(rng.integers(0, max(1, base.size - length)))
        mono = base[start : start + length]
        audio = Audio(np.stack([mono, 0.9 * mono]).astype(np.float32), FOLDER_RATE)
        for _ in range(3):
            at = int(rng.integers(FOLDER_RATE, length - FOLDER_RATE))
            audio = zero_gap(audio, Region(at, at + int(rng.uniform(0.02, 0.2) * FOLDER_RATE)))
        paths.append(save(audio, folder / f"episode{i:03d}.wav", subtype="PCM_16", overwrite=True))
    return paths


def run_render_bench(
    files: Sequence[SpeechFile],
    preset: dict,
    minutes: float = 30.0,
    file_s: float = 60.0,
    workers: Sequence[int] = (1, 2),
    with_ray: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="voicemend-render-bench-") as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        inputs = build_folder(files, src, minutes, file_s)
        audio_s = len(inputs) * file_s
        configs = [(f"{w} worker{'s' if w > 1 else ''}", w, False) for w in workers]
        if with_ray:
            configs.append((f"ray, {max(workers)} CPUs", max(workers), True))
        for label, n, use_ray in configs:
            out = Path(tmp) / "out"
            shutil.rmtree(out, ignore_errors=True)
            if progress is not None:
                progress(label)
            t0 = time.perf_counter()
            summary = render([str(src)], out, preset, workers=n, use_ray=use_ray)
            elapsed = time.perf_counter() - t0
            rows.append(
                {
                    "config": label,
                    "workers": n,
                    "ray": use_ray,
                    "files": len(inputs),
                    "audio_minutes": audio_s / 60,
                    "seconds": elapsed,
                    "files_per_min": 60 * len(inputs) / elapsed,
                    "rtf": elapsed / audio_s,
                    "failed": len(summary.failed),
                }
            )
    return rows


def render_markdown(rows: Sequence[dict[str, object]]) -> str:
    lines = [
        "| configuration | files | audio (min) | wall time | files/min | RTF | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} | {r['files']} | {float(r['audio_minutes']):.1f} | "
            f"{float(r['seconds']):.1f} s | {float(r['files_per_min']):.1f} | "
            f"{float(r['rtf']):.4f} | {r['failed']} |"
        )
    return "\n".join(lines) + "\n"
