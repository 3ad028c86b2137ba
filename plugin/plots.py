"""Pictures people would rather look at than read: a repair before/after, detections over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.detect import Detection
from voicemend.engine.io import save_figure
from voicemend.engine.regions import Region

KIND_COLOURS = {"digital_silence": "tab:red", "packet_loss": "tab:orange", "clipping": "tab:purple"}


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
    plt = _pyplot()
    sr = audio.sample_rate
    x = audio.samples[0]
    # Peak envelope: one min/max pair per pixel column keeps long files fast and honest.
    columns = 4000
    step = max(1, x.size // columns)
    k = x.size // step
    env = x[: k * step].reshape(k, step) if k else x.reshape(1, -1)
    t = np.arange(env.shape[0]) * step / sr
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.fill_between(t, env.min(axis=1), env.max(axis=1), color="tab:blue", linewidth=0)
    seen = set()
    for det in detections:
        kind = det.kind.value
        ax.axvspan(
            det.region.start / sr,
            det.region.end / sr,
            color=KIND_COLOURS.get(kind, "k"),
            alpha=0.35,
            label=None if kind in seen else kind,
        )
        seen.add(kind)
    ax.set_xlim(0, audio.duration_s)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{len(detections)} detection(s)")
    if seen:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
