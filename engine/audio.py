"""The one audio value type: float32 samples shaped (channels, frames) plus their sample rate."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from voicemend.engine.errors import InvalidAudioError

MIN_SAMPLE_RATE = 1
# Rates the repair methods are designed and tested for.
MIN_REPAIR_RATE_HZ = 8_000
MAX_REPAIR_RATE_HZ = 192_000


@dataclass(frozen=True)
class SourceFormat:
    """How a file was stored (soundfile format and subtype names), so that saving can keep it."""

    format: str
    subtype: str
    path: str | None = None


@dataclass(frozen=True, eq=False)
class Audio:
    """Immutable audio buffer.

    ``samples`` is float32 with shape (channels, frames); the layout is fixed and never guessed.
    Operations return new buffers; the array is made read-only so nothing mutates it by accident.
    """

    samples: np.ndarray
    sample_rate: int
    source: SourceFormat | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        samples = self.samples
        if not isinstance(samples, np.ndarray):
            raise InvalidAudioError(f"samples must be a numpy array, got {type(samples).__name__}")
        if samples.ndim != 2:
            raise InvalidAudioError(
                f"samples must have shape (channels, frames), got {samples.ndim} dimension(s)"
            )
        if samples.shape[0] < 1:
            raise InvalidAudioError("audio must have at least one channel")
        if samples.dtype != np.float32:
            raise InvalidAudioError(f"samples must be float32, got {samples.dtype}")
        rate = self.sample_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, np.integer))
            or rate < MIN_SAMPLE_RATE
        ):
            raise InvalidAudioError(f"sample rate must be a positive integer, got {rate!r}")
        object.__setattr__(self, "sample_rate", int(rate))
        check_finite(samples, int(rate))
        if samples.flags.writeable:
            samples = samples.view()
            samples.flags.writeable = False
            object.__setattr__(self, "samples", samples)

    @classmethod
    def from_array(
        cls, samples: np.ndarray, sample_rate: int, *, channels_first: bool = True
    ) -> Audio:
        """Build from any float array. 1-D means mono; 2-D must state its layout."""
        arr = np.asarray(samples)
        if arr.ndim == 1:
            arr = arr[np.newaxis, :]
        elif arr.ndim == 2 and not channels_first:
            arr = arr.T
        return cls(np.ascontiguousarray(arr, dtype=np.float32), sample_rate)

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate

    def with_samples(self, samples: np.ndarray) -> Audio:
        """Same rate and source format, new samples."""
        return replace(self, samples=samples)

    def slice_frames(self, start: int, end: int) -> Audio:
        return self.with_samples(self.samples[:, start:end].copy())

    def slice_s(self, start_s: float, end_s: float) -> Audio:
        return self.slice_frames(round(start_s * self.sample_rate), round(end_s * self.sample_rate))

    def to_mono(self) -> Audio:
        mono = self.samples.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
        return self.with_samples(mono)

    def resampled(self, sample_rate: int) -> Audio:
        """Band-limited polyphase resampling (scipy.signal.resample_poly)."""
        if sample_rate == self.sample_rate:
            return self
        ratio = Fraction(int(sample_rate), self.sample_rate).limit_denominator(1000)
        out = resample_poly(self.samples, ratio.numerator, ratio.denominator, axis=1)
        return Audio(out.astype(np.float32), int(sample_rate), self.source)

    def __repr__(self) -> str:
        return (
            f"Audio(channels={self.n_channels}, frames={self.n_frames}, "
            f"sample_rate={self.sample_rate}, duration_s={self.duration_s:.3f})"
        )


def check_finite(samples: np.ndarray, sample_rate: int | None = None, first_frame: int = 0) -> None:
    """Raise naming the first NaN/Inf sample, so users can find it; ``first_frame`` is where
    ``samples`` start in their file, for a block of a longer one."""
    finite = np.isfinite(samples)
    if finite.all():
        return
    channel, frame = (int(i[0]) for i in np.nonzero(~finite))
    frame += first_frame
    where = f"frame {frame}"
    if sample_rate:
        where += f" ({frame / sample_rate:.3f} s)"
    raise InvalidAudioError(
        f"audio contains NaN or Inf samples ({int((~finite).sum())} in all; first at {where}, "
        f"channel {channel})"
    )


def check_repair_rate(sample_rate: int) -> None:
    if not MIN_REPAIR_RATE_HZ <= sample_rate <= MAX_REPAIR_RATE_HZ:
        raise InvalidAudioError(
            f"sample rate {sample_rate} Hz is outside the supported {MIN_REPAIR_RATE_HZ}-"
            f"{MAX_REPAIR_RATE_HZ} Hz range for repair; resample the file first"
        )
