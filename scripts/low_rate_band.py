"""Above 24 kHz LSAR iterates at 16 kHz, then twice at the full rate: is the voice's band better
kept from the 16 kHz fill? ``lsar`` and ``hybrid`` at 48 kHz stereo both ways, scored at 16 kHz.

    python scripts/low_rate_band.py OUT.csv [--method lsar|hybrid] [--files 0:60] [--gaps 200,400]
        [--rate 48000]
    python scripts/low_rate_band.py --table A.csv [B.csv ...]

The quality bench's cases (its case planner, position 0 per file and gap length) on dev files,
each excerpt resampled to 48 kHz (``--rate``) and made stereo (the right channel 0.8 of the left),
the gap zeroed in both channels and repaired two ways. ``full``, as before: the fill is the
full-rate passes' (``LsarSettings(low_rate_band_hz=None)``). ``16k``, as shipped: ``lsar`` keeps
its 16 kHz fill under 7 kHz and the full-rate passes' band over it; ``hybrid``, which keeps only
LSAR's band under 700 Hz, keeps the 16 kHz fill and skips the full-rate passes. The left channel,
back at 16 kHz, is scored with PESQ-WB and PLCMOS against the clean excerpt; ``seconds`` is each
repair's wall time. ``--table`` prints the means and the paired differences with 95 % intervals.
"""

from __future__ import annotations

import argparse
import csv
import time
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from voicemend.engine import Audio, Region
from voicemend.engine.data import list_speech
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.evaluation.scores import pesq_score, plcmos
from voicemend.engine.inpaint.base import Inpainter
from voicemend.engine.inpaint.crossover import Crossover, ShippedHybrid
from voicemend.engine.inpaint.lsar import Lsar, LsarSettings

RATE = 48_000
FIELDS = ("file", "gap_ms", "variant", "pesq", "plcmos", "seconds")


def variants(method: str) -> dict[str, Inpainter]:
    """The method as it was (``full``) and as it ships (``16k``)."""
    before = Lsar(LsarSettings(low_rate_band_hz=None))
    if method == "lsar":
        return {"full": before, "16k": Lsar()}
    shipped = ShippedHybrid(device="cpu")
    return {"full": Crossover(before, shipped.high), "16k": shipped}


def score(
    files: slice, gaps_ms: tuple[int, ...], out: Path, method: str = "hybrid", rate: int = RATE
) -> None:
    pair = variants(method)
    up, down = rate // gcd(rate, 16_000), 16_000 // gcd(rate, 16_000)
    chosen = list_speech(None, split="dev")[files]
    config = QualityConfig(gaps_ms=gaps_ms)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for case, x16, gap in iter_excerpts(chosen, 16_000, config, first_index=files.start or 0):
            if case.position != 0:
                continue
            x = resample_poly(x16, up, down).astype(np.float32)
            damaged = np.stack([x, 0.8 * x])
            region = Region(gap.start * rate // 16_000, gap.end * rate // 16_000)
            damaged[:, region.start : region.end] = 0.0
            for name, inpainter in pair.items():
                t0 = time.perf_counter()
                y = inpainter.inpaint(Audio(damaged, rate), [region]).audio.samples[0]
                seconds = time.perf_counter() - t0
                y16 = resample_poly(y, down, up)[: x16.size]
                row = (case.file, case.gap_ms, name, pesq_score(x16, y16, 16_000), plcmos(y16))
                writer.writerow((*row, round(seconds, 4)))
                f.flush()


def table(paths: list[Path]) -> str:
    rows = [r for p in paths for r in csv.DictReader(p.open())]
    by = {(r["file"], int(r["gap_ms"]), r["variant"]): r for r in rows}
    lines = [
        "| gap | cases | PESQ-WB full / 16k | Δ PESQ | PLCMOS full / 16k | Δ PLCMOS "
        "| seconds full / 16k |",
        "|---|---|---|---|---|---|---|",
    ]
    for gap in sorted({k[1] for k in by}):
        keys = sorted(f for f, g, v in by if g == gap and v == "full" and (f, g, "16k") in by)
        cells = [f"{gap} ms", str(len(keys))]
        for metric in ("pesq", "plcmos"):
            a = np.array([float(by[(k, gap, "full")][metric]) for k in keys])
            b = np.array([float(by[(k, gap, "16k")][metric]) for k in keys])
            d = b - a
            half = 1.96 * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else float("nan")
            cells += [f"{a.mean():.3f} / {b.mean():.3f}", f"{d.mean():+.3f} ± {half:.3f}"]
        t = [np.median([float(by[(k, gap, v)]["seconds"]) for k in keys]) for v in ("full", "16k")]
        cells.append(f"{t[0]:.2f} / {t[1]:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--files", default="0:60", help="dev files START:STOP")
    parser.add_argument("--gaps", default="200,400")
    parser.add_argument("--method", choices=["lsar", "hybrid"], default="hybrid")
    parser.add_argument("--rate", type=int, default=RATE, help="the rate repaired at (Hz)")
    parser.add_argument("--table", nargs="+", type=Path, metavar="CSV")
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    if args.out is None:
        parser.error("give OUT.csv (or --table CSV ...)")
    start, stop = (int(v) for v in args.files.split(":"))
    gaps = tuple(int(g) for g in args.gaps.split(","))
    score(slice(start, stop), gaps, args.out, args.method, args.rate)


if __name__ == "__main__":
    main()
