"""Pictures people would rather look at than read: a repair before/after, detections over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.detect import Detection
from voicemend.engine.io import AudioReader, save_figure
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.engine.regions import Region

KIND_COLOURS = {
    "digital_silence": "tab:red",
    "packet_loss": "tab:orange",
    "clipping": "tab:purple",
    "concealed": "tab:brown",
    "click": "tab:pink",
    "non_finite": "black",
    "held": "tab:olive",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_before_after(
    rows: Sequence[tuple[str, Audio]],
    region: Region,
    path: str | Path,
    context_s: float = 0.3,
    title: str = "",
) -> Path:
    """Waveform and spectrogram of ``region`` ± context for each (label, audio), stacked."""
    plt = _pyplot()
    sr = rows[0][1].sample_rate
    lo = max(0, region.start - int(context_s * sr))
    hi = min(rows[0][1].n_frames, region.end + int(context_s * sr))
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 2.3 * len(rows)), squeeze=False)
    t = np.arange(lo, hi) / sr
    for (label, audio), (ax_w, ax_s) in zip(rows, axes, strict=True):
        x = audio.samples[0, lo:hi]
        ax_w.plot(t, x, linewidth=0.6, color="tab:blue")
        ax_w.set_ylabel(label)
        ax_w.set_xlim(t[0], t[-1])
        n_fft = max(64, int(0.02 * sr))
        with np.errstate(divide="ignore"):  # digital silence has -inf dB; it is drawn as the floor
            ax_s.specgram(
                x,
                NFFT=n_fft,
                Fs=sr,
                noverlap=n_fft * 3 // 4,
                xextent=(t[0], t[-1]),
                cmap="magma",
                vmin=-130,
                vmax=-20,
            )
        ax_s.set_ylim(0, sr / 2)
        ax_w.axvspan(region.start / sr, region.end / sr, color="tab:green", alpha=0.15)
        for edge in (region.start / sr, region.end / sr):
            ax_s.axvline(edge, color="white", linestyle="--", linewidth=0.8)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    axes[0, 0].set_title("waveform")
    axes[0, 1].set_title("spectrogram (Hz)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_detections(audio: Audio, detections: Sequence[Detection], path: str | Path) -> Path:
    """The whole file's waveform with each detection shaded by kind."""
    step = _envelope_step(audio.n_frames)
    lo, hi = _envelope(audio.samples[0], step)
    return _draw_detections(lo, hi, step, audio.sample_rate, audio.n_frames, detections, path)


def plot_file_detections(
    source: str | Path, detections: Sequence[Detection], path: str | Path
) -> Path:
    """:func:`plot_detections` for a file read block by block (one too large to load)."""
    with AudioReader(source, NonfiniteLog()) as reader:  # NaN samples drawn as the silence
        sr, n = reader.sample_rate, reader.n_frames  # they were read as
        step = _envelope_step(n)
        parts = [_envelope(reader.read(step * 4096)[0], step) for _ in range(0, n, step * 4096)]
    lo = np.concatenate([p[0] for p in parts]) if parts else np.zeros(1)
    hi = np.concatenate([p[1] for p in parts]) if parts else np.zeros(1)
    return _draw_detections(lo, hi, step, sr, n, detections, path)


ENVELOPE_COLUMNS = 4000  # one min/max pair per pixel column keeps long files fast and honest


def _envelope_step(n_frames: int) -> int:
    return max(1, n_frames // ENVELOPE_COLUMNS)


def _envelope(x: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each whole ``step`` frames (the tail that does not fill one is left out,
    unless it is all there is)."""
    k = x.size // step
    env = x[: k * step].reshape(k, step) if k else x.reshape(1, -1)
    if env.size == 0:
        return np.zeros(0), np.zeros(0)
    return env.min(axis=1), env.max(axis=1)


def _draw_detections(
    lo: np.ndarray,
    hi: np.ndarray,
    step: int,
    sr: int,
    n_frames: int,
    detections: Sequence[Detection],
    path: str | Path,
) -> Path:
    plt = _pyplot()
    t = np.arange(lo.size) * step / sr
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.fill_between(t, lo, hi, color="tab:blue", linewidth=0)
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for det in detections:
        start_s, end_s = det.region.start / sr, det.region.end / sr
        by_kind.setdefault(det.kind.value, []).append((start_s, end_s - start_s))
    for kind, spans in by_kind.items():
        # One collection per kind (a clipped file has thousands of spans), full height, with an
        # edge so that a span narrower than a pixel (a one-sample clipped run) still shows.
        colour = KIND_COLOURS.get(kind, "k")
        ax.broken_barh(
            spans,
            (0, 1),
            transform=ax.get_xaxis_transform(),
            facecolor=colour,
            edgecolor=colour,
            linewidth=0.5,
            alpha=0.35,
            label=kind,
        )
    ax.set_xlim(0, n_frames / sr)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{len(detections)} detection(s)")
    if by_kind:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
