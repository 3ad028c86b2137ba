"""Model cards: what a shipped model is, what it was trained on, for how long, and how it scores."""

from __future__ import annotations

import json
import math
from pathlib import Path

from voicemend.engine.models.quantize import SCALE_SUFFIX

DATA_SOURCES = """\
| source | part used | licence |
|---|---|---|
| LibriSpeech (Panayotov et al. 2015) | train-clean-100 (251 files), train-clean-5 | CC BY 4.0 |
| CSTR VCTK Corpus (Veaux, Yamagishi, MacDonald) | 13 speakers | CC BY 4.0 |
| LJ Speech (Ito and Johnson, 2017) | LJ001-0001 to LJ002-0089 (11 held out) | public domain |

2.8 hours, 944 files, 16 kHz, the `train` split of `shared/data/speech` (its README has the
provenance). The dev split (LibriSpeech test-other, 10 speakers) is never used for training."""


def training_summary(run_dir: Path) -> dict[str, object]:
    """Steps, hours and recipe settings from a run folder's checkpoint state."""
    state_path = run_dir / "checkpoint" / "state.json"
    if not state_path.exists():
        return {}
    state = json.loads(state_path.read_text(encoding="utf-8"))
    hours = round(float(state.get("train_seconds", 0)) / 3600, 2)
    return {"steps": state.get("step"), "train_hours": hours, "config": state.get("config", {})}


def write_card(
    folder: Path,
    name: str,
    kind: str,
    summary: dict[str, object],
    bench_markdown: str = "",
    notes: str = "",
    hardware: str = "one CPU thread",
    storage: str = "float16",
) -> Path:
    """MODEL_CARD.md beside the weights (stored as ``storage``: float16, int8 or float32)."""
    config = summary.get("config", {}) if isinstance(summary.get("config"), dict) else {}
    params = _parameter_count(folder)
    predictor = config.get("predictor")
    tuned = (
        f"- ground-truth-aligned: trained on the gap frames predicted by `{predictor}` "
        "(frozen), so that it voices that predictor's output\n"
        if predictor
        else ""
    )
    text = f"""# voicemend model: {name}

- kind: `{kind}`; parameters: {params:,}
- recipe: `{config.get("recipe", "?")}`; steps: {summary.get("steps", "?")}; training time:
  {summary.get("train_hours", "?")} h of optimiser steps on {hardware} ({storage} weights)
- sample rate: 16 kHz (other rates are resampled around it by the inpainter)
- files: `config.json` (architecture), `model.safetensors` (weights; sha256 in `../manifest.json`)
{tuned}
## Training data

{DATA_SOURCES}

Augmentation: gain, additive white/pink noise (15-45 dB SNR), synthetic reverberation (RT60
0.1-0.5 s) and band-limiting (3.5-7.5 kHz low-pass).

## Training settings

```json
{json.dumps(config.get("train", {}), indent=2)}
```

## Bench

{bench_markdown or "Not benched yet."}

{notes}
"""
    path = folder / "MODEL_CARD.md"
    path.write_text(text, encoding="utf-8")
    return path


def _parameter_count(folder: Path) -> int:
    weights = folder / "model.safetensors"
    if not weights.exists():
        return 0
    from safetensors import safe_open

    with safe_open(str(weights), framework="np") as f:
        return sum(
            math.prod(f.get_slice(key).get_shape())
            for key in f.keys()  # noqa: SIM118
            if not key.endswith(SCALE_SUFFIX)  # int8 storage's scales are not parameters
        )
