"""A min/max peak pyramid, so that an hour of audio draws in a few thousand points at any zoom.

Level 0 holds the minimum and maximum over all channels of every ``BIN_FRAMES`` frames; each
level above merges ``FANOUT`` bins of the one below. Building reads the audio block by block (an
hour of 44.1 kHz stereo makes ~5 MB of peaks), and an edit recomputes only the bins it touches.
Plain numpy, no Qt.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BIN_FRAMES = 256
FANOUT = 4
BLOCK_FRAMES = BIN_FRAMES * 4096  # ~1 M frames read at a time

Reader = Callable[[int, int], np.ndarray]  # (start, end) -> float32 (channels, end - start)


class PeakPyramid:
    """Min/max envelopes of ``read``'s audio at bin sizes 256, 1024, 4096, ... frames."""

    def __init__(self, n_frames: int, read: Reader) -> None:
        self.n_frames = n_frames
        self.read = read
        n_bins = max(1, -(-n_frames // BIN_FRAMES))
        lo = np.empty(n_bins, np.float32)
        hi = np.empty(n_bins, np.float32)
        for start in range(0, n_frames, BLOCK_FRAMES):
            end = min(n_frames, start + BLOCK_FRAMES)
            b0 = start // BIN_FRAMES
            blo, bhi = _bin_peaks(read(start, end))
            lo[b0 : b0 + blo.size] = blo
            hi[b0 : b0 + bhi.size] = bhi
        self.levels: list[tuple[np.ndarray, np.ndarray]] = [(lo, hi)]
        while self.levels[-1][0].size > 1:
            self.levels.append(_merge(*self.levels[-1]))

    def bin_frames(self, level: int) -> int:
        return BIN_FRAMES * FANOUT**level

    def update(self, start: int, end: int) -> None:
        """Re-read frames [start, end) after an edit and refresh every level above them."""
        b0 = max(0, start) // BIN_FRAMES
        b1 = -(-min(self.n_frames, end) // BIN_FRAMES)
        if b1 <= b0:
            return
        blo, bhi = _bin_peaks(self.read(b0 * BIN_FRAMES, min(self.n_frames, b1 * BIN_FRAMES)))
        self.levels[0][0][b0:b1] = blo
        self.levels[0][1][b0:b1] = bhi
        for level in range(1, len(self.levels)):
            b0, b1 = b0 // FANOUT, -(-b1 // FANOUT)
            below_lo, below_hi = self.levels[level - 1]
            lo, hi = _merge(
                below_lo[b0 * FANOUT : b1 * FANOUT], below_hi[b0 * FANOUT : b1 * FANOUT]
            )
            self.levels[level][0][b0:b1] = lo
            self.levels[level][1][b0:b1] = hi

    def envelope(self, start: int, end: int, max_points: int) -> tuple[np.ndarray, np.ndarray]:
        """(frame positions, values) tracing min/max zig-zags for [start, end).

        Picks the finest level with at most ``max_points`` bins in range, so the trace is as
        detailed as the screen can show. Returns empty arrays for an empty range.
        """
        start, end = max(0, start), min(self.n_frames, end)
        if end <= start:
            return np.zeros(0), np.zeros(0, np.float32)
        level = 0
        while level + 1 < len(self.levels) and (end - start) / self.bin_frames(level) > max(
            1, max_points
        ):
            level += 1
        size = self.bin_frames(level)
        b0, b1 = start // size, -(-end // size)
        lo, hi = self.levels[level][0][b0:b1], self.levels[level][1][b0:b1]
        centres = (np.arange(b0, b1, dtype=np.float64) + 0.5) * size
        x = np.repeat(centres, 2)
        y = np.empty(2 * lo.size, np.float32)
        y[0::2], y[1::2] = lo, hi
        return x, y


def _bin_peaks(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin min and max over all channels of a (channels, n) block starting on a bin edge."""
    n = block.shape[1]
    n_bins = -(-n // BIN_FRAMES)
    pad = n_bins * BIN_FRAMES - n
    if pad:
        edge = block[:, -1:] if n else np.zeros((block.shape[0], 1), block.dtype)
        block = np.concatenate([block, np.repeat(edge, pad, axis=1)], axis=1)
    shaped = block.reshape(block.shape[0], n_bins, BIN_FRAMES)
    return shaped.min(axis=(0, 2)), shaped.max(axis=(0, 2))


def _merge(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = -(-lo.size // FANOUT)
    pad = n * FANOUT - lo.size
    if pad:
        lo = np.concatenate([lo, np.repeat(lo[-1:], pad)])
        hi = np.concatenate([hi, np.repeat(hi[-1:], pad)])
    return lo.reshape(n, FANOUT).min(axis=1), hi.reshape(n, FANOUT).max(axis=1)


def copy_pyramid(pyramid: PeakPyramid, read: Reader) -> PeakPyramid:
    """The same peaks over another reader (the edited audio starts equal to the original)."""
    twin = PeakPyramid.__new__(PeakPyramid)
    twin.n_frames, twin.read = pyramid.n_frames, read
    twin.levels = [(lo.copy(), hi.copy()) for lo, hi in pyramid.levels]
    return twin
