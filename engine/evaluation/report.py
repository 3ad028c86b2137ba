"""Bench results: summary statistics (mean, 95% CI), Markdown tables, plots and run comparison."""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from voicemend.engine.errors import VoicemendError
from voicemend.engine.evaluation.scores import METRICS
from voicemend.engine.io import atomic_path, save_figure, write_text_atomic

SUMMARY_NAME = "summary.json"


def mean_ci(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, 95% confidence half-width (Student t) and count, ignoring NaN."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, 0
    if v.size == 1:
        return float(v[0]), math.nan, 1
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(half), int(v.size)


def summarise(
    rows: Iterable[dict[str, object]],
) -> dict[str, dict[str, dict[str, dict[str, list]]]]:
    """summary[mode][metric][method][gap_ms] = [mean, ci95, n], plus blind detection rates."""
    groups: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    detected: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in rows:
        mode, method, gap = str(r["mode"]), str(r["method"]), int(r["gap_ms"])  # type: ignore[arg-type]
        for metric in METRICS:
            if metric in r:
                groups[(mode, metric, method, gap)].append(float(r[metric]))  # type: ignore[arg-type]
        if mode == "blind":
            detected[(method, gap)].append(1.0 if r.get("detected") else 0.0)
    summary: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for (mode, metric, method, gap), values in sorted(groups.items()):
        summary[mode][metric][method][str(gap)] = list(mean_ci(values))
    for (method, gap), values in sorted(detected.items()):
        summary["blind"]["detected"][method][str(gap)] = list(mean_ci(values))
    return json.loads(json.dumps(summary))


# Issue #5's bar: ``auto`` no worse than either baseline on either metric, at every length.
PAIRED_METHOD = "auto"
PAIRED_BASELINES = ("lsar", "pattern")
PAIRED_METRICS = ("plcmos", "pesq")


def paired(
    rows: Iterable[dict[str, object]],
    method: str = PAIRED_METHOD,
    baselines: Sequence[str] = PAIRED_BASELINES,
    metrics: Sequence[str] = PAIRED_METRICS,
) -> dict[str, dict[str, dict[str, dict[str, list]]]]:
    """paired[mode][baseline][metric][gap_ms] = [mean, ci95, n] of ``method``'s score minus the
    baseline's, case by case: the same cases make the difference far surer than the two means'
    intervals suggest (they share each case's difficulty). Empty where ``method`` is missing."""
    scores: dict[tuple[str, str, int], dict[str, dict[str, object]]] = defaultdict(dict)
    for r in rows:
        key = (str(r["mode"]), str(r["case"]), int(r["gap_ms"]))  # type: ignore[arg-type]
        scores[key][str(r["method"])] = r
    diffs: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    for (mode, _, gap), by_method in scores.items():
        ours = by_method.get(method)
        if ours is None:
            continue
        for base in baselines:
            theirs = by_method.get(base)
            if theirs is None:
                continue
            for metric in metrics:
                a, b = ours.get(metric), theirs.get(metric)
                if a is not None and b is not None:
                    diffs[(mode, base, metric, gap)].append(float(a) - float(b))  # type: ignore[arg-type]
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for (mode, base, metric, gap), values in sorted(diffs.items()):
        out[mode][base][metric][str(gap)] = list(mean_ci(values))
    return json.loads(json.dumps(out))


def paired_markdown(table: dict, method: str = PAIRED_METHOD) -> str:
    """One table per mode: ``method`` minus each baseline, per metric and gap length; ▲ / ▼
    where the 95 % interval lies wholly above / below zero."""
    lines = []
    for mode in ("informed", "blind"):
        per_base = table.get(mode)
        if not per_base:
            continue
        gaps = sorted(
            {int(g) for per_metric in per_base.values() for d in per_metric.values() for g in d}
        )
        lines.append(f"\n#### {mode}: {method} minus each baseline, paired by case\n")
        lines.append("| against | metric | " + " | ".join(f"{g} ms" for g in gaps) + " |")
        lines.append("|---" * (len(gaps) + 2) + "|")
        for base, per_metric in per_base.items():
            order = [m for m in PAIRED_METRICS if m in per_metric]
            for metric in order + sorted(set(per_metric) - set(order)):
                per_gap = per_metric[metric]
                cells = []
                for g in gaps:
                    mean, ci, n = per_gap.get(str(g), [math.nan, math.nan, 0])
                    if n == 0:
                        cells.append("–")
                        continue
                    cell = f"{mean:+.3f}"
                    if not math.isnan(ci):
                        cell += f" ± {ci:.3f}"
                        cell += " ▲" if mean - ci > 0 else " ▼" if mean + ci < 0 else ""
                    cells.append(cell)
                label = METRICS[metric].label if metric in METRICS else metric
                lines.append(f"| {base} | {label} | " + " | ".join(cells) + " |")
        lines.append(
            "\n▲ / ▼: the 95 % interval of the difference lies wholly above / below zero.\n"
        )
    return "\n".join(lines)


def markdown(summary: dict, metrics: Sequence[str] | None = None) -> str:
    """One table per mode and metric: methods as rows, gap lengths as columns, mean ± CI."""
    lines = []
    for mode in ("informed", "blind"):
        if mode not in summary:
            continue
        for metric in metrics or [*METRICS, "detected"]:
            table = summary[mode].get(metric)
            if not table:
                continue
            gaps = sorted({int(g) for per in table.values() for g in per})
            label = METRICS[metric].label if metric in METRICS else "gap detected (fraction)"
            arrow = (
                ""
                if metric not in METRICS
                else (" ↑" if METRICS[metric].higher_is_better else " ↓")
            )
            lines.append(f"\n#### {mode}: {label}{arrow}\n")
            lines.append("| method | " + " | ".join(f"{g} ms" for g in gaps) + " |")
            lines.append("|---" * (len(gaps) + 1) + "|")
            for method, per in table.items():
                cells = []
                for g in gaps:
                    mean, ci, n = per.get(str(g), [math.nan, math.nan, 0])
                    cells.append(
                        "–"
                        if n == 0
                        else f"{mean:.3f}" + ("" if math.isnan(ci) else f" ± {ci:.3f}")
                    )
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            counts = {g: max(per.get(str(g), [0, 0, 0])[2] for per in table.values()) for g in gaps}
            lines.append(
                "\nn per cell: " + ", ".join(f"{g} ms: {n}" for g, n in counts.items()) + "\n"
            )
    return "\n".join(lines)


def plot(summary: dict, path: Path, mode: str) -> Path | None:
    """Each metric against gap length, one line (with 95% CI) per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if mode not in summary:
        return None
    metrics = [m for m in METRICS if m in summary[mode]]
    cols = 4
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        drawn: dict[tuple[float, ...], str] = {}
        for method, per in summary[mode][metric].items():
            gaps = sorted(int(g) for g in per)
            mean = [per[str(g)][0] for g in gaps]
            ci = [0.0 if math.isnan(per[str(g)][1]) else per[str(g)][1] for g in gaps]
            same = drawn.setdefault((*gaps, *mean), method)  # e.g. auto, which hands all to lsar
            if same == method:
                style = {"marker": "o", "capsize": 2, "label": method}
            else:
                style = {
                    "marker": "x",
                    "capsize": 0,
                    "linestyle": "--",
                    "label": f"{method} (= {same})",
                }
            ax.errorbar(gaps, mean, yerr=ci, markersize=3, **style)
        ax.set_title(METRICS[metric].label, fontsize=9)
        ax.set_xlabel("gap (ms)", fontsize=8)
        ax.set_xscale("log")
        all_gaps = sorted({int(g) for per in summary[mode][metric].values() for g in per})
        ax.set_xticks(all_gaps, [str(g) for g in all_gaps])
        ax.minorticks_off()
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"voicemend quality bench ({mode})")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def write_results(
    rows: list[dict[str, object]], folder: Path, meta: dict[str, object]
) -> list[Path]:
    """summary.json, results.md, the plots, and every score as scores.jsonl.gz."""
    summary = summarise(rows)
    against = paired(rows)
    record = {"meta": meta, "summary": summary}
    if against:
        record["paired"] = {"method": PAIRED_METHOD, **against}
    paths = [
        write_text_atomic(
            folder / SUMMARY_NAME, json.dumps(record, indent=1) + "\n", overwrite=True
        )
    ]
    header = [
        f"# Quality bench: {meta.get('name', folder.name)}",
        "",
        f"- command: `{meta.get('command', '')}`",
        f"- git commit: {meta.get('git_commit', '')}",
        f"- machine: {meta.get('machine', '')}",
        f"- date: {meta.get('date', '')}",
        f"- files: {meta.get('n_files', '')}, cases scored: {len(rows)}",
        "",
    ]
    paths.append(
        write_text_atomic(
            folder / "results.md",
            "\n".join(header) + paired_markdown(against) + markdown(summary),
            overwrite=True,
        )
    )
    for mode in ("informed", "blind"):
        p = plot(summary, folder / f"quality_{mode}.png", mode)
        if p is not None:
            paths.append(p)
    archive = folder / "scores.jsonl.gz"
    # Atomic, and with no timestamp or (temporary) name inside, so the archive changes only when
    # the scores do.
    with (
        atomic_path(archive) as part,
        part.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed,
    ):
        for r in rows:
            packed.write((json.dumps(r) + "\n").encode("utf-8"))
    paths.append(archive)
    return paths


def load_summary(folder_or_file: Path) -> dict:
    """A quality bench's summary, from its results folder or its summary.json."""
    path = folder_or_file / SUMMARY_NAME if folder_or_file.is_dir() else folder_or_file
    try:
        return json.loads(path.read_text(encoding="utf-8"))["summary"]
    except FileNotFoundError:
        raise VoicemendError(
            f"{folder_or_file}: no {SUMMARY_NAME}; bench compare reads quality bench results"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise VoicemendError(f"{path}: not a quality bench summary ({exc})") from None


def compare(a: dict, b: dict) -> list[str]:
    """Lines ``mode metric method gap: A -> B (diff)``; '*' marks differences beyond both CIs."""
    out = []
    for mode in sorted(set(a) & set(b)):
        for metric in sorted(set(a[mode]) & set(b[mode])):
            for method in sorted(set(a[mode][metric]) & set(b[mode][metric])):
                pa, pb = a[mode][metric][method], b[mode][metric][method]
                for gap in sorted(set(pa) & set(pb), key=int):
                    ma, ca, _ = pa[gap]
                    mb, cb, _ = pb[gap]
                    diff = mb - ma
                    ci = (0 if math.isnan(ca) else ca) + (0 if math.isnan(cb) else cb)
                    flag = " *" if ci and abs(diff) > ci else ""
                    out.append(
                        f"{mode:8s} {metric:12s} {method:10s} {gap:>4s} ms: "
                        f"{ma:8.3f} -> {mb:8.3f} ({diff:+.3f}){flag}"
                    )
    return out


def _reaching_bar(
    scored: list[tuple[float, str]], table: dict, second: dict, bar: Sequence[str], gap_ms: int
) -> list[tuple[float, str]]:
    """Those of ``scored`` whose means reach the best of ``bar``'s on both metrics, or else the
    one that falls least short (see :func:`auto_table`)."""
    floor = max(_mean_or(table, b, gap_ms, -math.inf) for b in bar)
    floor_second = max(_mean_or(second, b, gap_ms, -math.inf) for b in bar)

    def shortfall(score: float, method: str) -> float:
        return max(floor - score, floor_second - _mean_or(second, method, gap_ms, -math.inf))

    reaching = [(s, m) for s, m in scored if shortfall(s, m) <= 0]
    return reaching or [min(scored, key=lambda sm: shortfall(*sm))]


def _mean_or(table: dict, method: str, gap_ms: int, missing: float) -> float:
    value = table.get(method, {}).get(str(gap_ms), [math.nan])[0]
    return missing if math.isnan(value) else float(value)


# Means within this much PLCMOS are taken as level when ``auto_table`` picks a method (about the
# half-width of the full dev bench's 95 % intervals up to 100 ms).
AUTO_TIE = 0.01


def auto_table(
    summary: dict,
    methods: Sequence[str],
    metric: str = "plcmos",
    mode: str = "informed",
    tie: float = AUTO_TIE,
    tie_metric: str = "pesq",
    longer: Sequence[dict] = (),
    bar: Sequence[str] = (),
) -> tuple[tuple[float, str], ...]:
    """The ``auto`` table a bench implies: per gap length, the candidate with the best mean
    ``metric``, except that among those within ``tie`` of the best the one with the best mean
    ``tie_metric`` wins (where the bench has it): a method that is level with another on
    ``metric`` but worse on ``tie_metric`` would make ``auto`` worse for nothing.

    ``bar``: baselines ``auto`` should never fall behind (issue #5: ``lsar`` and ``pattern``).
    Where the bench has both metrics, the choice is made only among the candidates whose means
    reach the best baseline's on both; where none does, the candidate that falls least short of
    it (its larger shortfall of the two is smallest) is taken. Neighbouring
    lengths with the same winner share one entry, and the last entry reaches to any length.
    Lengths lie between the bench's own, so the limit of each entry is the midpoint to the next
    length (gaps of 150 ms follow the 100 ms winner, 151 ms the 200 ms one).

    ``longer``: benches that decide only the lengths beyond those before them (a reduced run of
    longer gaps extends the full bench's table without overruling it where the full one has
    scores)."""
    winners: list[tuple[int, str]] = []
    for bench in (summary, *longer):
        longest = winners[-1][0] if winners else -math.inf
        found = _winners(bench, methods, metric, mode, tie, tie_metric, bar)
        winners.extend((g, w) for g, w in found if g > longest)
    out: list[tuple[float, str]] = []
    for i, (g, w) in enumerate(winners):
        limit = (g + winners[i + 1][0]) / 2 if i + 1 < len(winners) else math.inf
        if out and out[-1][1] == w:
            out[-1] = (limit, w)
        else:
            out.append((limit, w))
    out[-1] = (math.inf, out[-1][1])
    return tuple(out)


def _winners(
    summary: dict,
    methods: Sequence[str],
    metric: str,
    mode: str,
    tie: float,
    tie_metric: str,
    bar: Sequence[str] = (),
) -> list[tuple[int, str]]:
    """(gap ms, the method ``auto_table`` picks there) for each length the bench scored."""
    table = summary[mode][metric]
    second = summary[mode].get(tie_metric, {})
    gaps = sorted({int(g) for m in methods if m in table for g in table[m]})
    if not gaps:
        raise ValueError(f"the bench has no {mode} {metric} scores for {', '.join(methods)}")
    winners = []
    for g in gaps:
        scored = [(table[m][str(g)][0], m) for m in methods if str(g) in table.get(m, {})]
        scored = [(s, m) for s, m in scored if not math.isnan(s)]
        if bar and second:
            scored = _reaching_bar(scored, table, second, bar, g)
        best = max(s for s, _ in scored)
        level = [m for s, m in sorted(scored, reverse=True) if s >= best - tie]
        if len(level) > 1:
            by_second = [(_mean_or(second, m, g, -math.inf), m) for m in level]
            level = [max(by_second, key=lambda sm: sm[0])[1]]
        winners.append((g, level[0]))
    return winners
