"""Safe weight files: safetensors (or weights-only torch.load) next to a config JSON."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from voicemend.engine.errors import CheckpointError
from voicemend.engine.models.quantize import dequantize
from voicemend.engine.models.shipped import sha256_of

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


def save_state(
    folder: str | os.PathLike[str], state: dict[str, torch.Tensor], config: dict[str, Any]
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``folder`` (atomically, each)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{WEIGHTS_NAME}.part"
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp))
    os.replace(tmp, out / WEIGHTS_NAME)
    tmp_cfg = out / f".{CONFIG_NAME}.part"
    tmp_cfg.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp_cfg, out / CONFIG_NAME)
    return out


def load_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / CONFIG_NAME
    if not path.exists():
        raise CheckpointError(f"{path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return data


def load_weights(
    path: str | os.PathLike[str], expected_sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file, or from a PyTorch file with ``weights_only=True``.

    Pickles that would run code (custom classes, functions) are refused.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint file")
    if expected_sha256 is not None and sha256_of(p) != expected_sha256:
        raise CheckpointError(
            f"{p} does not match its recorded sha256; the file is corrupt or altered"
        )
    if p.suffix == ".safetensors":
        try:
            with safe_open(str(p), framework="pt") as f:
                metadata = f.metadata()
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
            return dequantize(tensors, metadata)
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"cannot read {p}: {exc}") from None
    try:
        data = torch.load(str(p), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as exc:
        raise CheckpointError(
            f"refusing to load {p}: it is not a plain weights file ({str(exc).splitlines()[0]})"
        ) from None
    return data
