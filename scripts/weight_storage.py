"""Does int8 weight storage change what the shipped neural methods do? Compare on dev cases.

    .venv/bin/python scripts/weight_storage.py [--files 20] [--gap-ms 100,200,400] [--out FILE]

Each shipped model is written twice into a temporary folder, as float16 and with ``voicemend
models ship --storage int8``'s encoding (large matrices as int8 with a scale per row), both from
the weights as loaded (a model shipped as int8 is read back first, so its two copies differ only
where re-encoding does), and ``neural``, ``neural-ipt`` and ``neural-mel`` repair the quality
bench's cases (one seeded position per gap length, the first N dev files) with each. The table
gives the file sizes, the fill's SNR of int8 against float16 inside the gap, and both versions'
mean PLCMOS and PESQ-WB.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from voicemend.engine.audio import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.evaluation import scores as S
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.inpaint.neural import (
    Neural,
    NeuralInpainter,
    NeuralIpt,
    NeuralMel,
    NeuralModels,
)
from voicemend.engine.io import write_text_atomic
from voicemend.engine.models.checkpoint import load_weights
from voicemend.engine.models.hubert import HubertEncoder
from voicemend.engine.models.mel_transformer import MelTransformer
from voicemend.engine.models.shipped import copy_weights, manifest, verified_folder
from voicemend.engine.models.vocos import VocosDecoder

RATE = 16_000


def stored_copies(name: str, root: Path, storages: tuple[str, ...]) -> dict[str, Path]:
    """The shipped model ``name`` with its weights (read once, as loaded) written as each of
    ``storages``, in ``root / storage / name``, by the same code as ``voicemend models ship
    --storage``."""
    source = verified_folder(name)
    loaded = root / f"{name}.float32.safetensors"
    save_file(load_weights(source / "model.safetensors"), str(loaded))
    targets = {}
    for storage in storages:
        target = targets[storage] = root / storage / name
        target.mkdir(parents=True)
        shutil.copy(source / "config.json", target / "config.json")
        copy_weights(loaded, target / "model.safetensors", storage)
    loaded.unlink()
    return targets


def methods(folder: Callable[[str], Path]) -> dict[str, NeuralInpainter]:
    return {
        "neural": Neural(NeuralModels.from_folders(folder("ift"), folder("decoder")), "cpu"),
        "neural-ipt": NeuralIpt(
            HubertEncoder.from_pretrained(folder("ipt-encoder")),
            VocosDecoder.from_pretrained(folder("ipt-decoder")),
            "cpu",
        ),
        "neural-mel": NeuralMel(
            MelTransformer.from_pretrained(folder("mel")),
            VocosDecoder.from_pretrained(folder("mel-decoder")),
            "cpu",
        ),
    }


def compare(files: int, gaps_ms: tuple[int, ...], root: Path) -> tuple[str, str]:
    """(sizes table, scores table) in Markdown."""
    names = [n for n, m in manifest().items() if "model.safetensors" in m.files]  # networks only
    stored = {n: stored_copies(n, root, ("float16", "int8")) for n in names}
    halves = {n: s["float16"] for n, s in stored.items()}
    copies = {n: s["int8"] for n, s in stored.items()}
    size_rows = ["| model | float16 bytes | int8 bytes | ratio |", "|---|---|---|---|"]
    for n in names:
        a = (halves[n] / "model.safetensors").stat().st_size
        b = (copies[n] / "model.safetensors").stat().st_size
        size_rows.append(f"| {n} | {a:,} | {b:,} | {b / a:.2f} |")
    shipped, int8 = methods(halves.__getitem__), methods(copies.__getitem__)
    config = QualityConfig(gaps_ms=gaps_ms, positions_short=1, positions_long=1)
    rows: dict[tuple[str, int], list[tuple[float, ...]]] = {}
    for case, clean, gap in iter_excerpts(list_speech(split="dev")[:files], RATE, config):
        damaged = clean.copy()
        damaged[gap.start : gap.end] = 0.0
        inside = slice(gap.start, gap.end)
        for m in shipped:
            a = shipped[m](Audio.from_array(damaged, RATE), [gap]).samples[0]
            b = int8[m](Audio.from_array(damaged, RATE), [gap]).samples[0]
            noise = max(float(np.sum((a[inside] - b[inside]) ** 2)), 1e-20)
            snr = 10 * np.log10(max(float(np.sum(a[inside] ** 2)), 1e-20) / noise)
            rows.setdefault((m, case.gap_ms), []).append(
                (
                    snr,
                    S.plcmos(a),
                    S.plcmos(b),
                    S.pesq_score(clean, a, RATE),
                    S.pesq_score(clean, b, RATE),
                )
            )
    lines = [
        "| method | gap | cases | fill SNR, int8 vs float16: median / min | PLCMOS float16 / int8"
        " | PESQ-WB float16 / int8 |",
        "|---|---|---|---|---|---|",
    ]
    for (m, g), r in sorted(rows.items()):
        v = np.array(r)
        lines.append(
            f"| {m} | {g} ms | {len(v)} | {np.median(v[:, 0]):.1f} / {v[:, 0].min():.1f} dB"
            f" | {v[:, 1].mean():.3f} / {v[:, 2].mean():.3f}"
            f" | {np.nanmean(v[:, 3]):.3f} / {np.nanmean(v[:, 4]):.3f} |"
        )
    return "\n".join(size_rows), "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=20, help="the first N dev files")
    p.add_argument("--gap-ms", default="100,200,400", help="comma-separated gap lengths")
    p.add_argument("--out", type=Path, default=None, help="write the tables here (new file)")
    a = p.parse_args(argv)
    try:
        gaps = tuple(int(g) for g in a.gap_ms.split(",") if g)
    except ValueError:
        p.error(f"--gap-ms takes whole milliseconds separated by commas, not {a.gap_ms!r}")
    if a.files < 1 or not gaps or min(gaps) < 5:
        p.error("--files must be at least 1 and every --gap-ms at least 5")
    if a.out is not None and a.out.exists():
        p.error(f"{a.out} exists; choose a new file")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        text = "\n\n".join(compare(a.files, gaps, Path(tmp)))
    if a.out is not None:  # the sizes, a blank line, the scores
        write_text_atomic(a.out, text + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
