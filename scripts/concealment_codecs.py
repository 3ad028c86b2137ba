"""Does the concealment detector hear calls it was not trained on?

It learned from speech sent through Opus at 16 kHz. Real calls run at other rates: Zoom and
WebRTC send fullband Opus at 48 kHz (SILK and CELT together, each with its own concealment),
phone bridges narrowband at 8 kHz, and some clients use 40 ms packets. This sends dev speech
through each setting with 10 bursts of 1-6 lost packets per file (the detection bench's call
scenario) and counts the bursts a detection overlaps, and the detections in the same speech
decoded without loss.

    python scripts/concealment_codecs.py --files 50 --out bench/results/concealment-codecs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# (bit rate b/s, sample rate Hz, packet ms)
SETTINGS = (
    (24000, 16000, 20),
    (32000, 48000, 20),
    (64000, 48000, 20),
    (16000, 16000, 40),
    (12000, 8000, 20),
)


def run(files, model: Path | None, per_file: int, settings=SETTINGS) -> list[dict]:
    from voicemend.engine.detect import (
        ConcealmentSettings,
        DetectorSettings,
        DropoutDetector,
        DropoutKind,
    )
    from voicemend.engine.evaluation.detection import call_scenario
    from voicemend.engine.io import load
    from voicemend.engine.opus import OpusCodec

    detector = DropoutDetector(
        DetectorSettings(
            kinds=(DropoutKind.CONCEALED,), concealment=ConcealmentSettings(model=model)
        )
    )
    rows = []
    for bitrate, rate, packet_ms in settings:
        codec = OpusCodec(bitrate, rate, packet_ms)
        found = bursts = false = 0
        minutes = 0.0
        for index, item in enumerate(files):
            audio = load(item.path)
            rng = np.random.default_rng([0, index, 2])
            coded, concealed, truth = call_scenario(audio, codec, rng, per_file)
            regions = detector.regions(concealed)
            bursts += len(truth)
            found += sum(any(r.overlaps_or_touches(t) for r in regions) for t in truth)
            false += len(detector.regions(coded))
            minutes += audio.duration_s / 60
        rows.append(
            {
                "bitrate": bitrate,
                "sample_rate": rate,
                "packet_ms": packet_ms,
                "bursts": bursts,
                "found": found,
                "false_detections": false,
                "coded_minutes": round(minutes, 2),
            }
        )
        print(_line(rows[-1]), flush=True)
    return rows


def _line(r: dict) -> str:
    return (
        f"| {r['bitrate'] // 1000} kb/s | {r['sample_rate'] // 1000} kHz | {r['packet_ms']} ms | "
        f"{r['found']} / {r['bursts']} ({100 * r['found'] / max(1, r['bursts']):.0f} %) | "
        f"{r['false_detections']} in {r['coded_minutes']:.1f} min |"
    )


def table(rows: list[dict]) -> str:
    head = [
        "| Opus | rate | packets | bursts found | false detections (lossless) |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(head + [_line(r) for r in rows]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=50, help="the first N dev files")
    p.add_argument("--per-file", type=int, default=10, help="loss bursts per file")
    p.add_argument("--model", type=Path, help="the network (default: the shipped one)")
    p.add_argument("--data", type=Path, help="speech data (default: ../shared/data/speech)")
    p.add_argument("--out", type=Path, help="write results.json and results.md here")
    args = p.parse_args(argv)

    from voicemend.engine.data import list_speech, speech_root
    from voicemend.engine.io import write_text_atomic
    from voicemend.engine.opus import opus_available

    if not opus_available():
        print("libopus is not installed (Debian: libopus0)", file=sys.stderr)
        return 1
    files = list_speech(args.data or speech_root(), split="dev")[: args.files]
    if not files:
        print("no dev files found", file=sys.stderr)
        return 1
    rows = run(files, args.model, args.per_file)
    text = (
        f"Concealed bursts found by the concealment detector, {len(files)} dev files, "
        f"{args.per_file} bursts of 1-6 packets each\n\n" + table(rows)
    )
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            args.out / "results.json", json.dumps(rows, indent=1) + "\n", overwrite=True
        )
        write_text_atomic(args.out / "results.md", text, overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
