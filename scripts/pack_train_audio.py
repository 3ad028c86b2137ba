"""Pack the train split of the speech corpus as Opus, to carry it to a lent GPU machine.

The 2.8 h train split is about 320 MB as 16-bit PCM and over 150 MB as FLAC; a lent machine takes
64 MB in all. Opus at compression level 0.86 (about 41 kbit/s) put it in 51 MB here and moves
the log-mel frames the predictor learns from by about 0.12 (natural-log units) on average, less
than the noise the training augmentation adds; level 0.9 (about 31 kbit/s, 39 MB) moves them by
about 0.18 on 40 files, and leaves room beside it for the mel models (scripts/gpu_session.sh).
Train on it only where the full corpus cannot go, and judge the result on the real dev audio
(scripts/compare_mel_predictor.py). ``--split dev --limit 20`` packs the files the GPU speed
bench reads.

    python scripts/pack_train_audio.py OUT_DIR [--data DIR] [--level 0.86] [--split train]
        [--limit N] [--workers N]
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import soundfile as sf

from voicemend.engine.data import list_speech


def pack(item: tuple[int, Path], out: Path, level: float) -> int:
    i, path = item
    x, sr = sf.read(path, dtype="float32")
    target = out / f"{i:05d}-{path.stem}.ogg"
    part = target.with_suffix(".part")
    sf.write(part, x, sr, format="OGG", subtype="OPUS", compression_level=level)
    part.replace(target)
    return target.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, help="speech folder (default ../shared/data/speech)")
    parser.add_argument("--level", type=float, default=0.86, help="Opus compression 0..1")
    parser.add_argument("--split", default="train", help="the manifest's split to pack")
    parser.add_argument("--limit", type=int, help="only the split's first N files")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = [f.path for f in list_speech(args.data, split=args.split)][: args.limit]
    with ProcessPoolExecutor(args.workers) as pool:
        sizes = list(pool.map(partial(pack, out=args.out, level=args.level), enumerate(files)))
    print(f"packed {len(files)} files into {sum(sizes) / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
