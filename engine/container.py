"""Audio in containers that libsndfile does not read: M4A/MP4 (AAC or ALAC, as Zoom, phones
and Apple's Voice Memos record), WMA, AMR, WebM/Matroska, raw AAC and AC-3, decoded by FFmpeg
through PyAV; and M4A written (AAC, or ALAC for lossless sources).

:class:`ContainerFile` offers the part of soundfile's ``SoundFile`` that :mod:`voicemend.engine.io`
uses (``read``, ``blocks``, ``seek``, ``frames``...), so every reader in the engine takes these
files as they take a WAV. Decoding runs front to back (AAC decodes at hundreds of times real
time). A seek backwards within the last :data:`HISTORY_S` is served from the samples kept;
further back, the file is decoded again from its start. FFmpeg's own seek is not used: an AAC
decoder started mid-file gives other samples (about -50 dB off, at any lag, however long it
has run; likely its noise substitution's random state) than the one that read the file
through."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voicemend.engine.errors import AudioFileError

# FFmpeg's demuxer names, as voicemend names the format (SourceFormat.format).
FORMAT_NAMES = {
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4",
    "asf": "WMA",
    "amr": "AMR",
    "matroska,webm": "MATROSKA",
    "aac": "AAC",
    "ac3": "AC3",
    "eac3": "EAC3",
}
# Only the MP4 family states its exact length (priming and padding in its edit list); the rest
# are counted by decoding them once.
EXACT_LENGTH_FORMATS = frozenset({"MP4"})
# ALAC's bit depth, by the sample format its decoder gives.
ALAC_SUBTYPES = {"s16p": "ALAC_16", "s32p": "ALAC_24"}
# FLAC in Matroska, Ogg or MP4 decodes to 16- or 32-bit samples; the 32 hold a 24-bit stream
FLAC_SUBTYPES = {"s16": "FLAC_16", "s16p": "FLAC_16", "s32": "FLAC_24", "s32p": "FLAC_24"}
# Plain samples in a container (Matroska, QuickTime/MOV) are named as libsndfile names them,
# so that their bit depth carries over to the file written (a 24-bit MOV to a 24-bit WAV).
PCM_CODEC_SUBTYPES = {
    "pcm_u8": "PCM_U8",
    "pcm_s8": "PCM_S8",
    **{f"pcm_s16{e}": "PCM_16" for e in ("le", "be")},
    **{f"pcm_s24{e}": "PCM_24" for e in ("le", "be")},
    **{f"pcm_s32{e}": "PCM_32" for e in ("le", "be")},
    **{f"pcm_f32{e}": "FLOAT" for e in ("le", "be")},
    **{f"pcm_f64{e}": "DOUBLE" for e in ("le", "be")},
    "pcm_alaw": "ALAW",
    "pcm_mulaw": "ULAW",
}
# FFmpeg decoders whose names differ from the codec's (libsndfile's name for MP3 kept).
DECODER_SUBTYPES = {
    "mp3float": "MPEG_LAYER_III",
    "mp3": "MPEG_LAYER_III",
    "mp2float": "MP2",
    "libopus": "OPUS",
    "libopencore_amrnb": "AMRNB",
    "libopencore_amrwb": "AMRWB",
}
WRITE_SUBTYPES = ("AAC", "ALAC_16", "ALAC_24")
# An AAC output of a source that was not coded: FFmpeg's AAC encoder is close to transparent
# on speech at this rate (a coded source's own bitrate is kept instead).
DEFAULT_AAC_KBPS_PER_CHANNEL = 96
# Decoded samples kept behind the read position, for the short seeks back that readers make
# (the context before a region after the region's levels were read).
HISTORY_S = 20.0
_INT_SCALES = {"s16": 2.0**15, "s16p": 2.0**15, "s32": 2.0**31, "s32p": 2.0**31}
# Lengths counted by decoding, by file (path, size, modification time), so that a file which
# states none is decoded once to count it, not again on each opening (`info`, then the read,
# then the bitrate its coded output takes: an hour of WebM Opus takes 5 s to count here).
COUNTED_FILES_KEPT = 64
_counted_frames: dict[tuple[str, int, int], int] = {}


def _av() -> Any:
    """PyAV, imported on first use: most runs never meet such a file."""
    import av

    return av


class ContainerError(AudioFileError):
    """A container FFmpeg cannot read, with FFmpeg's reason alone in ``reason``."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.reason = reason


