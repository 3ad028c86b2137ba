"""Is a newly trained mel predictor better than the shipped one? Score both on dev cases.

    .venv/bin/python scripts/compare_mel_predictor.py CHECKPOINT [--files START:COUNT]
        [--gap-ms 100,200,300,400] [--decoder mel-decoder|decoder|DIR] [--postfilter] [--hybrid]
        [--out FILE]

CHECKPOINT is a run's ``checkpoint/`` (or ``export/``) folder from ``voicemend train mel``: its
``model.safetensors`` is read with the model settings the checkpoint records (any
``--size``), or the shipped predictor's when it records none. The cases are the quality
bench's (one seeded position per gap length) on dev files START..START+COUNT; each gap is
repaired by ``lsar``, ``pattern``, the shipped ``neural-mel`` and the candidate (voiced by the
shipped ``mel-decoder`` unless ``--decoder`` names another), and scored with PLCMOS and PESQ-WB.
``--postfilter`` runs the candidate with the global-variance post-filter (``MEL_POSTFILTER``) and
adds the shipped pair with it as a row; ``--hybrid`` adds ``hybrid`` with the shipped predictor and
with the candidate (LSAR under 700 Hz, the predictor's fill above).
Prints (and with ``--out`` writes) a Markdown table of means. It is a quick screen before the full
``voicemend bench quality --rescore neural-mel`` that a candidate must pass to ship.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import numpy as np
import torch

from voicemend.engine.audio import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.evaluation import scores as S
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.inpaint.crossover import Crossover
from voicemend.engine.inpaint.lsar import Lsar
from voicemend.engine.inpaint.neural import MEL_POSTFILTER, NeuralMel, ShippedNeuralMel
from voicemend.engine.io import write_text_atomic
from voicemend.engine.models.checkpoint import load_config, load_weights
from voicemend.engine.models.mel_transformer import MelTransformer, MelTransformerConfig
from voicemend.engine.models.shipped import verified_folder
from voicemend.engine.models.vocos import VocosDecoder
from voicemend.engine.training.mel import recorded_model

RATE = 16_000


def candidate(checkpoint: Path, decoder: str, postfilter: bool = False) -> NeuralMel:
    """The checkpoint's predictor and the named decoder. The model is the one the checkpoint
    records (a run's ``state.json`` or an export's ``config.json``: any ``--size``), else the
    shipped predictor's."""
    config = recorded_model(checkpoint) or MelTransformerConfig.from_dict(
        load_config(verified_folder("mel"))
    )
    predictor = MelTransformer(config)
    predictor.load_state_dict(load_weights(checkpoint / "model.safetensors"))
    folder = Path(decoder) if Path(decoder).is_dir() else verified_folder(decoder)
    return NeuralMel(
        predictor.eval(),
        VocosDecoder.from_pretrained(folder),
        device="cpu",
        postfilter=MEL_POSTFILTER if postfilter else None,
    )


def compare(
    checkpoint: Path,
    start: int,
    count: int,
    gaps_ms: tuple[int, ...],
    decoder: str,
    postfilter: bool = False,
    hybrid: bool = False,
) -> dict[tuple[str, int], list[tuple[float, float]]]:
    """(method, gap ms) -> [(PLCMOS, PESQ)] over the cases."""
    methods = {
        "lsar": get_inpainter("lsar"),
        "pattern": get_inpainter("pattern"),
        "neural-mel (shipped)": get_inpainter("neural-mel", device="cpu"),
    }
    if postfilter:
        methods["neural-mel (shipped, post-filter)"] = ShippedNeuralMel(
            "cpu", postfilter=MEL_POSTFILTER
        )
    label = f"candidate ({decoder}{', post-filter' if postfilter else ''})"
    methods[label] = candidate(checkpoint, decoder, postfilter)
    if hybrid:  # the predictor as hybrid's high band, where it ships for long gaps
        methods["hybrid (shipped)"] = get_inpainter("hybrid", device="cpu")
        methods["hybrid (candidate)"] = Crossover(Lsar(), methods[label])
    config = QualityConfig(gaps_ms=gaps_ms, positions_short=1, positions_long=1)
    files = list_speech(split="dev")[start : start + count]
    scores: dict[tuple[str, int], list[tuple[float, float]]] = collections.defaultdict(list)
    for case, clean, gap in iter_excerpts(files, RATE, config, first_index=start):
        damaged = clean.copy()
        damaged[gap.start : gap.end] = 0.0
        for name, method in methods.items():
            y = method(Audio.from_array(damaged, RATE), [gap]).samples[0]
            scores[(name, case.gap_ms)].append((S.plcmos(y), S.pesq_score(clean, y, RATE)))
    return scores


def markdown(scores: dict[tuple[str, int], list[tuple[float, float]]]) -> str:
    names = list(dict.fromkeys(name for name, _ in scores))
    gaps = sorted({gap for _, gap in scores})
    head = " | ".join(f"{g} ms" for g in gaps)
    lines = [f"| method: PLCMOS / PESQ | {head} |", "|---|" + "---|" * len(gaps)]
    for name in names:
        cells = []
        for g in gaps:
            values = np.array(scores[(name, g)])
            cells.append(f"{values[:, 0].mean():.3f} / {values[:, 1].mean():.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    n = ", ".join(f"{g} ms: {len(scores[(names[0], g)])}" for g in gaps)
    return "\n".join([*lines, "", f"cases per cell: {n}", ""])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--files", default="0:20", help="START:COUNT of the dev files")
    parser.add_argument("--gap-ms", default="100,200,300,400")
    parser.add_argument("--decoder", default="mel-decoder")
    parser.add_argument("--postfilter", action="store_true", help="candidate with MEL_POSTFILTER")
    parser.add_argument("--hybrid", action="store_true", help="add hybrid, shipped and candidate")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not (args.checkpoint / "model.safetensors").is_file():
        parser.error(f"{args.checkpoint} holds no model.safetensors")
    if args.out is not None and args.out.exists():
        parser.error(f"{args.out} exists; name another file")
    start, count = (int(v) for v in args.files.split(":"))
    gaps = tuple(int(g) for g in args.gap_ms.split(","))
    torch.set_num_threads(1)
    table = markdown(
        compare(args.checkpoint, start, count, gaps, args.decoder, args.postfilter, args.hybrid)
    )
    print(table)
    if args.out is not None:
        write_text_atomic(args.out, table)
    return table


if __name__ == "__main__":
    main()
