"""Pick the torch device explicitly: cuda, then mps, then cpu. Never a default of "cuda"."""

from __future__ import annotations

import torch

from voicemend.engine.errors import VoicemendError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; a named device must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise VoicemendError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise VoicemendError("device 'cuda' was asked for, but no CUDA GPU is available")
    if kind == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise VoicemendError("device 'mps' was asked for, but Apple MPS is not available")
    return torch.device(name)
