"""Lost packets as a VoIP call really conceals them: Opus's own packet-loss concealment (PLC).

A call's decoder does not leave a lost packet silent: it extrapolates the speech before it and
fades, so the dropout sounds like a buzz or a smear rather than a hole. This encodes dev speech
with libopus (16 kHz, VoIP mode, 20 ms packets), drops bursts of 1, 3 and 5 packets inside active
speech, decodes with the codec's concealment, and asks three things:

- does ``DropoutDetector`` find the concealed bursts (its concealment network, among the rest);
- told where they are (informed), do voicemend's methods beat the concealment?
- not told (``auto-blind``: the detector's regions near the burst, repaired by ``auto``)?

Each is scored against the same speech decoded without loss, 1 s either side of the burst
(PESQ-WB, PLCMOS).

    python scripts/opus_plc.py --files 60 --out bench/results/opus-plc

libopus is loaded with ctypes (Debian's ``libopus0``); nothing is installed for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from voicemend.engine.opus import OpusCodec

RATE = 16000
PACKET_MS = 20
BLIND = "auto-blind"


def score_file(
    codec: OpusCodec, x: np.ndarray, index: int, args, inpainters: dict, blind, detector
) -> list[dict]:
    from voicemend.engine import Audio, Region
    from voicemend.engine.corrupt import speech_positions
    from voicemend.engine.evaluation import scores as S

    rng = np.random.default_rng(index)
    n = codec.packet
    reference = codec.roundtrip(x)
    rows = []
    for n_packets in args.packets:
        places = speech_positions(x, RATE, (n_packets + 1) * n, 1, rng)
        if not places:  # too short, or no active speech long enough
            continue
        first = int(np.ceil(places[0].start / n))
        concealed = codec.roundtrip(x, set(range(first, first + n_packets)))
        # packet k's audio, concealed or not, is output samples k * n onwards
        gap = Region(first * n, (first + n_packets) * n)
        a0, a1 = max(0, gap.start - RATE), min(concealed.size, gap.end + RATE)
        clean, local = reference[a0:a1], gap.shifted(-a0)
        found = detector(Audio.from_array(concealed, RATE))
        seen = any(d.region.overlaps_or_touches(gap) for d in found)
        outs = {"opus-plc": concealed[a0:a1]}
        for name, inpainter in inpainters.items():
            damaged = Audio.from_array(concealed[a0:a1].copy(), RATE)
            outs[name] = inpainter.inpaint(damaged, [local]).audio.samples[0]
        # blind: whatever the detector found in the scored second either side, repaired
        near = [
            Region(max(d.region.start, a0) - a0, min(d.region.end, a1) - a0)
            for d in found
            if d.region.start < a1 and d.region.end > a0
        ]
        damaged = Audio.from_array(concealed[a0:a1].copy(), RATE)
        outs[BLIND] = blind.inpaint(damaged, near).audio.samples[0] if near else concealed[a0:a1]
        for name, out in outs.items():
            rows.append(
                {
                    "file": index,
                    "loss_ms": n_packets * PACKET_MS,
                    "method": name,
                    "detected": seen,
                    "pesq": float(S.pesq_score(clean, out, RATE)),
                    "plcmos": float(S.plcmos(out)),
                }
            )
    return rows


def table(rows: list[dict], methods: list[str]) -> str:
    """Means (± 95 % intervals) per loss length, and each method minus the concealment, paired."""
    by = defaultdict(dict)
    for r in rows:
        by[(r["loss_ms"], r["file"])][r["method"]] = r
    lengths = sorted({r["loss_ms"] for r in rows})
    lines = [
        "| loss | method | PESQ-WB | PLCMOS | Δ PESQ vs opus-plc | Δ PLCMOS vs opus-plc |",
        "|---|---|---|---|---|---|",
    ]
    for ms in lengths:
        cases = [v for (length, _), v in by.items() if length == ms]
        for name in ["opus-plc", *methods]:
            pesq = np.array([c[name]["pesq"] for c in cases])
            plcmos = np.array([c[name]["plcmos"] for c in cases])
            d_pesq = pesq - np.array([c["opus-plc"]["pesq"] for c in cases])
            d_plcmos = plcmos - np.array([c["opus-plc"]["plcmos"] for c in cases])
            diff = (
                ("–", "–")
                if name == "opus-plc"
                else (_mean_ci(d_pesq, signed=True), _mean_ci(d_plcmos, signed=True))
            )
            lines.append(
                f"| {ms} ms | {name} | {_mean_ci(pesq)} | {_mean_ci(plcmos)} | "
                f"{diff[0]} | {diff[1]} |"
            )
    detected = sum(1 for r in rows if r["method"] == "opus-plc" and r["detected"])
    total = sum(1 for r in rows if r["method"] == "opus-plc")
    lines += ["", f"Concealed bursts the detector found: {detected} of {total}."]
    return "\n".join(lines) + "\n"


def _mean_ci(v: np.ndarray, signed: bool = False) -> str:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "–"
    half = 1.96 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan")
    return f"{v.mean():{'+' if signed else ''}.3f} ± {half:.3f}"


def concealment_settings(args: argparse.Namespace):
    """The detector's concealment settings with the command line's changes."""
    from dataclasses import replace

    from voicemend.engine.detect import ConcealmentSettings

    changes = {
        "model": args.concealment_model,
        "threshold": args.threshold,
        "pad_after_ms": args.pad_after_ms,
        "short_ms": args.short_ms,
    }
    return replace(ConcealmentSettings(), **{k: v for k, v in changes.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=60, help="the first N files of the split")
    p.add_argument(
        "--split",
        choices=("dev", "train"),
        default="dev",
        help="dev (the results) or train (to set the detector's settings on)",
    )
    p.add_argument("--packets", default="1,3,5", help="lost packets per burst (20 ms each)")
    p.add_argument("--methods", default="lsar,auto", help="informed repairs to score")
    p.add_argument("--bitrate", type=int, default=24000)
    p.add_argument(
        "--concealment-model",
        type=Path,
        metavar="DIR",
        help="the concealment network to detect with (default: the shipped one)",
    )
    p.add_argument("--threshold", type=float, help="its frame threshold (default: the setting's)")
    p.add_argument("--pad-after-ms", type=float, help="its regions' tail (default: the setting's)")
    p.add_argument(
        "--short-ms",
        type=float,
        help="its runs shorter than this get half confidence, below the repair cut "
        "(default: the setting's)",
    )
    p.add_argument("--data", type=Path, help="speech data (default: ../shared/data/speech)")
    p.add_argument("--out", type=Path, help="write results.json and results.md here")
    args = p.parse_args(argv)
    args.packets = [int(v) for v in args.packets.split(",")]
    args.methods = [m for m in args.methods.split(",") if m]

    from voicemend.engine.data import list_speech, speech_root
    from voicemend.engine.io import load, write_text_atomic

    files = list_speech(args.data or speech_root(), split=args.split)[: args.files]
    if not files:
        print(f"no {args.split} files found", file=sys.stderr)
        return 1
    from voicemend.engine.detect import (
        DEFAULT_KINDS,
        DetectorSettings,
        DropoutDetector,
        DropoutKind,
    )
    from voicemend.engine.inpaint import get_inpainter

    codec = OpusCodec(args.bitrate, RATE, PACKET_MS)
    inpainters = {name: get_inpainter(name) for name in args.methods}
    detector = DropoutDetector(
        DetectorSettings(
            kinds=(*DEFAULT_KINDS, DropoutKind.CONCEALED),
            concealment=concealment_settings(args),
        )
    )
    signals = (load(f.path).to_mono().resampled(RATE).samples[0] for f in files)
    rows: list[dict] = []
    for index, x in enumerate(signals):
        rows += score_file(codec, x, index, args, inpainters, get_inpainter("auto"), detector)
    text = (
        f"Opus {args.bitrate // 1000} kb/s, 16 kHz, {PACKET_MS} ms packets, {len(files)} "
        f"{args.split} files\n\n" + table(rows, [*args.methods, BLIND])
    )
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out / "results.json", json.dumps(rows) + "\n", overwrite=True)
        write_text_atomic(args.out / "results.md", text, overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
