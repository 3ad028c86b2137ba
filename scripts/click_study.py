"""How well the click search (``engine.detect.clicks``) finds clicks, and how often it fires on
clean speech.

Into each file, one at a time, clicks of three shapes are added at random places inside active
speech: a one-sample impulse, a doublet (a sample and the next, of opposite signs) and a damped
1-6 kHz ring of 0.3-2 ms. A click's level is its peak over the RMS of the 40 ms around it,
drawn from 0-40 dB (under about 10 dB a one-sample click is hardly heard). A click is found
where a detection holds its first sample. Each found click is then repaired with ``lsar`` and
the error against the clean file, over the click's 10 ms, compared with the click's own. The
clean files are scanned too: every detection there is a false one, unless the recording holds
clicks of its own (mouth clicks, say).

    python scripts/click_study.py --split dev --per-file 10 --ratios 6,8,12 \\
        --out bench/results/clicks-dev
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import CLICK_SHAPES, add_click, click_shape, speech_positions
from voicemend.engine.data import list_speech
from voicemend.engine.detect import ClickSettings, DetectorSettings, DropoutDetector, DropoutKind
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import load, save_figure, write_text_atomic

BINS_DB = (0, 10, 20, 30, 40)


def study(files, per_file: int, ratios: list[float], seed: int) -> dict:
    rng = np.random.default_rng(seed)
    lsar = get_inpainter("lsar", device="cpu")
    detectors = {
        r: DropoutDetector(
            DetectorSettings(kinds=(DropoutKind.CLICK,), clicks=replace(ClickSettings(), ratio=r))
        )
        for r in ratios
    }
    seconds = 0.0
    false = dict.fromkeys(ratios, 0)
    clean_hits: list[dict] = []  # at the middle ratio, to be looked at
    cases = []
    for f in files:
        audio = load(f.path).to_mono()
        x, rate = audio.samples[0].astype(np.float64), audio.sample_rate
        seconds += x.size / rate
        for r, det in detectors.items():
            found = det(Audio.from_array(x, rate))
            false[r] += len(found)
            if r == ratios[len(ratios) // 2]:
                clean_hits += [
                    {"file": Path(f.path).stem, "path": str(f.path), "at": d.region.start}
                    for d in found
                ]
        half = rate // 50
        places = speech_positions(x, rate, 2 * half, per_file, rng)
        for place in places:
            at = place.start + half
            kind = CLICK_SHAPES[int(rng.integers(len(CLICK_SHAPES)))]
            db = float(rng.uniform(BINS_DB[0], BINS_DB[-1]))
            shape = click_shape(kind, rate, rng) * rng.choice([-1, 1])
            y = add_click(Audio.from_array(x, rate), at, shape, db)[0].samples[0]
            span = slice(at - rate // 200, at + rate // 200)
            case = {"file": Path(f.path).stem, "shape": kind, "level_db": round(db, 2), "found": {}}
            for r, det in detectors.items():
                found = det(Audio.from_array(y, rate))
                hits = [d for d in found if d.region.start <= at < d.region.end]
                case["found"][str(r)] = bool(hits)
                if hits and r == ratios[len(ratios) // 2]:
                    out = lsar(Audio.from_array(y, rate), [hits[0].region]).samples[0]
                    before = np.sum((y[span] - x[span]) ** 2)
                    after = np.sum((out[span] - x[span]) ** 2)
                    case["error_change_db"] = round(10 * np.log10(after / before), 2)
            cases.append(case)
    return {
        "seconds": seconds,
        "false": false,
        "clean_detections": clean_hits,
        "cases": cases,
        "ratios": ratios,
    }


def recall_table(result: dict) -> dict[str, dict[str, list[int]]]:
    """Per ratio, per shape (and "all"), [found, cases] in each level bin."""
    table: dict[str, dict[str, list[list[int]]]] = {}
    for r in map(str, result["ratios"]):
        rows = {s: [[0, 0] for _ in BINS_DB[:-1]] for s in (*CLICK_SHAPES, "all")}
        for c in result["cases"]:
            b = min(int(c["level_db"] // 10), len(BINS_DB) - 2)
            for s in (c["shape"], "all"):
                rows[s][b][0] += c["found"][r]
                rows[s][b][1] += 1
        table[r] = rows
    return table


def write(result: dict, out: Path, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table = recall_table(result)
    minutes = result["seconds"] / 60
    bins = [f"{a}-{b} dB" for a, b in itertools.pairwise(BINS_DB)]
    lines = [
        "# Click search: found clicks by level, false detections on clean speech",
        "",
        f"- command: `{command}`",
        f"- files: {len({c['file'] for c in result['cases']})}, {minutes:.1f} min of speech; "
        f"clicks: {len(result['cases'])}",
        "",
        "Found / added, by the click's peak over the RMS of the 40 ms around it:",
        "",
        "| ratio | shape | " + " | ".join(bins) + " | false detections in the clean files |",
        "|---|---|" + "---|" * len(bins) + "---|",
    ]
    for r in map(str, result["ratios"]):
        for s in (*CLICK_SHAPES, "all"):
            cells = [f"{k} / {n}" for k, n in table[r][s]]
            false = result["false"][float(r)] if s == "all" else ""
            if s == "all":
                false = f"{false} ({false / minutes * 10:.1f} per 10 min)"
            lines.append(f"| {r} | {s} | " + " | ".join(cells) + f" | {false} |")
    hits = result.get("clean_detections", [])
    if hits:
        mid = result["ratios"][len(result["ratios"]) // 2]
        lines += [
            "",
            f"Detections in the clean files at ratio {mid:g} (waveforms around the first six in "
            "`clean-detections.png`): "
            + ", ".join(f"{h['file']} at {h['at']} samples" for h in hits),
        ]
    change = [c["error_change_db"] for c in result["cases"] if "error_change_db" in c]
    if change:
        mid = result["ratios"][len(result["ratios"]) // 2]
        lines += [
            "",
            f"Found at ratio {mid:g} and repaired with `lsar`: the error against the clean file "
            f"over the click's 10 ms changed by {np.median(change):+.1f} dB (median of "
            f"{len(change)}; quartiles {np.percentile(change, 25):+.1f} / "
            f"{np.percentile(change, 75):+.1f} dB).",
        ]
    text = json.dumps({**result, "command": command}, indent=1)
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n", overwrite=True)
    write_text_atomic(out / "results.json", text, overwrite=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    centres = [a + 5 for a in BINS_DB[:-1]]
    for r in map(str, result["ratios"]):
        share = [k / n if n else np.nan for k, n in table[r]["all"]]
        false = result["false"][float(r)] / minutes * 10
        ax.plot(centres, share, marker="o", label=f"ratio {r} ({false:.1f} false / 10 min)")
    ax.set_xlabel("click peak over the speech's RMS around it (dB)")
    ax.set_ylabel("share found")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Click search on dev speech")
    fig.tight_layout()
    save_figure(fig, out / "recall.png")
    plt.close(fig)
    if result.get("clean_detections"):
        plot_clean_detections(result["clean_detections"][:6], out / "clean-detections.png")


def plot_clean_detections(hits: list[dict], path: Path) -> None:
    """The waveform around each detection in the clean files (25 ms and 2.5 ms either side),
    to tell a false one from a click the recording holds."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(hits), 2, figsize=(10, 1.9 * len(hits)), squeeze=False)
    for row, hit in zip(axes, hits, strict=True):
        audio = load(hit["path"]).to_mono()
        x, rate = audio.samples[0], audio.sample_rate
        for ax, ms in zip(row, (25.0, 2.5), strict=True):
            half = round(ms * rate / 1000)
            lo, hi = max(0, hit["at"] - half), min(x.size, hit["at"] + half)
            t_ms = (np.arange(lo, hi) - hit["at"]) * 1000 / rate
            ax.plot(t_ms, x[lo:hi], lw=0.8)
            ax.axvline(0.0, color="red", alpha=0.4)
            ax.set_title(f"{hit['file']} at {hit['at'] / rate:.3f} s", fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel("sample", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("ms from the detection's start", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/speech"))
    p.add_argument("--split", default="dev")
    p.add_argument("--files", type=int, default=0, help="the first N files (0: all)")
    p.add_argument("--per-file", type=int, default=10)
    p.add_argument("--ratios", default="6,8,12")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    files = list_speech(a.data, split=a.split)
    files = files[: a.files] if a.files else files
    ratios = [float(v) for v in a.ratios.split(",")]
    result = study(files, a.per_file, ratios, a.seed)
    args = sys.argv[1:] if argv is None else argv
    write(result, a.out, "python scripts/click_study.py " + " ".join(args))
    print((a.out / "results.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
