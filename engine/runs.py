"""Runs of True in boolean masks: the shared primitive behind gaps, zero runs and clipped runs."""

from __future__ import annotations

import numpy as np


def true_runs(mask: np.ndarray, min_length: int = 1) -> list[tuple[int, int]]:
    """Half-open (start, end) runs of True in a 1-D boolean mask, in order; with
    ``min_length``, only those that long or longer (dropped before any tuple is built: a mask of
    near-silent samples has a run at every zero crossing)."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    if min_length > 1:
        keep = ends - starts >= min_length
        starts, ends = starts[keep], ends[keep]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
