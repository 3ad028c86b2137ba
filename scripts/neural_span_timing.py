"""How much does voicing only the frames around a gap save? An interleaved A/B on one thread.

    .venv/bin/python scripts/neural_span_timing.py [--method neural-mel] [--repeats 12]

Repairs one gap (20 / 200 / 400 ms, 2 s of the first dev file around it) at 16 kHz mono and
48 kHz stereo, alternating the shipped behaviour (the decoder voices the gap's span and
``VOICED_MARGIN_MS`` either side) with voicing the whole context window, as before. Prints the
median milliseconds of each, leaving out the first two repeats. Both run in one process, one
after the other, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import voicemend.engine.inpaint.neural as neural
from voicemend.engine.audio import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import load
from voicemend.engine.rates import to_rate
from voicemend.engine.regions import Region


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--method", default="neural-mel", choices=["neural-mel", "neural", "neural-ipt"])
    p.add_argument("--repeats", type=int, default=12)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    source = load(list_speech(split="dev")[0].path)
    mono = source.samples[0]
    inpainter = get_inpainter(a.method, device="cpu")
    around = neural._voiced_span
    print("| rate | channels | gap | around the gap (ms) | whole window (ms) |")
    print("|---|---|---|---|---|")
    try:
        for rate, channels in [(16000, 1), (48000, 2)]:
            x = to_rate(mono[: int(4.6 * source.sample_rate)], source.sample_rate, rate)
            audio = Audio.from_array(np.stack([x] * channels).astype(np.float32), rate)
            for gap_ms in (20, 200, 400):
                start = int(2.0 * rate)
                regions = [Region(start, start + int(gap_ms * rate / 1000))]
                times: dict[str, list[float]] = {"around": [], "whole": []}
                for _ in range(a.repeats):
                    for mode in times:
                        neural._voiced_span = around if mode == "around" else _whole
                        t0 = time.perf_counter()
                        inpainter(audio, regions)
                        times[mode].append(time.perf_counter() - t0)
                ms = {k: 1000 * float(np.median(v[2:] or v)) for k, v in times.items()}
                cells = f"{ms['around']:.1f} | {ms['whole']:.1f}"
                print(f"| {rate} Hz | {channels} | {gap_ms} ms | {cells} |")
    finally:
        neural._voiced_span = around
    return 0


def _whole(ctx: object, n16: int) -> tuple[int, int]:
    return 0, n16


if __name__ == "__main__":
    raise SystemExit(main())
