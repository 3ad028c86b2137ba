"""How the digital-silence search tells a noise gate's pauses from dropouts (train split).

A gate (or an editor's fade) leaves exact zeros in every pause, and each of those zero runs sits
between audible audio, as a dropout's does. What differs is the way in: a gate fades the audio
out over its release, so the last millisecond before the zeros lies far under the room's floor,
while a cut leaves the audio at its own level. ``engine.detect.silence.fades`` judges each run by
its edges; this measures, on train-split files (never the dev files the detection bench reports),
how many runs it calls fades:

- the pauses of each file through a random gate (``engine.evaluation.detection.random_gate``:
  threshold 6-15 dB over the floor, attack 0.5-5 ms, hold 0-50 ms, release 5-100 ms, linear
  or exponential), by release curve;
- zero runs cut into active speech (the detection bench's zero-run cases, 10-400 ms, 4 per file),
  in the gated file and in the file as it was;
- zero runs cut anywhere past the first and last 0.3 s, pauses included.

    python scripts/gate_study.py --files 200 --sweep 12,10,9,8,6 \\
        --out bench/results/detection-gated/study.md

``--sweep`` judges the same runs under other values of a ``SilenceSettings`` field
(``--field``, default ``fade_below_floor_db``), ``--set FIELD=VALUE`` holds another one fixed
in every column; ``--saved-as mp3:128`` judges them in the files
saved at 44.1 kHz as MP3, where the codec smears each run's edges.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import noise_gate, zero_gap
from voicemend.engine.data import list_speech
from voicemend.engine.detect.detector import _blocks, _profile
from voicemend.engine.detect.levels import WindowPower
from voicemend.engine.detect.silence import SilenceSettings, faded_into, zero_runs
from voicemend.engine.evaluation.detection import ZERO_GAPS_MS, cut_zero_runs, random_gate
from voicemend.engine.io import load, write_text_atomic
from voicemend.engine.lossy import LossyFormat, roundtrip
from voicemend.engine.rates import to_rate
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
    return [faded_into(power, a, b, sample_rate, profile, s) for a, b in runs]


def cases(files, seed: int, s: SilenceSettings):
    """(category, signal, its runs) of every file, as the module's notes list them."""
    for i, item in enumerate(files):
        audio = load(item.path)
        x, sr = audio.samples[0], audio.sample_rate
        rng = np.random.default_rng([seed, i])
        gate = random_gate(rng)
        gated = noise_gate(audio, gate)
        g = gated.samples[0]
        yield f"gate-closed pauses, {gate.release_curve} release", g, sr, zero_runs(g, sr, s)
        for key, base in (("gated file", gated), ("file as it was", audio)):
            damaged, truth = cut_zero_runs(base, x, rng, 4)
            y = damaged.samples[0]
            runs = widened(y, [(r.start, r.end) for r in truth], s)
            yield f"zero runs cut into speech, {key}", y, sr, runs
        margin = int(0.3 * sr)
        anywhere: list[tuple[int, int]] = []
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
        yield "zero runs cut anywhere, file as it was", y, sr, widened(y, anywhere, s)


def coded(items, fmt: LossyFormat, s: SilenceSettings, rate: int = 44100):
    """``items`` (from :func:`cases`) saved at ``rate`` as ``fmt``, each with the zero runs of
    the coded signal that overlap its runs there (a short run the codec filled drops out)."""
    for name, y, sr, runs in items:
        z = roundtrip(Audio(to_rate(y, sr, rate).astype(np.float32)[None], rate), fmt).samples[0]
        at = [(a * rate // sr, b * rate // sr) for a, b in runs]
        found = [(a, b) for a, b in zero_runs(z, rate, s) if any(a < d and c < b for c, d in at)]
        yield name, z, rate, found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument(
        "--sweep",
        default=None,
        metavar="DB,...",
        help="values of --field to compare (default: the shipped one)",
    )
    p.add_argument("--field", default="fade_below_floor_db", help="the SilenceSettings field")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="another SilenceSettings field held at VALUE in every column (repeatable)",
    )
    p.add_argument(
        "--saved-as",
        type=LossyFormat.parse,
        default=None,
        metavar="CODEC[:KBPS]",
        help="judge each signal saved at 44.1 kHz as this lossy codec (mp3:128)",
    )
    p.add_argument("--out", type=Path, default=None, help="write the table here (Markdown)")
    a = p.parse_args(argv)
    shipped = SilenceSettings()
    try:
        held = {k: float(v) for k, v in (item.split("=", 1) for item in a.set)}
    except ValueError:
        p.error("--set takes FIELD=NUMBER")
    unknown = sorted(set(held) - set(vars(shipped)) | ({a.field} - set(vars(shipped))))
    if unknown:
        p.error(f"no SilenceSettings field {', '.join(unknown)}")
    shipped = replace(shipped, **held)
    values = [getattr(shipped, a.field)]
    if a.sweep:
        values = [float(v) for v in a.sweep.split(",")]
    settings = [replace(shipped, **{a.field: v}) for v in values]
    files = list_speech(split="train")
    order = np.random.default_rng(a.seed).permutation(len(files))
    files = [files[i] for i in order[: a.files]]
    counts: dict[str, list[list[bool]]] = {}
    items = cases(files, a.seed, shipped)
    if a.saved_as is not None:
        items = coded(items, a.saved_as, shipped)
    for name, y, sr, runs in items:
        row = counts.setdefault(name, [[] for _ in settings])
        for flags, s in zip(row, settings, strict=True):
            flags += judged(y, sr, runs, s)
    unit = {"db": "dB", "ms": "ms"}.get(a.field.rsplit("_", 1)[-1], "")
    lines = [
        f"Train split, {len(files)} files (seed {a.seed})"
        + (f", saved at 44.1 kHz as {a.saved_as.label}" if a.saved_as else "")
        + "".join(f", `{k}` {v:g}" for k, v in held.items())
        + "; runs that "
        "`engine.detect.silence.faded_into` calls a fade (kept out of the default detections), "
        f"by `{a.field}`:",
        "",
        "| runs | count | " + " | ".join(f"{v:g} {unit}".strip() for v in values) + " |",
        "|---|---|" + "---|" * len(values),
    ]
    for name in sorted(counts):
        row = counts[name]
        cells = [f"{sum(f)} ({100 * np.mean(f):.1f} %)" if f else "–" for f in row]
        lines.append(f"| {name} | {len(row[0])} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(a.out, text, overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
