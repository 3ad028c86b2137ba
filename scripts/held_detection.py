"""Blind detection of held samples: a converter or driver that stalled and repeated its last
sample for a while, instead of writing zeros.

    python scripts/held_detection.py --split dev [--files 60] [--out bench/results/held]

Each file (3 s or longer, in a fixed shuffled order) gets one hold of 5, 10, 20, 50 or 100 ms
in active speech (where the 10 ms level is within 10 dB of the file's 90th percentile): from
its start every sample repeats the one before it. The copies are scanned at 16 kHz, at 48 kHz
(resampled, then held), as 8-bit at 16 kHz, and as MP3 128 kb/s at 44.1 kHz (held, then
coded: the codec smears the flat line, so this is what survives of it). A hold is found where
one detection covers it (within 10 samples of each end); the clean copies are scanned for false
detections. ``held`` counts the detections named so (the rest found it as another kind).
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from study_report import study_args, write_study

from voicemend.engine import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.detect import DropoutDetector, DropoutKind
from voicemend.engine.lossy import LossyFormat, roundtrip

HOLDS_MS = (5, 10, 20, 50, 100)
COPIES = ("16 kHz 8-bit", "16 kHz", "48 kHz", "44.1 kHz MP3 128 kb/s")


def copy_of(x: np.ndarray, copy: str) -> tuple[np.ndarray, int]:
    """``x`` (16 kHz) as the copy stores it, before any damage: the rate and sample format."""
    if copy == "48 kHz":
        return resample_poly(x, 3, 1).astype(np.float32), 48000
    if copy == "44.1 kHz MP3 128 kb/s":
        return resample_poly(x, 441, 160).astype(np.float32), 44100
    if copy == "16 kHz 8-bit":
        buf = io.BytesIO()
        sf.write(buf, x, 16000, subtype="PCM_U8", format="WAV")
        buf.seek(0)
        return sf.read(buf, dtype="float32")[0], 16000
    return x.astype(np.float32), 16000


def coded(y: np.ndarray, rate: int, copy: str) -> np.ndarray:
    """What the scan reads: the MP3 copy goes through the codec after the damage."""
    if "MP3" not in copy:
        return y
    return roundtrip(Audio.from_array(y, rate), LossyFormat.parse("mp3:128")).samples[0]


def run(split: str, n_files: int) -> list[dict[str, object]]:
    files = [f for f in list_speech(None, split=split) if f.duration_s >= 3.0]
    np.random.default_rng(1).shuffle(files)
    files = files[:n_files]
    detector = DropoutDetector()
    rows = []
    for copy in COPIES:
        rng = np.random.default_rng(0)
        found = dict.fromkeys(HOLDS_MS, 0)
        named = dict.fromkeys(HOLDS_MS, 0)
        tried = dict.fromkeys(HOLDS_MS, 0)
        false, seconds = 0, 0.0
        for i, f in enumerate(files):
            x, _ = sf.read(str(f.path), dtype="float64")
            y, rate = copy_of(float(rng.uniform(0.3, 0.95)) * x / np.abs(x).max(), copy)
            seconds += y.size / rate
            false += len(detector(Audio.from_array(coded(y, rate, copy), rate)))
            hop = rate // 100
            level = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(hop) / hop, "same"))
            active = np.flatnonzero(level > np.percentile(level, 90) * 0.3)
            active = active[(active > rate) & (active < y.size - rate)]
            ms = HOLDS_MS[i % len(HOLDS_MS)]
            start, length = int(rng.choice(active)), round(ms * rate / 1000)
            held = y.copy()
            held[start : start + length] = held[start - 1]
            hits = [
                d
                for d in detector(Audio.from_array(coded(held, rate, copy), rate))
                if d.region.start <= start + 10 and d.region.end >= start + length - 10
            ]
            tried[ms] += 1
            found[ms] += bool(hits)
            named[ms] += any(d.kind is DropoutKind.HELD for d in hits)
        rows.append(
            {
                "copy": copy,
                "minutes": round(seconds / 60, 1),
                "false_detections": false,
                "holds": {str(ms): tried[ms] for ms in HOLDS_MS},
                "found": {str(ms): found[ms] for ms in HOLDS_MS},
                "named_held": {str(ms): named[ms] for ms in HOLDS_MS},
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    args = study_args(__doc__, 60, "bench/results/held")
    rows = run(args.split, args.files)
    head = " | ".join(f"{ms} ms" for ms in HOLDS_MS)
    table = [
        f"| copy | minutes | false detections | {head} |",
        "|---|---|---|" + "---|" * len(HOLDS_MS),
    ]
    for r in rows:
        cells = " | ".join(
            f"{r['found'][str(ms)]} ({r['named_held'][str(ms)]}) / {r['holds'][str(ms)]}"
            for ms in HOLDS_MS
        )
        table.append(f"| {r['copy']} | {r['minutes']} | {r['false_detections']} | {cells} |")
    title = "Held samples: holds found (named `held`) of those made, and false detections"
    write_study(args, "held_detection.py", "held", rows, title, table)


if __name__ == "__main__":
    main()