class ContainerFile:
    """One audio stream of a container, read as (frames, channels) float32 blocks."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._container, self._stream = self._open()
        ctx = self._stream.codec_context
        self.samplerate = int(ctx.sample_rate)
        self.channels = int(ctx.channels)
        if self.samplerate <= 0 or self.channels <= 0:
            self.close()
            raise ContainerError(self.path, "its audio stream states no sample rate")
        demuxer = self._container.format.name
        self.format = FORMAT_NAMES.get(demuxer, demuxer.split(",")[0].upper())
        self.subtype = _subtype(ctx.name, ctx.format.name if ctx.format else "")
        self.bitrate_kbps = (ctx.bit_rate or self._stream.bit_rate or 0) / 1000 or None
        self._history = _Tail(round(HISTORY_S * self.samplerate))
        stated = self._stated_frames()
        self.frames = stated if stated is not None else self._counted_once()
        self._position = 0
        self._held = np.zeros((self.channels, 0), np.float32)  # decoded, not yet read

    # -- soundfile's interface ----------------------------------------------------------------
    def read(self, frames: int = -1, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        """The next ``frames`` (all that are left for -1) as (frames, channels) float32."""
        if dtype != "float32" or not always_2d:
            raise ValueError("ContainerFile reads float32 (frames, channels) only")
        left = self.frames - self._position
        want = left if frames < 0 else max(0, min(frames, left))
        parts, have = [], 0
        while have < want:
            if self._held.shape[1] == 0:
                self._held = self._next_decoded()
                if self._held.shape[1] == 0:  # the stream ended short of its stated length
                    break
            take = self._held[:, : want - have]
            self._held = self._held[:, take.shape[1] :]
            parts.append(take)
            have += take.shape[1]
        block = np.concatenate(parts, axis=1) if parts else np.zeros((self.channels, 0), np.float32)
        if have < want:  # a short stream is padded with silence to the length it stated
            block = np.pad(block, ((0, 0), (0, want - have)))
        self._position += want
        self._history.append(block)
        return np.ascontiguousarray(block.T, dtype=np.float32)

    def blocks(
        self, blocksize: int, dtype: str = "float32", always_2d: bool = True
    ) -> Iterator[np.ndarray]:
        while self._position < self.frames:
            yield self.read(blocksize, dtype, always_2d)

    def seek(self, frame: int) -> int:
        """Go to ``frame``: forwards by decoding on; backwards from the samples kept, or by
        decoding from the start."""
        frame = max(0, min(int(frame), self.frames))
        if frame < self._position:
            back = self._history.take(self._position - frame)
            if back is not None:
                self._held = np.concatenate([back, self._held], axis=1)
                self._position = frame
            else:
                self._restart()
        while self._position < frame:
            self.read(min(frame - self._position, 1 << 18))
        return self._position

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> ContainerFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decoding -----------------------------------------------------------------------------
    def _open(self) -> tuple[Any, Any]:
        av = _av()
        try:
            container = av.open(str(self.path))
        except av.FFmpegError as exc:
            raise ContainerError(self.path, _reason(exc)) from None
        if not container.streams.audio:
            container.close()
            raise ContainerError(self.path, "it holds no audio stream")
        stream = container.streams.audio[0]
        self._decoded = self._decode(container, stream)
        return container, stream

    def _decode(self, container: Any, stream: Any) -> Iterator[np.ndarray]:
        """The stream's decoded frames as (channels, n) float32. A packet the decoder cannot
        read (a damaged stretch of a recording) comes out as silence of its length, with one
        warning for each damaged stretch: the rest keeps its times, and the detector finds the
        hole as a dropout."""
        av = _av()
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        damaged: tuple[float, int, str] | None = None  # the stretch: start (s), frames, why
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.InvalidDataError as exc:
                n = round((packet.duration or 0) * packet.time_base * rate)
                if damaged is None:
                    damaged = (float((packet.pts or 0) * packet.time_base), 0, _reason(exc))
                damaged = (damaged[0], damaged[1] + n, damaged[2])
                yield np.zeros((channels, n), np.float32)
                continue
            if damaged is not None:
                self._warn_damaged(*damaged, rate)
                damaged = None
            for frame in frames:
                yield _float_planar(frame, channels)
        if damaged is not None:
            self._warn_damaged(*damaged, rate)

    def _warn_damaged(self, at_s: float, n_frames: int, reason: str, rate: int) -> None:
        warnings.warn(
            f"{self.path.name}: {n_frames / rate * 1000:.1f} ms from {at_s:.3f} s could not be "
            f"decoded ({reason}) and are read as silence; detection finds them as a dropout",
            stacklevel=2,
        )

    def _restart(self) -> None:
        self.close()
        self._container, self._stream = self._open()
        self._position = 0
        self._held = np.zeros((self.channels, 0), np.float32)
        self._history.clear()

    def _next_decoded(self) -> np.ndarray:
        """The next decoded frame as (channels, n) float32; an empty one at the end."""
        av = _av()
        try:
            return next(self._decoded)
        except StopIteration:
            return np.zeros((self.channels, 0), np.float32)
        except av.FFmpegError as exc:  # the container itself is broken
            raise ContainerError(self.path, _reason(exc)) from None

    def _stated_frames(self) -> int | None:
        stream = self._stream
        if self.format not in EXACT_LENGTH_FORMATS or not stream.duration or not stream.time_base:
            return None
        return round(stream.duration * stream.time_base * self.samplerate)

    def _counted_once(self) -> int:
        """The length found by decoding the file through, or found so before."""
        key = _identity(self.path)
        if key in _counted_frames:
            return _counted_frames[key]
        total = 0
        try:
            while (n := self._next_decoded().shape[1]) > 0:
                total += n
        except ContainerError:
            self.close()  # a stream that breaks off midway: nothing is left open
            raise
        self._restart()
        while len(_counted_frames) >= COUNTED_FILES_KEPT:
            del _counted_frames[next(iter(_counted_frames))]  # the oldest
        _counted_frames[key] = total
        return total


def _identity(path: Path) -> tuple[str, int, int]:
    """What tells a file apart from itself rewritten: its path, size and modification time."""
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


class _Tail:
    """The last ``capacity`` frames read, to give back on a seek backwards."""

    def __init__(self, capacity: int) -> None:
        self._blocks: deque[np.ndarray] = deque()
        self._frames = 0
        self._capacity = capacity

    def append(self, block: np.ndarray) -> None:
        self._blocks.append(block)
        self._frames += block.shape[1]
        while self._frames > self._capacity:
            over = self._frames - self._capacity
            first = self._blocks[0]
            if first.shape[1] <= over:
                self._blocks.popleft()
                self._frames -= first.shape[1]
            else:  # a copy: a view would keep all of a long read's samples alive
                self._blocks[0] = first[:, over:].copy()
                self._frames -= over

    def take(self, n: int) -> np.ndarray | None:
        """The last ``n`` frames, now no longer kept; ``None`` if fewer are kept."""
        if n > self._frames:
            return None
        kept = np.concatenate(self._blocks, axis=1)
        self._blocks, self._frames = deque([kept[:, : self._frames - n]]), self._frames - n
        return kept[:, self._frames :]

    def clear(self) -> None:
        self._blocks, self._frames = deque(), 0


def _float_planar(frame: Any, channels: int) -> np.ndarray:
    """A decoded frame as (channels, n) float32, whatever sample format the decoder gave."""
    name = frame.format.name
    data = frame.to_ndarray()
    if not frame.format.is_planar:  # packed: (1, n * channels), interleaved
        data = data.reshape(-1, channels).T
    if name in _INT_SCALES:
        return (data / _INT_SCALES[name]).astype(np.float32)
    if name in ("u8", "u8p"):
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    return data.astype(np.float32, copy=False)


def _subtype(codec: str, sample_format: str) -> str:
    """voicemend's subtype name of a stream: ALAC_16/ALAC_24 and FLAC_16/FLAC_24 for the
    lossless codecs (their bit depth), libsndfile's name for plain samples (PCM_24, FLOAT...),
    else the codec's name in capitals (AAC, WMAV2, AMR_NB, OPUS, MP3, AC3...)."""
    if codec == "alac":
        return ALAC_SUBTYPES.get(sample_format, "ALAC_24")
    if codec == "flac":
        return FLAC_SUBTYPES.get(sample_format, "FLAC_24")
    if codec in PCM_CODEC_SUBTYPES:
        return PCM_CODEC_SUBTYPES[codec]
    return DECODER_SUBTYPES.get(codec, codec.upper())


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip() or type(exc).__name__


