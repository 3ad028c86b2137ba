"""How far the GPU (fp16) fill is from the CPU (fp32) fill, per neural method, on dev speech.

    python scripts/gpu_agreement.py [SPEECH_DIR]

Prints one timed call per device (after a warm-up) and the SNR of the GPU fill against the CPU
fill inside a 200 and a 400 ms gap. Needs a CUDA GPU.
"""

import sys
import time

import numpy as np

from voicemend.engine import Audio, Region, load
from voicemend.engine.data import list_speech
from voicemend.engine.inpaint import INPAINTERS, get_inpainter

RATE = 16_000
NEURAL = ("neural", "neural-ipt", "neural-mel", "hybrid")


def main(root: str | None) -> None:
    files = list_speech(root, split="dev")[:3]
    x = np.concatenate([load(f.path).to_mono().resampled(RATE).samples[0] for f in files])
    x = x[: 6 * RATE]
    for gap_ms in (200, 400):
        gap = Region(3 * RATE, 3 * RATE + gap_ms * RATE // 1000)
        damaged = x.copy()
        damaged[gap.start : gap.end] = 0
        audio = Audio.from_array(damaged, RATE)
        for method in (m for m in NEURAL if m in INPAINTERS):
            fills = {}
            for device in ("cpu", "cuda"):
                inpainter = get_inpainter(method, device=device)
                inpainter.inpaint(audio, [gap])
                t0 = time.perf_counter()
                out = inpainter.inpaint(audio, [gap]).audio.samples[0, gap.start : gap.end]
                print(f"{method} {gap_ms} ms {device}: {1000 * (time.perf_counter() - t0):.1f} ms")
                fills[device] = out
            error = np.sum((fills["cpu"] - fills["cuda"]) ** 2)
            snr = 10 * np.log10(np.sum(fills["cpu"] ** 2) / max(error, 1e-20))
            print(f"{method} {gap_ms} ms: cpu-vs-cuda SNR in gap {snr:.1f} dB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
