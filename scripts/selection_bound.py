"""How far could `auto` get by choosing a method per gap, if it knew the scores?

Reads a quality bench's per-case scores (scores.jsonl or scores.jsonl.gz) and, per gap length,
bounds every per-case selection among the given methods: the best mean of one metric (``gain``,
default PESQ) that any selection can reach while the mean of the other (``keep``, default PLCMOS)
stays at least the best of the baselines. The bound is weak Lagrangian duality, so it holds for
every selector, oracle included: for any lambda >= 0,

    max_selection mean(gain)  <=  mean_case max_method [gain + lambda * (keep - floor)]

and the script takes the smallest right-hand side over a grid of lambdas. When the bound is under
the best baseline's mean ``gain``, no per-gap choice among these methods can make `auto` "never
worse than either baseline" on both metrics at that length.

Usage: selection_bound.py SCORES [--methods lsar,pattern,neural-mel] [--baselines lsar,pattern]
       [--keep plcmos] [--gain pesq] [--mode informed]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import sys
from pathlib import Path

import numpy as np

LAMBDAS = np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 400)])


def read_scores(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def table(
    rows: list[dict], methods: list[str], baselines: list[str], keep: str, gain: str, mode: str
) -> dict[int, dict[str, float]]:
    """Per gap length: each method's means, the floor and target, and the bound."""
    wanted = set(methods) | set(baselines)
    cases: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(dict)
    gap_of: dict[str, int] = {}
    for r in rows:
        if r.get("mode") != mode or r.get("method") not in wanted:
            continue
        k, g = r.get(keep), r.get(gain)
        if k is None or g is None or not np.isfinite(k) or not np.isfinite(g):
            continue
        cases[r["case"]][r["method"]] = (float(k), float(g))
        gap_of[r["case"]] = int(r["gap_ms"])
    out: dict[int, dict[str, float]] = {}
    for gap_ms in sorted(set(gap_of.values())):
        full = [c for c, v in cases.items() if gap_of[c] == gap_ms and wanted <= v.keys()]
        if not full:
            continue
        scores = np.array([[cases[c][m] for m in methods] for c in full])  # (cases, methods, 2)
        base = np.array([[cases[c][m] for m in baselines] for c in full])
        floor = base[:, :, 0].mean(0).max()
        target = base[:, :, 1].mean(0).max()
        kept, gained = scores[..., 0], scores[..., 1]
        bound = min(
            float(np.mean(np.max(gained + lam * (kept - floor), axis=1))) for lam in LAMBDAS
        )
        row = {f"{m} {keep}": float(kept[:, i].mean()) for i, m in enumerate(methods)}
        row |= {f"{m} {gain}": float(gained[:, i].mean()) for i, m in enumerate(methods)}
        row |= {
            "cases": float(len(full)),
            f"floor {keep}": float(floor),
            f"target {gain}": float(target),
            "bound": bound,
        }
        out[gap_ms] = row
    return out


def markdown(result: dict[int, dict[str, float]], keep: str, gain: str) -> str:
    lines = [
        f"| gap | cases | {keep} floor (best baseline) | {gain} target (best baseline) "
        f"| best {gain} any selection can reach with {keep} ≥ floor | reachable |",
        "|---|---|---|---|---|---|",
    ]
    for gap_ms, r in result.items():
        ok = "yes" if r["bound"] >= r[f"target {gain}"] else "**no**"
        lines.append(
            f"| {gap_ms} ms | {int(r['cases'])} | {r[f'floor {keep}']:.3f} "
            f"| {r[f'target {gain}']:.3f} | ≤ {r['bound']:.3f} | {ok} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scores", type=Path)
    p.add_argument("--methods", default="lsar,pattern,neural-mel")
    p.add_argument("--baselines", default="lsar,pattern")
    p.add_argument("--keep", default="plcmos")
    p.add_argument("--gain", default="pesq")
    p.add_argument("--mode", default="informed")
    a = p.parse_args(argv)
    if not a.scores.is_file():
        p.error(f"no scores file at {a.scores}")
    methods = [m for m in a.methods.split(",") if m]
    baselines = [m for m in a.baselines.split(",") if m]
    result = table(read_scores(a.scores), methods, baselines, a.keep, a.gain, a.mode)
    if not result:
        print(f"no {a.mode} case has scores for all of {methods + baselines}", file=sys.stderr)
        return 1
    print(f"methods: {', '.join(methods)}; baselines: {', '.join(baselines)}; mode: {a.mode}\n")
    print(markdown(result, a.keep, a.gain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
