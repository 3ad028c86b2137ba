"""Is the mel predictor over-fitting, or still learning? Its gap loss on train and dev crops.

    .venv/bin/python scripts/mel_fit.py [CHECKPOINT ...] [--batches 40] [--files N] [--out FILE]

For each predictor (the shipped ``engine/weights/mel``, then any ``voicemend train mel``
checkpoint folder given) and for a straight line drawn across each gap in log-mel (what the
predictor starts from: its output layer is zero-initialised), the mean L1 over the hidden frames
of the same seeded crops and gaps that training draws (3 s crops, one 20-500 ms gap), without
augmentation, on the train split and on the dev split. A predictor that over-fits its 2.8 h would
do much better on train than on dev relative to the line; one that does about as well on both is
limited by what it has learnt, not by the data it has seen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from voicemend.engine.data import list_speech
from voicemend.engine.io import write_text_atomic
from voicemend.engine.models.checkpoint import WEIGHTS_NAME, load_weights
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import heard_frames
from voicemend.engine.models.mel_transformer import MelTransformer, MelTransformerConfig
from voicemend.engine.models.shipped import verified_folder
from voicemend.engine.training.data import SpeechPool, random_batch
from voicemend.engine.training.ift import gap_masks
from voicemend.engine.training.mel import MelTrainConfig, mel_loss, recorded_model

SEED = 11


def load_predictor(folder: Path, config: MelTransformerConfig) -> MelTransformer:
    """A ``train mel`` checkpoint's weights, as the model its ``state.json`` records (any
    ``--size``), else in ``config`` (the shipped architecture)."""
    model = MelTransformer(recorded_model(folder) or config)
    model.load_state_dict(load_weights(folder / WEIGHTS_NAME))
    return model.eval()


def gap_l1(
    models: dict[str, MelTransformer],
    split: str,
    batches: int,
    config: MelTransformerConfig,
    files: int | None = None,
) -> dict[str, list[float]]:
    """name -> per-batch mean L1 on the hidden frames, same crops and gaps for every model."""
    train = MelTrainConfig()
    mel = LogMel(config.mel)
    sr, hop = config.mel.sample_rate, config.mel.hop_length
    n = int(train.window_s * sr) // hop * hop
    pool = SpeechPool(list_speech(split=split)[:files], sr)
    rng = np.random.default_rng(SEED)
    out: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for _ in range(batches):
            wave = torch.from_numpy(random_batch(pool, n, train.batch_size, rng, None))
            gap = torch.from_numpy(gap_masks(train.batch_size, n, sr, train, rng))
            target = mel(wave)
            hidden = heard_frames(gap, target.shape[-1], mel.config)
            for name, model in models.items():
                loss = mel_loss(model(target, hidden), target, hidden, train.delta_weight)
                out[name].append(float(loss["l1_gap"]))
    return out


def table(results: dict[str, dict[str, list[float]]]) -> str:
    splits = list(results)
    names = list(next(iter(results.values())))
    lines = [
        "| predictor | "
        + " | ".join(f"gap L1, {s}" for s in splits)
        + " | "
        + " | ".join(f"under the line, {s}" for s in splits)
        + " |",
        "|---|" + "---|" * (2 * len(splits)),
    ]
    for name in names:
        cells = []
        for s in splits:
            v = np.array(results[s][name])
            cells.append(f"{v.mean():.3f} ± {1.96 * v.std(ddof=1) / np.sqrt(v.size):.3f}")
        for s in splits:
            ratio = 1.0 - np.mean(results[s][name]) / np.mean(results[s]["straight line"])
            cells.append(f"{100 * ratio:.1f}%")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    n = len(next(iter(results.values()))["straight line"])
    return "\n".join(lines) + (
        f"\n\nMean over {n} batches of {MelTrainConfig().batch_size} seeded 3 s crops per split"
        " (± 95% interval over batches), no augmentation."
    )


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="*", type=Path, help="train mel checkpoint folders")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--files", type=int, default=None, help="only the first N files per split")
    p.add_argument("--out", type=Path, default=None, help="write the table here (new file)")
    a = p.parse_args(argv)
    if a.batches < 2 or (a.files is not None and a.files < 1):
        p.error("--batches must be at least 2 and --files at least 1")
    for folder in a.checkpoints:
        if not (folder / WEIGHTS_NAME).is_file():
            p.error(f"{folder} holds no model.safetensors")
    if a.out is not None and a.out.exists():
        p.error(f"{a.out} exists; choose a new file")
    torch.manual_seed(0)
    shipped = MelTransformer.from_pretrained(verified_folder("mel"))
    config = shipped.config
    models = {"straight line": MelTransformer(config).eval()}  # zero output layer: the line
    models["shipped"] = shipped
    for folder in a.checkpoints:
        models[str(folder)] = load_predictor(folder, config)
    results = {s: gap_l1(models, s, a.batches, config, a.files) for s in ("train", "dev")}
    text = table(results)
    print(text)
    if a.out is not None:
        write_text_atomic(a.out, text + "\n")
    return text


if __name__ == "__main__":
    main()
