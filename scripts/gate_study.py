"""How the digital-silence search tells a noise gate's pauses from dropouts (train split).

A gate (or an editor's fade) leaves exact zeros in every pause, and each of those zero runs sits
between audible audio, as a dropout's does. What differs is the way in: a gate fades the audio
out over its release, so the last millisecond before the zeros lies far under the room's floor,
while a cut leaves the audio at its own level. ``engine.detect.silence.fades`` judges each run by
its edges; this measures, on train-split files (never the dev files the detection bench reports),
how many runs it calls fades:

- the pauses of each file through a random gate (``engine.evaluation.detection.random_gate``:
  threshold 6-15 dB over the floor, attack 0.5-5 ms, hold 0-50 ms, release 5-100 ms);
- zero runs cut into active speech (the detection bench's zero-run cases, 10-400 ms, 4 per file),
  in the gated file and in the file as it was;
- zero runs cut anywhere past the first and last 0.3 s, pauses included.

    python scripts/gate_study.py --files 200 --out bench/results/detection-gated/study.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from voicemend.engine.corrupt import noise_gate, zero_gap
from voicemend.engine.data import list_speech
from voicemend.engine.detect.detector import _blocks, _profile
from voicemend.engine.detect.levels import WindowPower
from voicemend.engine.detect.silence import SilenceSettings, edge_levels_db, fades, zero_runs
from voicemend.engine.evaluation.detection import ZERO_GAPS_MS, cut_zero_runs, random_gate
from voicemend.engine.io import load, write_text_atomic
from voicemend.engine.regions import Region


def widened(x: np.ndarray, runs, s: SilenceSettings) -> list[tuple[int, int]]:
    """Each cut widened to the whole zero run it lies in (it can meet a gate's silence)."""
    quiet = np.abs(x) <= s.threshold
    out = []
    for a, b in runs:
        while a > 0 and quiet[a - 1]:
            a -= 1
        while b < x.size and quiet[b]:
            b += 1
        out.append((a, b))
    return out


def judged(x: np.ndarray, sample_rate: int, runs, s: SilenceSettings) -> list[bool]:
    profile = _profile(x, sample_rate, _blocks(x.size, sample_rate))
    power = WindowPower(x)
    return [fades(*edge_levels_db(power, a, b, sample_rate, s), profile, s) for a, b in runs]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="write the table here (Markdown)")
    a = p.parse_args(argv)
    s = SilenceSettings()
    files = list_speech(split="train")
    order = np.random.default_rng(a.seed).permutation(len(files))
    files = [files[i] for i in order[: a.files]]
    counts: dict[str, list[bool]] = {
        "gate-closed pauses": [],
        "zero runs cut into speech, gated file": [],
        "zero runs cut into speech, file as it was": [],
        "zero runs cut anywhere, file as it was": [],
    }
    for i, item in enumerate(files):
        audio = load(item.path)
        x, sr = audio.samples[0], audio.sample_rate
        rng = np.random.default_rng([a.seed, i])
        gated = noise_gate(audio, random_gate(rng))
        g = gated.samples[0]
        counts["gate-closed pauses"] += judged(g, sr, zero_runs(g, sr, s), s)
        for key, base in (("gated file", gated), ("file as it was", audio)):
            damaged, truth = cut_zero_runs(base, x, rng, 4)
            y = damaged.samples[0]
            runs = widened(y, [(r.start, r.end) for r in truth], s)
            counts[f"zero runs cut into speech, {key}"] += judged(y, sr, runs, s)
        margin = int(0.3 * sr)
        anywhere = []
        damaged = audio
        for gap_ms in rng.choice(ZERO_GAPS_MS, 4):
            n = int(gap_ms * sr / 1000)
            if x.size - 2 * margin - n <= 0:
                continue
            start = int(rng.integers(margin, x.size - margin - n))
            if any(start < b + margin and a0 < start + n + margin for a0, b in anywhere):
                continue
            anywhere.append((start, start + n))
            damaged = zero_gap(damaged, Region(start, start + n))
        y = damaged.samples[0]
        counts["zero runs cut anywhere, file as it was"] += judged(
            y, sr, widened(y, anywhere, s), s
        )
    lines = [
        f"Train split, {len(files)} files (seed {a.seed}); runs that "
        "`engine.detect.silence.fades` calls a fade (kept out of the default detections):",
        "",
        "| runs | count | called fades |",
        "|---|---|---|",
    ]
    for name, flags in counts.items():
        share = 100 * np.mean(flags) if flags else float("nan")
        lines.append(f"| {name} | {len(flags)} | {sum(flags)} ({share:.1f} %) |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(a.out, text, overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
