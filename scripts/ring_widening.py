"""Does widening a detected zero run over its ringing tail help the repair? (train split)

A cut made before the audio was resampled or filtered rings into the zero run: the run the
detector finds is a little short at each end, and the tail left beside it is read as true
context by the repair. ``engine.detect.silence.past_ringing`` widens each run over such a tail
(``ring_extent``: a 20 dB rise between 0.5 ms windows within ``ring_reach_ms`` of the edge),
and ``ring_pad_ms`` beyond. This cuts 20 and 60 ms zero runs into active speech of train files,
saves them as ``--mode`` says, detects them as shipped and with ``past_ringing`` left out, and
repairs each with ``lsar`` over the region found and over the true one; scored against the
clean file treated the same way, gap +- 20 ms.

    python scripts/ring_widening.py --mode 8000     # cut at 16 kHz, saved at 8 kHz
    python scripts/ring_widening.py --mode 48000    # ... saved at 48 kHz
    python scripts/ring_widening.py --mode pb8k     # through pedalboard's Resample(8000) at 16 kHz
    python scripts/ring_widening.py --mode native   # cut at the file's own rate
    python scripts/ring_widening.py --mode mp3      # cut at 44.1 kHz, saved as MP3 128 kb/s
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from unittest import mock

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import speech_positions, zero_gap
from voicemend.engine.data import list_speech
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.detect import detector as detector_module
from voicemend.engine.inpaint import INPAINTERS
from voicemend.engine.io import load, write_text_atomic
from voicemend.engine.lossy import LossyFormat, roundtrip
from voicemend.engine.metrics import log_spectral_distance, si_sdr
from voicemend.engine.rates import to_rate
from voicemend.engine.regions import Region

MP3 = LossyFormat("mp3", 128)


@contextlib.contextmanager
def _widening(on: bool):
    """The detector as shipped, or with ``past_ringing`` left out (everything else the same)."""
    if on:
        yield
        return
    with mock.patch.object(detector_module, "past_ringing", lambda x, sr, found, *_: found):
        yield


def saved(samples: np.ndarray, rate: int, mode: str) -> tuple[np.ndarray, int]:
    if mode == "native":
        return samples, rate
    if mode == "pb8k":
        import pedalboard

        return pedalboard.Resample(8000)(samples, rate), rate
    if mode == "mp3":
        coded = roundtrip(Audio(to_rate(samples, rate, 44100).astype(np.float32), 44100), MP3)
        return coded.samples, 44100
    return to_rate(samples, rate, int(mode)), int(mode)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", default="8000", choices=("8000", "48000", "pb8k", "native", "mp3"))
    p.add_argument("--files", type=int, default=30)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=None, help="append the rows here (Markdown)")
    a = p.parse_args(argv)
    files = list_speech(split="train")
    files = [files[i] for i in np.random.default_rng(a.seed).permutation(len(files))[: a.files]]
    detector = DropoutDetector()
    lsar = INPAINTERS["lsar"]()
    names = ("widened (shipped)", "not widened", "true region")
    scores: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    widened = 0
    for i, item in enumerate(files):
        audio = load(item.path)
        x, rate = audio.samples[0], audio.sample_rate
        rng = np.random.default_rng([a.seed, i])
        for gap_ms in (20, 60):
            for cut in speech_positions(x, rate, int(gap_ms * rate / 1000), 1, rng):
                clean, sr = saved(audio.samples, rate, a.mode)
                damaged, _ = saved(zero_gap(audio, cut).samples, rate, a.mode)
                damaged = Audio(np.ascontiguousarray(damaged, dtype=np.float32), sr)
                truth = Region(cut.start * sr // rate, cut.end * sr // rate)
                found = {}
                for name, widen in (("widened (shipped)", True), ("not widened", False)):
                    with _widening(widen):
                        hits = [d.region for d in detector(damaged)]
                    hits = [r for r in hits if r.overlaps_or_touches(truth)]
                    found[name] = hits[0] if len(hits) == 1 else None
                if None in found.values():
                    continue
                widened += found["widened (shipped)"] != found["not widened"]
                m = int(0.02 * sr)
                lo, hi = truth.start - m, truth.end + m
                for name, region in [*found.items(), ("true region", truth)]:
                    out = lsar(damaged, [region]).samples[0]
                    ref = clean[0][lo:hi]
                    scores[name].append(
                        (log_spectral_distance(ref, out[lo:hi], sr), si_sdr(ref, out[lo:hi]))
                    )
    n = len(scores["true region"])
    lines = [
        f"| {a.mode} ({n} runs, {widened} widened) | LSD (dB) | SI-SDR (dB) |",
        "|---|---|---|",
    ]
    for name, rows in scores.items():
        v = np.array(rows).reshape(-1, 2)
        lines.append(f"| {name} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out is not None:
        old = a.out.read_text(encoding="utf-8") + "\n" if a.out.exists() else ""
        write_text_atomic(a.out, old + text, overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
