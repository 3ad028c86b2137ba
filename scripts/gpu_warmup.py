"""What a GPU's first sight of each input shape costs the neural repair, with and without the
shape buckets (``NeuralInpainter.shape_buckets``: batches padded to a power of two, decoded spans
rounded to whole buckets).

    python scripts/gpu_warmup.py [SPEECH_DIR] [--methods neural-mel,hybrid] [--batches 16,1]
        [--device cuda]

Each setting runs in a fresh process: load the model, repair one region (a user's first
repair, which also pays for starting CUDA), then repair the 2-minute 44.1 kHz stereo podcast's
detected dropouts twice. The first pass meets the shapes for the first time, the second has
them warm; their difference is what the shapes cost. Prints one JSON line per setting.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def measure(
    root: str | None,
    method: str,
    device: str,
    buckets: bool,
    max_batch: int,
    minutes: float = 2.0,
    dropouts: int = 40,
) -> dict:
    from voicemend.engine.data import list_speech
    from voicemend.engine.detect import DropoutDetector
    from voicemend.engine.evaluation.speed import build_podcast, concatenated_speech
    from voicemend.engine.inpaint import get_inpainter

    speech = concatenated_speech(list_speech(root, split="dev"), 125)
    audio, _ = build_podcast(speech, minutes, dropouts, 0)
    regions = [d.region for d in DropoutDetector()(audio)]
    t0 = time.perf_counter()
    inpainter = get_inpainter(method, device=device)
    neural = getattr(inpainter, "high", inpainter)  # hybrid: its neural half is the high band
    for part in {id(inpainter): inpainter, id(neural): neural}.values():
        if hasattr(part, "shape_buckets"):
            part.shape_buckets = buckets
        part.max_batch = max_batch
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    inpainter.inpaint(audio, regions[:1])
    first_s = time.perf_counter() - t0
    passes = []
    for _ in range(2):
        t0 = time.perf_counter()
        inpainter.inpaint(audio, regions)
        passes.append(time.perf_counter() - t0)
    return {
        "method": method,
        "device": device,
        "shape_buckets": buckets,
        "max_batch": max_batch,
        "regions": len(regions),
        "load_s": round(load_s, 3),
        "first_region_s": round(first_s, 3),
        "cold_pass_s": round(passes[0], 3),
        "warm_pass_s": round(passes[1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?")
    parser.add_argument("--methods", default="neural-mel,hybrid")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", default="16,1", help="regions a batch, per setting")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # method:buckets:max_batch, in a child
    args = parser.parse_args()
    if args.one:
        method, buckets, max_batch = args.one.split(":")
        row = measure(args.root, method, args.device, buckets == "1", int(max_batch))
        print(json.dumps(row), flush=True)
        return
    for method in args.methods.split(","):
        for max_batch in args.batches.split(","):
            for buckets in ("0", "1"):
                child = [sys.executable, __file__, "--device", args.device]
                child += ["--one", f"{method}:{buckets}:{max_batch}"]
                child += [args.root] if args.root else []
                done = subprocess.run(child, capture_output=True, text=True)
                lines = done.stdout.strip().splitlines()
                print(lines[-1] if done.returncode == 0 and lines else done.stderr[-2000:])
                sys.stdout.flush()


if __name__ == "__main__":
    main()
