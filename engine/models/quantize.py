"""Weights stored as int8 with one float32 scale per output row: a quarter of float32's size.

The shipped models must fit 50 MB in all; int8 storage is what lets a larger model ship. Only
large matrices are quantised (linear and convolution weights); biases, norms and small tensors
keep float16. Loading turns everything back into float32, so models and their callers never see
int8. A file says it holds such weights in its safetensors metadata; without that mark nothing
is touched, so real third-party checkpoints load exactly as written.
"""

from __future__ import annotations

import torch

QUANTIZATION_KEY = "voicemend.quantization"
INT8_ROWS = "int8-rows"
SCALE_SUFFIX = ".int8_scale"
MIN_QUANTIZED_ELEMENTS = 4096  # smaller tensors save too little to be worth the error


def quantize_int8(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors to save, safetensors metadata): every float matrix of at least
    ``MIN_QUANTIZED_ELEMENTS`` as int8 plus a per-row scale, other floats as float16."""
    out: dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            raise ValueError(f"tensor name {name!r} ends with the reserved {SCALE_SUFFIX!r}")
        if not t.is_floating_point():
            out[name] = t
        elif t.ndim >= 2 and t.numel() >= MIN_QUANTIZED_ELEMENTS:
            rows = t.detach().float().reshape(t.shape[0], -1)
            scale = rows.abs().amax(dim=1).clamp(min=1e-12) / 127.0
            out[name] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(t.shape)
            out[name + SCALE_SUFFIX] = scale
        else:
            out[name] = t.detach().half()
    return out, {QUANTIZATION_KEY: INT8_ROWS}


def dequantize(
    tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None
) -> dict[str, torch.Tensor]:
    """float32 tensors from a file written by :func:`quantize_int8`; others unchanged."""
    if not metadata or metadata.get(QUANTIZATION_KEY) != INT8_ROWS:
        return tensors
    out: dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = tensors.get(name + SCALE_SUFFIX)
        if scale is not None:
            if t.dtype != torch.int8 or scale.numel() != t.shape[0]:
                raise ValueError(f"{name}: an int8 tensor needs one scale per row")
            shape = (-1,) + (1,) * (t.ndim - 1)
            out[name] = t.float() * scale.float().reshape(shape)
        elif t.is_floating_point():
            out[name] = t.float()
        else:
            out[name] = t
    return out
