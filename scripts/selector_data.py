"""Cases for a learned per-gap selector: each method's fill, its scores, and what the context shows.

`hybrid` keeps `lsar`'s PLCMOS from 80 ms with some to spare (+0.03 at 300-400 ms on the dev
bench) but trails `pattern`'s PESQ-WB by 0.02 there. With `hybrid`, `pattern` and `neural-mel` as
candidates the duality bound of `selection_bound.py` leaves room for a per-gap choice (an oracle
could reach PESQ 2.283 / 1.964 against `pattern`'s 2.198 / 1.906 at 300 / 400 ms while keeping
PLCMOS). Whether a selector that sees only the damaged audio can use any of that room is what
`selector_fit.py` tests on the rows this writes.

Each row is one case of the quality bench's planner (informed, 16 kHz, the gap ± 1 s excerpt)
in TRAIN-split files, with PLCMOS and PESQ-WB for every method, and features computed from the
damaged excerpt and the methods' fills only (nothing from inside the gap), as the shipped
`choice` method measures them (`voicemend.engine.inpaint.gap_features`). Besides the four
methods, four fills built from `lsar`'s and `neural-mel`'s are scored (free to choose from, since
`hybrid` makes both): the split at 300, 500 and 1 000 Hz, and `neural-mel` with `lsar`'s first
and last 20 ms.

`--methods` adds other shipped methods to the four (say `exemplar`): scored, and their fills
measured as features, like the four.

Usage: selector_data.py --files 944 [--first 0] [--gap-ms 200,300,400] [--seed 0] [--workers 2]
       [--methods lsar,pattern,neural-mel,hybrid,exemplar] --out FILE
"""

from __future__ import annotations

import argparse
import gzip
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

# scripts/ is on the path when this runs as a script; the same cases and train-file shuffle
from fill_variants import RATE, edges_from, train_files

from voicemend.engine.audio import Audio
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.inpaint.crossover import band_split, crossover_filter
from voicemend.engine.inpaint.gap_features import gap_features
from voicemend.engine.regions import Region

METHODS = ("lsar", "pattern", "neural-mel", "hybrid")


def derived_fills(fills: dict[str, np.ndarray], gap: Region) -> dict[str, np.ndarray]:
    lsar, nm = fills["lsar"], fills["neural-mel"]
    out = {
        f"split-{hz}": band_split(lsar, nm, crossover_filter(hz, RATE)) for hz in (300, 500, 1000)
    }
    out["neural-mel-edges"] = edges_from(lsar, nm, gap, 20.0, 20.0)
    return out


def score_file(job: tuple[object, int, tuple[int, ...], int, tuple[str, ...]]) -> list[dict]:
    from threadpoolctl import threadpool_limits

    from voicemend.engine.evaluation import scores

    speech_file, index, gaps, seed, methods = job
    config = QualityConfig(gaps_ms=gaps, positions_short=1, positions_long=1, seed=seed)
    inpainters = {m: get_inpainter(m, device="cpu") for m in methods}
    rows = []
    with threadpool_limits(limits=1):
        for case, clean, gap in iter_excerpts([speech_file], RATE, config, first_index=index):
            damaged = clean.astype(np.float64).copy()
            damaged[gap.start : gap.end] = 0.0
            audio = Audio.from_array(damaged, RATE)
            fills = {m: inp(audio, [gap]).samples[0] for m, inp in inpainters.items()}
            row: dict = {"file": case.file, "gap_ms": case.gap_ms}
            row["features"] = gap_features(damaged, (gap.start, gap.end), fills)
            fills.update(derived_fills(fills, gap))
            row["plcmos"] = {m: scores.plcmos(y) for m, y in fills.items()}
            row["pesq"] = {m: scores.pesq_score(clean, y, RATE) for m, y in fills.items()}
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=600)
    p.add_argument("--first", type=int, default=0, help="skip this many shuffled train files")
    p.add_argument("--gap-ms", default="200,300,400")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="another seed places other gaps")
    p.add_argument("--methods", default=",".join(METHODS), help="must include the four")
    p.add_argument("--out", type=Path, required=True, help="a .jsonl.gz file")
    a = p.parse_args(argv)
    methods = tuple(a.methods.split(","))
    if not set(METHODS) <= set(methods):
        p.error(f"--methods must include {', '.join(METHODS)} (the derived fills use them)")
    gaps = tuple(int(g) for g in a.gap_ms.split(","))
    files = train_files(a.first + a.files)[a.first :]
    jobs = [(f, a.first + i, gaps, a.seed, methods) for i, f in enumerate(files)]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".part")
    with gzip.open(tmp, "wt") as out, ProcessPoolExecutor(a.workers) as pool:
        for rows in tqdm(pool.map(score_file, jobs), total=len(jobs), unit="file"):
            for r in rows:
                out.write(json.dumps(r) + "\n")
            out.flush()
    tmp.replace(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
