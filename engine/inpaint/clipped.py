"""Clipped runs: the waveform went past the rail, so a repair there must not come out under it.

A fill for a clipped peak is a guess at a waveform that was cut off. Where the guess comes out
under the rail (or on the other side of zero) it is further from the truth than the clipped
samples were, so each sample at the rail keeps at least its clipped value, on its side: the
consistency constraint of declipping (Adler et al., 2012, "A constrained matching pursuit
approach to audio declipping"). On 8 dev files clipped at 0 dBFS, ``auto``'s fills without it
moved 5 % of the clipped samples inwards and lowered their SNR slightly in a 16-bit output;
with it that output is the clipped input there, and a float output keeps restored peaks past
full scale (SNR on the clipped samples 16.7 -> 26.2 dB at 1.5x overdrive, 9.3 -> 14.6 at 3x).
"""

from __future__ import annotations

import numpy as np

from voicemend.engine.detect.clipping import ClippingSettings

RAIL_TOLERANCE = ClippingSettings().tolerance
MIN_RUN = ClippingSettings().min_run


Rails = tuple[np.ndarray, np.ndarray]


def clipping_rails(samples: np.ndarray) -> Rails:
    """(tops, bottoms), one per channel: the extremes of the audio that holds the clipped runs.

    The detector finds a run where a channel's samples are held at that channel's extreme in
    the file, so those extremes are the rails (a file repaired block by block passes the
    file's own, from its level profiles)."""
    x = np.asarray(samples, dtype=np.float64)
    if not x.size:
        empty = np.zeros(x.shape[0])
        return empty, empty
    return x.max(axis=1), x.min(axis=1)


def keep_beyond_rail(
    damaged: np.ndarray, fill: np.ndarray, marked: np.ndarray, rails: Rails | None = None
) -> tuple[np.ndarray, int]:
    """``fill`` (channels, n) for the ``damaged`` samples it replaces, with every sample that
    sits at a rail within ``marked`` (the region's clipped frames) kept at least as far out
    as the damaged value, on its side. Returns the fill and how many samples it moved.

    Each side's rail is its most extreme ``damaged`` value in any channel (a converter clips
    its channels at the same level) where ``MIN_RUN`` samples or more hold it, so a quieter
    channel that never reached it, or the unclipped side, is left alone. ``rails`` (from
    :func:`clipping_rails` over all the audio being repaired) add each channel's own extremes,
    which hold for a clipped run of one or two samples too."""
    out = np.array(fill, dtype=np.float64)
    d = np.asarray(damaged, dtype=np.float64)
    if not marked.any():
        return out, 0
    at = np.zeros(d.shape, dtype=bool)
    for k, side in enumerate((1.0, -1.0)):
        y = side * d
        held = marked[None, :] & (y >= float(y[:, marked].max()) - RAIL_TOLERANCE) & (y > 0.0)
        if np.count_nonzero(held) >= MIN_RUN:  # not one peak touching its own maximum
            at |= held
        if rails is not None:
            rail = side * np.asarray(rails[k], dtype=np.float64)[:, None]
            at |= marked[None, :] & (y >= rail - RAIL_TOLERANCE) & (y > 0.0)
    if not at.any():
        return out, 0
    side = np.sign(d[at])
    kept = side * np.maximum(side * out[at], np.abs(d[at]))
    moved = int(np.count_nonzero(kept != out[at]))
    out[at] = kept
    return out, moved
