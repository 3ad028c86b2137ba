"""How loud is each method's fill across a long gap, next to the speech it replaces?

For the quality bench's informed cases on the first dev files, the level of each eighth of the
gap relative to the 100 ms of context on each side (median over cases, dB): the true speech, and
each method's fill. It shows what a metric is rewarding: a fill that fades to near silence
in the middle of a long gap still leaves an audible hole. Writes a Markdown table and a plot.

Usage: fill_envelope.py [--files 12] [--gap-ms 200,400] [--methods lsar,pattern,neural-mel]
       [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import atomic_path, save_figure

RATE = 16_000
PARTS = 8
CONTEXT_MS = 100.0
FLOOR_DB = -80.0


def envelopes(files: int, gap_ms: int, methods: list[str]) -> dict[str, np.ndarray]:
    """name -> (cases, PARTS) level of each part of the gap in dB re the context."""
    inpainters = {m: get_inpainter(m, device="cpu") for m in methods}
    config = QualityConfig(gaps_ms=(gap_ms,), positions_short=1, positions_long=1)
    ctx_n = int(CONTEXT_MS * RATE / 1000)
    levels: dict[str, list[np.ndarray]] = {"true speech": [], **{m: [] for m in methods}}
    for _, clean, gap in iter_excerpts(list_speech(split="dev")[:files], RATE, config):
        g0, g1 = gap.start, gap.end
        clean = clean.astype(np.float64)
        damaged = clean.copy()
        damaged[g0:g1] = 0.0
        context = np.concatenate([clean[max(0, g0 - ctx_n) : g0], clean[g1 : g1 + ctx_n]])
        ref = float(np.mean(context**2))
        if ref <= 0:
            continue
        outs = {"true speech": clean}
        for m, inp in inpainters.items():
            outs[m] = inp(Audio.from_array(damaged, RATE), [gap]).samples[0]
        usable = (g1 - g0) // PARTS * PARTS
        for name, y in outs.items():
            parts = y[g0 : g0 + usable].reshape(PARTS, -1)
            power = np.mean(parts**2, axis=1) / ref
            levels[name].append(np.maximum(FLOOR_DB, 10 * np.log10(power + 1e-20)))
    return {k: np.array(v) for k, v in levels.items() if v}


def markdown(levels: dict[str, np.ndarray], gap_ms: int) -> str:
    step = gap_ms / PARTS
    head = " | ".join(f"{step * k:.0f}–{step * (k + 1):.0f} ms" for k in range(PARTS))
    lines = [f"| fill | {head} |", "|---|" + "---|" * PARTS]
    for name, v in levels.items():
        med = np.median(v, axis=0)
        lines.append(f"| {name} | " + " | ".join(f"{d:.1f}" for d in med) + " |")
    n = next(iter(levels.values())).shape[0]
    return "\n".join(lines) + f"\n\nMedian over {n} cases, dB re the 100 ms of context each side."


def plot(by_gap: dict[int, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(by_gap), figsize=(6 * len(by_gap), 4), squeeze=False)
    for ax, (gap_ms, levels) in zip(axes[0], by_gap.items(), strict=True):
        centres = (np.arange(PARTS) + 0.5) * gap_ms / PARTS
        for name, v in levels.items():
            ax.plot(centres, np.median(v, axis=0), marker="o", label=name)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("time in the gap (ms)")
        ax.set_ylabel("level re context (dB, median)")
        ax.set_title(f"Level across a {gap_ms} ms gap")
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=12)
    p.add_argument("--gap-ms", default="200,400", help="comma-separated gap lengths")
    p.add_argument("--methods", default="lsar,pattern,neural-mel")
    p.add_argument("--out", type=Path, default=None, help="folder for envelope.md and .png")
    a = p.parse_args(argv)
    try:
        gaps = [int(g) for g in a.gap_ms.split(",") if g]
    except ValueError:
        p.error(f"--gap-ms takes whole milliseconds separated by commas, not {a.gap_ms!r}")
    if a.files < 1 or not gaps or min(gaps) < PARTS:
        p.error("--files must be at least 1 and every --gap-ms at least 8")
    methods = [m for m in a.methods.split(",") if m]
    by_gap = {g: envelopes(a.files, g, methods) for g in gaps}
    if not all(by_gap.values()):
        p.error("no dev case had audible context")
    text = "\n\n".join(f"### {g} ms gap\n\n{markdown(lv, g)}" for g, lv in by_gap.items())
    print(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(a.out / "envelope.md") as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
        plot(by_gap, a.out / "envelope.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
