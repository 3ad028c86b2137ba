"""Blind detection in 8-bit copies of speech, with and without the coarse-grid rule.

    python scripts/eight_bit_detection.py --split dev [--files 40] [--out bench/results/eight-bit]

Quiet speech quantised to 8 bits falls to exact zero for milliseconds, and each such run read as
a dropout. ``SilenceSettings.quantum_edge_db`` asks a silent run or burst on such a grid for the
audio beside one of its edges to stand 12 dB over one step. Each file (3 s or longer, in a fixed
shuffled order) is scaled to a peak drawn from 0.3-0.95 and saved at 16 kHz and at 8 kHz, as
8-bit PCM (once more at 16 kHz, then scaled by 0.7 in float32, as an editor's normalisation
leaves it), and as 16-bit and µ-law for comparison; the clean copy is scanned for false
detections, and a copy with one 10, 30, 60 or 100 ms cut in active speech (where the 10 ms level
is within 10 dB of the file's 90th percentile) is scanned for the cut. ``with rule`` is the
detector as shipped; ``without`` sets ``quantum_edge_db`` to -inf.
"""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from study_report import study_args, write_study

from voicemend.engine import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.detect import DetectorSettings, DropoutDetector, SilenceSettings

# (rate, subtype, gain in float afterwards: an 8-bit recording normalised in an editor)
COPIES = (
    (16000, "PCM_U8", 1.0),
    (8000, "PCM_U8", 1.0),
    (16000, "PCM_U8", 0.7),
    (16000, "PCM_16", 1.0),
    (8000, "ULAW", 1.0),
)
CUTS_S = (0.01, 0.03, 0.06, 0.1)


def stored(x: np.ndarray, rate: int, subtype: str) -> np.ndarray:
    """``x`` as read back from a WAV of ``subtype``."""
    buf = io.BytesIO()
    sf.write(buf, x, rate, subtype=subtype, format="WAV")
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


def run(split: str, n_files: int) -> list[dict[str, object]]:
    files = [f for f in list_speech(None, split=split) if f.duration_s >= 3.0]
    np.random.default_rng(1).shuffle(files)
    files = files[:n_files]
    detectors = {
        "with rule": DropoutDetector(),
        "without": DropoutDetector(
            DetectorSettings(silence=replace(SilenceSettings(), quantum_edge_db=-np.inf))
        ),
    }
    rows = []
    for rate, subtype, gain in COPIES:
        rng = np.random.default_rng(0)
        counts = {name: {"false": 0, "found": 0} for name in detectors}
        seconds = 0.0
        for f in files:
            x, sr = sf.read(str(f.path), dtype="float64")
            if rate != sr:
                x = resample_poly(x, rate, sr)
            y = stored(float(rng.uniform(0.3, 0.95)) * x / np.abs(x).max(), rate, subtype)
            y = (gain * y).astype(np.float32)
            seconds += y.size / rate
            hop = rate // 100
            level = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(hop) / hop, "same"))
            active = np.flatnonzero(level > np.percentile(level, 90) * 0.3)
            active = active[(active > rate) & (active < y.size - rate)]
            start, length = int(rng.choice(active)), int(rng.choice(CUTS_S) * rate)
            cut = y.copy()
            cut[start : start + length] = 0.0
            for name, detector in detectors.items():
                counts[name]["false"] += len(detector(Audio.from_array(y, rate)))
                counts[name]["found"] += any(
                    d.region.start <= start + 10 and d.region.end >= start + length - 10
                    for d in detector(Audio.from_array(cut, rate))
                )
        for name, c in counts.items():
            rows.append(
                {
                    "rate": rate,
                    "subtype": subtype,
                    "gain": gain,
                    "detector": name,
                    "minutes": round(seconds / 60, 1),
                    "false_detections": c["false"],
                    "cuts_found": c["found"],
                    "cuts": len(files),
                }
            )
        print(rows[-2], rows[-1], flush=True)
    return rows


def main() -> None:
    args = study_args(__doc__, 40, "bench/results/eight-bit")
    rows = run(args.split, args.files)
    table = [
        "| copy | detector | minutes | false detections | cuts found |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        copy = f"{r['rate'] // 1000} kHz {r['subtype']}"
        if r["gain"] != 1.0:
            copy += f", ×{r['gain']} in float"
        table.append(
            f"| {copy} | {r['detector']} | {r['minutes']} | {r['false_detections']} | "
            f"{r['cuts_found']} / {r['cuts']} |"
        )
    title = "Detection in 8-bit copies of speech"
    write_study(args, "eight_bit_detection.py", "eight_bit", rows, title, table)


if __name__ == "__main__":
    main()
