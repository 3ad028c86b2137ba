"""Whether batching regions pays on the GPU: the repair time of a 2-minute 44.1 kHz stereo
podcast's detected dropouts, models loaded and warm, with 16 regions per batch and with one.

    python scripts/gpu_batching.py [SPEECH_DIR]

Times each neural method on cuda and on the CPU (all threads). Needs a CUDA GPU.
"""

import sys
import time

from voicemend.engine.data import list_speech
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.evaluation.speed import build_podcast, concatenated_speech
from voicemend.engine.inpaint import INPAINTERS, get_inpainter

MINUTES = 2.0
DROPOUTS = 40


def main(root: str | None) -> None:
    speech = concatenated_speech(list_speech(root, split="dev"), 125)
    audio, truth = build_podcast(speech, MINUTES, DROPOUTS, 0)
    regions = [d.region for d in DropoutDetector()(audio)]
    print(len(truth), "injected", len(regions), "detected", flush=True)
    for method in (m for m in ("neural-mel", "hybrid", "neural", "neural-ipt") if m in INPAINTERS):
        for device in ("cuda", "cpu"):
            inpainter = get_inpainter(method, device=device)
            inpainter.inpaint(audio, regions[:3])  # warm-up: load, move to the device
            for batch in (16, 1):
                inpainter.max_batch = batch
                t0 = time.perf_counter()
                inpainter.inpaint(audio, regions)
                seconds = time.perf_counter() - t0
                print(
                    f"{method} {device} max_batch={batch}: {seconds:.2f} s "
                    f"for {len(regions)} regions",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
