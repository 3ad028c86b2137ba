"""Blind repair of dropouts in MP3 (or M4A) files: what the codec-aware detection buys a
listener (dev).

A podcast is cut (a zero run in its speech), then published as MP3: the codec smears the cut
over 10-20 ms of quantisation noise. This cuts one 20, 60 and 200 ms gap into the active speech
of each file, saves it at 44.1 kHz as MP3 128 kb/s (``engine.lossy``), and repairs it with
``auto`` over what the detector finds near the cut: as shipped, and as before (tails looked for
within 5 ms, ``ring_reach_ms``, none past it under the room's floor, ``codec_tail_reach_ms``,
and no search for the dips a codec leaves of short cuts, ``dip_max_ms`` 0); over the true
region (informed); and not at all. Each is scored against the
clean file saved the same way, 1 s either side of the gap, at 16 kHz (PESQ-WB, PLCMOS); a gap
the detector misses scores as unrepaired. ``--codec aac --rate 48000`` does the same for AAC
in M4A (Zoom's recordings), coded by FFmpeg; ``--codec opus --rate 48000`` for Opus (browser
recorders, voice messages; libsndfile's default bitrate, ``--kbps`` is for MP3 and AAC only).

    python scripts/mp3_repair.py --files 40 --out bench/results/mp3-repair
    python scripts/mp3_repair.py --files 40 --codec aac --rate 48000 --out bench/results/aac-repair
    python scripts/mp3_repair.py --files 40 --codec opus --rate 48000 \\
        --out bench/results/opus-repair
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from voicemend.engine import Audio, Region
from voicemend.engine.corrupt import speech_positions, zero_gap
from voicemend.engine.data import list_speech
from voicemend.engine.detect import DetectorSettings, DropoutDetector
from voicemend.engine.evaluation.scores import pesq_score, plcmos
from voicemend.engine.inpaint import INPAINTERS
from voicemend.engine.io import load, write_text_atomic
from voicemend.engine.lossy import BITRATE_CODECS, LossyFormat, roundtrip
from voicemend.engine.rates import to_rate
from voicemend.plugin.bench_commands import git_commit

GAPS_MS = (20, 60, 200)
SCORE_RATE = 16000


def detectors() -> dict[str, DropoutDetector]:
    """The shipped detector, and the one before it: tails looked for within 5 ms, no dips."""
    shipped = DetectorSettings()
    before = replace(shipped.silence, ring_reach_ms=5.0, codec_tail_reach_ms=0.0, dip_max_ms=0.0)
    return {
        "blind, shipped": DropoutDetector(shipped),
        "blind, before": DropoutDetector(replace(shipped, silence=before)),
    }


def scored(out: np.ndarray, ref: np.ndarray, gap: Region, rate: int) -> dict[str, float]:
    lo, hi = max(0, gap.start - rate), min(ref.size, gap.end + rate)
    y = to_rate(out[lo:hi], rate, SCORE_RATE)
    r = to_rate(ref[lo:hi], rate, SCORE_RATE)
    return {"pesq": pesq_score(r, y, SCORE_RATE), "plcmos": plcmos(y)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=40)
    p.add_argument("--codec", choices=("mp3", "aac", "opus"), default="mp3")
    p.add_argument("--kbps", type=float, default=128)
    p.add_argument("--rate", type=int, default=44100, help="the rate the files are saved at")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="write results.md and rows.json here")
    a = p.parse_args(argv)
    codec = LossyFormat(a.codec, a.kbps if a.codec in BITRATE_CODECS else None)
    rate = a.rate
    codec.check_rate(rate)
    auto = INPAINTERS["auto"]()
    finders = detectors()
    rows = []
    for i, item in enumerate(list_speech(split="dev")[: a.files]):
        audio = load(item.path)
        x, sr = audio.samples[0], audio.sample_rate
        clean = roundtrip(Audio(to_rate(audio.samples, sr, rate).astype(np.float32), rate), codec)
        ref = clean.samples[0]
        rng = np.random.default_rng([a.seed, i])
        for gap_ms in GAPS_MS:
            for cut in speech_positions(x, sr, gap_ms * sr // 1000, 1, rng):
                damaged = zero_gap(audio, cut)
                saved = Audio(to_rate(damaged.samples, sr, rate).astype(np.float32), rate)
                coded = roundtrip(saved, codec)
                gap = Region(cut.start * rate // sr, cut.end * rate // sr)
                regions = {"informed": [gap]}
                for name, finder in finders.items():
                    regions[name] = [
                        d.region for d in finder(coded) if d.region.overlaps_or_touches(gap)
                    ]
                repaired: dict[tuple, np.ndarray] = {}
                row = {"file": item.path.name, "gap_ms": gap_ms}
                row["unrepaired"] = scored(coded.samples[0], ref, gap, rate)
                for name, found in regions.items():
                    key = tuple((r.start, r.end) for r in found)
                    if key not in repaired:
                        out = auto(coded, found).samples[0] if found else coded.samples[0]
                        repaired[key] = out
                    row[name] = scored(repaired[key], ref, gap, rate)
                    row[name]["found"] = bool(found)
                rows.append(row)
        print(f"{i + 1}/{a.files} files", flush=True)
    names = ["unrepaired", "blind, before", "blind, shipped", "informed"]
    lines = [
        f"Dev split, first {a.files} files, one {'/'.join(map(str, GAPS_MS))} ms gap each, "
        f"saved at {rate / 1000:g} kHz as {codec.label}; `auto` over the regions found near the "
        "gap (none found: unrepaired); mean PESQ-WB / PLCMOS on the gap ± 1 s at 16 kHz against "
        "the clean file saved the same way; found = gaps with a detection over them.",
        "",
        "| gap | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    by_gap = defaultdict(list)
    for row in rows:
        by_gap[row["gap_ms"]].append(row)
    for gap_ms, group in sorted(by_gap.items()):
        cells = []
        for name in names:
            pesq = np.mean([r[name]["pesq"] for r in group])
            mos = np.mean([r[name]["plcmos"] for r in group])
            found = sum(r[name].get("found", True) for r in group)
            extra = f" ({found}/{len(group)} found)" if name.startswith("blind") else ""
            cells.append(f"{pesq:.3f} / {mos:.3f}{extra}")
        lines.append(f"| {gap_ms} ms | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"`python scripts/mp3_repair.py {' '.join(argv or sys.argv[1:])}`, commit "
        f"{git_commit()}, {datetime.date.today().isoformat()}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(a.out / "results.md", text, overwrite=True)
        write_text_atomic(a.out / "rows.json", json.dumps(rows, indent=1) + "\n", overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
