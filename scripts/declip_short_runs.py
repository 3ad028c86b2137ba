"""Clipped runs of one or two samples: found and repaired, or left clipped?

Dev-split speech (the first ``--seconds`` of each of ``--files`` files) is scaled so that its
peak sits ``drive`` times past a rail at 0.9, clipped there and stored as 16-bit, then run
through blind detection and ``--method`` (with the clipped runs' rail constraint), once with
``ClippingSettings(short_runs=False)`` and once with the default. Reported per drive: the share
of the true clipped runs (by length) that a detection touches, the SNR on the truly clipped
samples before and after repair, the regions repaired and the time taken.

    python scripts/declip_short_runs.py --files 12 --out bench/results/declip-short-runs
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from voicemend.engine import Audio, get_inpainter
from voicemend.engine.data import list_speech
from voicemend.engine.detect import DropoutDetector, clipped_regions
from voicemend.engine.detect.clipping import ClippingSettings
from voicemend.engine.detect.detector import DetectorSettings
from voicemend.engine.io import atomic_path, load
from voicemend.engine.runs import true_runs

RAIL = 0.9
LENGTH_BINS = ("1", "2", "3-4", "5+")


def length_bin(n: int) -> str:
    return "1" if n == 1 else "2" if n == 2 else "3-4" if n <= 4 else "5+"


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(float(np.sum((ref - est) ** 2)), 1e-20)))


def run(files: int, seconds: float, rate: int, drives: list[float], method: str) -> list[dict]:
    inpainter = get_inpainter(method, device="cpu")
    clips = []
    for f in list_speech(split="dev")[:files]:
        audio = load(f.path)
        x = audio.samples[0, : int(seconds * audio.sample_rate)].astype(np.float64)
        if rate != audio.sample_rate:
            x = resample_poly(x, rate, audio.sample_rate)
        clips.append(x / np.max(np.abs(x)))
    rows = []
    for drive in drives:
        for short in (False, True):
            detector = DropoutDetector(
                DetectorSettings(clipping=ClippingSettings(short_runs=short))
            )
            found_by_len = dict.fromkeys(LENGTH_BINS, 0)
            total_by_len = dict.fromkeys(LENGTH_BINS, 0)
            before, after, regions, elapsed = [], [], 0, 0.0
            for clean in clips:
                x = clean * drive * RAIL
                y = (np.round(np.clip(x, -RAIL, RAIL) * 32767) / 32767).astype(np.float32)
                audio = Audio.from_array(y, rate)
                t0 = time.perf_counter()
                found = detector(audio)
                out = y
                if found:
                    result = inpainter.inpaint(
                        audio, [d.region for d in found], clipped=clipped_regions(found)
                    )
                    out = result.audio.samples[0]
                elapsed += time.perf_counter() - t0
                regions += len(found)
                marked = np.zeros(y.size, dtype=bool)
                for d in found:
                    marked[d.region.start : d.region.end] = True
                for a, b in true_runs(np.abs(x) > RAIL):
                    key = length_bin(b - a)
                    total_by_len[key] += 1
                    found_by_len[key] += int(marked[a:b].any())
                truly = np.abs(x) > RAIL
                before.append(snr_db(x[truly], y[truly]))
                after.append(snr_db(x[truly], out[truly]))
            rows.append(
                {
                    "drive": drive,
                    "short_runs": short,
                    "found_share": {
                        k: found_by_len[k] / total_by_len[k] if total_by_len[k] else None
                        for k in LENGTH_BINS
                    },
                    "runs": total_by_len,
                    "snr_clipped_db": float(np.mean(before)),
                    "snr_repaired_db": float(np.mean(after)),
                    "regions": regions,
                    "seconds": elapsed,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"# Clipped runs of one or two samples ({args.rate} Hz, 16-bit, `{args.method}`)",
        "",
        f"- command: `python scripts/declip_short_runs.py --files {args.files} --seconds "
        f"{args.seconds:g} --rate {args.rate} --method {args.method}`",
        f"- cases: the first {args.seconds:g} s of the first {args.files} dev files, peak "
        f"scaled to `drive` × {RAIL}, clipped at {RAIL}, 16-bit",
        "",
        "| drive | short runs | found: 1 / 2 / 3–4 / 5+ samples | SNR clipped → repaired (dB) "
        "| regions | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = " / ".join(
            "–" if r["found_share"][k] is None else f"{100 * r['found_share'][k]:.0f} %"
            for k in LENGTH_BINS
        )
        lines.append(
            f"| {r['drive']:g}× | {'on' if r['short_runs'] else 'off'} | {share} | "
            f"{r['snr_clipped_db']:.2f} → {r['snr_repaired_db']:.2f} | {r['regions']} | "
            f"{r['seconds']:.1f} |"
        )
    runs = rows[0]["runs"]
    lines += [
        "",
        "True clipped runs at the first drive, by length: "
        + ", ".join(f"{k}: {runs[k]}" for k in LENGTH_BINS)
        + ". Time is detection plus repair, on this machine's two cores.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=12)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rate", type=int, default=16000)
    p.add_argument("--drives", default="1.2,1.5,2,3")
    p.add_argument("--method", default="auto")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    drives = [float(d) for d in a.drives.split(",") if d]
    rows = run(a.files, a.seconds, a.rate, drives, a.method)
    text = markdown(rows, a)
    print(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(a.out / f"results-{a.rate}.json") as tmp:
            tmp.write_text(json.dumps({"args": vars(a) | {"out": str(a.out)}, "rows": rows}))
        with atomic_path(a.out / f"results-{a.rate}.md") as tmp:
            tmp.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
