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

With ``--same-file`` it also tries the most a selector could learn from trial gaps cut into the
same recording: each case gets the method whose mean ``gain + lambda * keep`` over the other
cases of the same file and gap length is highest (the first method on ties and where the file
has no other case), for each lambda of a grid. It sees the true scores of those other gaps, so
it is an optimistic stand-in for one that would repair and score trial gaps in the context.

Usage: selection_bound.py SCORES [--methods lsar,pattern,neural-mel] [--baselines lsar,pattern]
       [--keep plcmos] [--gain pesq] [--mode informed] [--same-file]
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


SAME_FILE_LAMBDAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, np.inf)


def collect(
    rows: list[dict], wanted: set[str], keep: str, gain: str, mode: str
) -> tuple[dict[str, dict[str, tuple[float, float]]], dict[str, int], dict[str, str]]:
    """Each case's (keep, gain) per method, its gap length and its file."""
    cases: dict[str, dict[str, tuple[float, float]]] = collections.defaultdict(dict)
    gap_of: dict[str, int] = {}
    file_of: dict[str, str] = {}
    for r in rows:
        if r.get("mode") != mode or r.get("method") not in wanted:
            continue
        k, g = r.get(keep), r.get(gain)
        if k is None or g is None or not np.isfinite(k) or not np.isfinite(g):
            continue
        cases[r["case"]][r["method"]] = (float(k), float(g))
        gap_of[r["case"]] = int(r["gap_ms"])
        file_of[r["case"]] = str(r.get("file", r["case"]))
    return cases, gap_of, file_of


def per_length(
    rows: list[dict], methods: list[str], baselines: list[str], keep: str, gain: str, mode: str
):
    """Per gap length with complete cases: (gap_ms, each case's file, scores of shape (cases,
    methods, 2) as (keep, gain), the best baseline's mean keep, the best baseline's mean gain)."""
    wanted = set(methods) | set(baselines)
    cases, gap_of, file_of = collect(rows, wanted, keep, gain, mode)
    for gap_ms in sorted(set(gap_of.values())):
        full = [c for c, v in cases.items() if gap_of[c] == gap_ms and wanted <= v.keys()]
        if not full:
            continue
        scores = np.array([[cases[c][m] for m in methods] for c in full])
        base = np.array([[cases[c][m] for m in baselines] for c in full])
        files = np.array([file_of[c] for c in full])
        yield gap_ms, files, scores, base[:, :, 0].mean(0).max(), base[:, :, 1].mean(0).max()


def table(
    rows: list[dict], methods: list[str], baselines: list[str], keep: str, gain: str, mode: str
) -> dict[int, dict[str, float]]:
    """Per gap length: each method's means, the floor and target, and the bound."""
    out: dict[int, dict[str, float]] = {}
    for gap_ms, _, scores, floor, target in per_length(rows, methods, baselines, keep, gain, mode):
        kept, gained = scores[..., 0], scores[..., 1]
        bound = min(
            float(np.mean(np.max(gained + lam * (kept - floor), axis=1))) for lam in LAMBDAS
        )
        row = {f"{m} {keep}": float(kept[:, i].mean()) for i, m in enumerate(methods)}
        row |= {f"{m} {gain}": float(gained[:, i].mean()) for i, m in enumerate(methods)}
        row |= {
            "cases": float(len(scores)),
            f"floor {keep}": float(floor),
            f"target {gain}": float(target),
            "bound": bound,
        }
        out[gap_ms] = row
    return out


def same_file(
    rows: list[dict], methods: list[str], baselines: list[str], keep: str, gain: str, mode: str
) -> dict[int, list[tuple[float, float, float, float, float]]]:
    """Per gap length and lambda: (lambda, mean keep, mean gain, floor, target) of the selector
    that picks, for each case, the method that did best on the file's other cases."""
    out: dict[int, list[tuple[float, float, float, float, float]]] = {}
    for gap_ms, files, scores, floor, target in per_length(
        rows, methods, baselines, keep, gain, mode
    ):
        rows_out = []
        for lam in SAME_FILE_LAMBDAS:
            value = scores[..., 0] if np.isinf(lam) else scores[..., 1] + lam * scores[..., 0]
            picked = np.empty((len(scores), 2))
            for i in range(len(scores)):
                others = (files == files[i]) & (np.arange(len(scores)) != i)
                choice = int(np.argmax(value[others].mean(0))) if others.any() else 0
                picked[i] = scores[i, choice]
            rows_out.append((lam, *picked.mean(0), floor, target))
        out[gap_ms] = rows_out
    return out


def same_file_markdown(result: dict[int, list[tuple]], keep: str, gain: str) -> str:
    lines = [
        f"| gap | lambda | mean {keep} | {keep} floor | mean {gain} | {gain} target | meets both |",
        "|---|---|---|---|---|---|---|",
    ]
    for gap_ms, rows in result.items():
        for lam, k, g, floor, target in rows:
            ok = "yes" if k >= floor and g >= target else "no"
            lines.append(
                f"| {gap_ms} ms | {'∞' if np.isinf(lam) else f'{lam:g}'} | {k:.3f} | {floor:.3f} "
                f"| {g:.3f} | {target:.3f} | {ok} |"
            )
    return "\n".join(lines)


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
    p.add_argument(
        "--same-file",
        action="store_true",
        help="also run the selector that learns from the same file's other gaps",
    )
    a = p.parse_args(argv)
    if not a.scores.is_file():
        p.error(f"no scores file at {a.scores}")
    methods = [m for m in a.methods.split(",") if m]
    baselines = [m for m in a.baselines.split(",") if m]
    rows = read_scores(a.scores)
    result = table(rows, methods, baselines, a.keep, a.gain, a.mode)
    if not result:
        print(f"no {a.mode} case has scores for all of {methods + baselines}", file=sys.stderr)
        return 1
    print(f"methods: {', '.join(methods)}; baselines: {', '.join(baselines)}; mode: {a.mode}\n")
    print(markdown(result, a.keep, a.gain))
    if a.same_file:
        print("\nThe selector that learns from the same file's other gaps of that length:\n")
        print(
            same_file_markdown(
                same_file(rows, methods, baselines, a.keep, a.gain, a.mode), a.keep, a.gain
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
