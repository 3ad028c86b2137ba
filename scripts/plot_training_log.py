"""Plot training runs' loss against the examples they have seen, from their ``log.jsonl``.

    .venv/bin/python scripts/plot_training_log.py OUT.png LOG[:BATCH[:LABEL]] ... [--key loss]

Runs with different batch sizes line up on examples seen (steps x batch); each curve is the mean
of the logged values over windows of 1 000 steps, since one batch's loss is noisy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def windowed(path: Path, key: str, window: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    steps = np.array([r["step"] for r in rows])
    values = np.array([r[key] for r in rows], dtype=float)
    ends, means = [], []
    for end in range(window, int(steps.max()) + window, window):
        inside = (steps > end - window) & (steps <= end)
        if inside.any():
            ends.append(min(end, int(steps[inside].max())))
            means.append(values[inside].mean())
    return np.array(ends), np.array(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", nargs="+", help="LOG[:BATCH[:LABEL]]")
    parser.add_argument("--key", default="loss")
    args = parser.parse_args()
    fig, ax = plt.subplots(figsize=(7, 4))
    for spec in args.runs:
        path, batch, label = [*spec.split(":", 2), "1", ""][:3]
        steps, means = windowed(Path(path), args.key)
        ax.plot(steps * int(batch) / 1000, means, marker="o", ms=3, label=label or path)
    ax.set_xlabel("training examples seen (thousands)")
    ax.set_ylabel(f"{args.key}, mean per 1 000 steps")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
