"""Paste-back of a repaired span with equal-power crossfades; every other sample is untouched."""

from __future__ import annotations

import numpy as np

MAX_CROSSFADE_MS = 10.0


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
    the gap the fill replaces the samples; in the fade zones it is blended with an equal-power
    crossfade. Nothing outside that span is written.
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
    if fade_left:
        fade_in, fade_out = equal_power_ramp(fade_left)
        orig = target[:, gap_start - fade_left : gap_start].astype(np.float64)
        blended = orig * fade_out + fill[:, :fade_left] * fade_in
        target[:, gap_start - fade_left : gap_start] = blended
    if fade_right:
        fade_in, fade_out = equal_power_ramp(fade_right)
        orig = target[:, gap_end : gap_end + fade_right].astype(np.float64)
        blended = fill[:, fade_left + n_gap :] * fade_out + orig * fade_in
        target[:, gap_end : gap_end + fade_right] = blended