class ContainerWriter:
    """An M4A file written from (frames, channels) float32 blocks, as soundfile writes.

    AAC at a bitrate (the coded source's, or :data:`DEFAULT_AAC_KBPS_PER_CHANNEL` per channel),
    or ALAC (lossless: a repaired ALAC file keeps every sample outside the repairs)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        samplerate: int,
        channels: int,
        subtype: str = "AAC",
        bitrate_kbps: float | None = None,
    ) -> None:
        if subtype not in WRITE_SUBTYPES:
            raise AudioFileError(
                f"an M4A file holds {', '.join(WRITE_SUBTYPES)} audio, not {subtype}"
            )
        av = _av()
        self.path = Path(path)
        self.subtype = subtype
        layout = {1: "mono", 2: "stereo"}.get(channels)
        if layout is None:
            raise AudioFileError(
                f"cannot write {self.path}: an M4A output holds 1 or 2 channels, not "
                f"{channels}; write .wav, .flac or .caf"
            )
        codec = "aac" if subtype == "AAC" else "alac"
        rates = av.Codec(codec, "w").audio_rates
        if rates and int(samplerate) not in rates:
            raise AudioFileError(
                f"cannot write {self.path}: AAC codes {min(rates)}-{max(rates)} Hz audio, not "
                f"{samplerate} Hz; write ALAC (a bit depth of 16 or 24) or resample it first"
            )
        try:
            self._container = av.open(str(self.path), "w", format="ipod")
            self._stream = self._container.add_stream(codec, rate=int(samplerate), layout=layout)
        except (av.FFmpegError, ValueError) as exc:
            raise AudioFileError(f"cannot write {self.path}: {_reason(exc)}") from None
        if codec == "aac":
            kbps = bitrate_kbps or DEFAULT_AAC_KBPS_PER_CHANNEL * channels
            self._stream.bit_rate = round(kbps * 1000)
        else:
            self._stream.codec_context.format = "s16p" if subtype == "ALAC_16" else "s32p"
        self._format = self._stream.codec_context.format.name
        self._layout = layout
        self._samplerate = int(samplerate)
        self._written = 0

    def write(self, data: np.ndarray) -> None:
        """Code the next (frames, channels) block."""
        av = _av()
        planar = np.ascontiguousarray(np.asarray(data, dtype=np.float32).T)
        if self._format in _INT_SCALES:
            scale = 2.0**15 if self._format == "s16p" else 2.0**23
            ints = np.clip(np.round(planar.astype(np.float64) * scale), -scale, scale - 1)
            planar = ints.astype(np.int16) if scale == 2.0**15 else ints.astype(np.int32) << 8
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planar), format=self._format, layout=self._layout
        )
        frame.sample_rate = self._samplerate
        frame.pts = self._written
        self._written += planar.shape[1]
        self._mux(self._stream.encode(frame))

    def close(self) -> None:
        """Flush the encoder and finish the file (its length and priming in the edit list)."""
        with contextlib.ExitStack() as stack:
            stack.callback(self._container.close)
            self._mux(self._stream.encode(None))

    def _mux(self, packets: list[Any]) -> None:
        av = _av()
        try:
            for packet in packets:
                self._container.mux(packet)
        except av.FFmpegError as exc:
            raise AudioFileError(f"cannot write {self.path}: {_reason(exc)}") from None

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
