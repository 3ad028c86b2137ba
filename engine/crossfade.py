"""Paste-back of a repaired span with equal-power crossfades; every other sample is untouched."""

from __future__ import annotations

import numpy as np

MAX_CROSSFADE_MS = 10.0


def adaptive_ramp(n_frames: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power-preserving (fade_in, fade_out) for fading from ``a`` to ``b``.

    Equal-power weights are right for uncorrelated signals but add up to 3 dB where the two are
    in phase, as a periodic continuation is with the audio it replaces. The weights are scaled by
    the measured correlation ρ so that w_in² + w_out² + 2ρ·w_in·w_out = 1: equal power at ρ = 0,
    a linear fade at ρ = 1.
    """
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    rho = float(np.clip(np.dot(a, b) / denom, 0.0, 1.0)) if denom > 0 else 0.0
    t = (np.arange(n_frames) + 0.5) / max(n_frames, 1)
    gain = 1.0 / np.sqrt(t**2 + (1 - t) ** 2 + 2 * rho * t * (1 - t))
    return t * gain, (1 - t) * gain


def equal_power_ramp(n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_in, fade_out) weights with fade_in² + fade_out² = 1, sampled at frame centres."""
    theta = (np.arange(n_frames) + 0.5) / max(n_frames, 1) * (np.pi / 2)
    return np.sin(theta), np.cos(theta)


def paste(
    target: np.ndarray,
    fill: np.ndarray,
    gap_start: int,
    gap_end: int,
    fade_left: int,
    fade_right: int,
) -> None:
    """Write ``fill`` into ``target`` over ``[gap_start - fade_left, gap_end + fade_right)``.

    ``target`` is (channels, frames); ``fill`` is (channels, fade_left + gap + fade_right). Inside
    the gap the fill replaces the samples; in the fade zones it is blended with a power-preserving
    crossfade (equal power for uncorrelated signals, see :func:`adaptive_ramp`), per channel.
    Nothing outside that span is written.
    """
    n_gap = gap_end - gap_start
    if fill.shape != (target.shape[0], fade_left + n_gap + fade_right):
        raise ValueError(
            f"fill has shape {fill.shape}, expected "
            f"{(target.shape[0], fade_left + n_gap + fade_right)}"
        )
    if gap_start - fade_left < 0 or gap_end + fade_right > target.shape[1]:
        raise ValueError("crossfade zone runs outside the audio")
    target[:, gap_start:gap_end] = fill[:, fade_left : fade_left + n_gap]
    for ch in range(target.shape[0]):
        if fade_left:
            orig = target[ch, gap_start - fade_left : gap_start].astype(np.float64)
            new = fill[ch, :fade_left]
            fade_in, fade_out = adaptive_ramp(fade_left, orig, new)
            target[ch, gap_start - fade_left : gap_start] = orig * fade_out + new * fade_in
        if fade_right:
            orig = target[ch, gap_end : gap_end + fade_right].astype(np.float64)
            new = fill[ch, fade_left + n_gap :]
            fade_in, fade_out = adaptive_ramp(fade_right, new, orig)
            target[ch, gap_end : gap_end + fade_right] = new * fade_out + orig * fade_in
