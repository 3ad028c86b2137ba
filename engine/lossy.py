"""Lossy codecs (MP3, Ogg Vorbis, Opus through libsndfile; AAC in M4A through FFmpeg): what a
file was coded at, the encoder setting that codes a repaired copy at the same bitrate, and a
round trip through a codec (the benches' dropouts in MP3 and M4A files)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from voicemend.engine.audio import Audio
from voicemend.engine.container import ContainerFile, ContainerWriter
from voicemend.engine.errors import VoicemendError

# soundfile's subtype names of the lossy codecs it writes, by the name users give them
CODECS = {
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
    "opus": ("OGG", "OPUS"),
    "aac": ("MP4", "AAC"),  # as Zoom and phones save it; coded by FFmpeg's AAC encoder
}
BITRATE_CODECS = ("mp3", "aac")
# with the lossy codecs FFmpeg decodes from other containers (voicemend.engine.container)
CONTAINER_CODEC_NAMES = {
    "AAC": "AAC",
    "WMAV1": "WMA",
    "WMAV2": "WMA",
    "WMAPRO": "WMA Pro",
    "AMRNB": "AMR",
    "AMRWB": "AMR-WB",
    "AC3": "AC-3",
    "EAC3": "E-AC-3",
    "MP2": "MP2",
}
CODEC_NAMES = {"MPEG_LAYER_III": "MP3", "VORBIS": "Ogg Vorbis", "OPUS": "Opus"}
CODEC_NAMES |= CONTAINER_CODEC_NAMES
LOSSY_SUBTYPES = frozenset(CODEC_NAMES)
OPUS_RATES_HZ = (8000, 12000, 16000, 24000, 48000)
# libsndfile's constant-bitrate MP3 encoder picks its bitrate linearly from the compression
# level between these bounds (kb/s), by MPEG version, then LAME takes the nearest legal one:
# 320 - 288 x level at 32-48 kHz (measured at 0-0.95: 320, 256, 224, 192, 160, 128, 112,
# 96, 80, 56, 48), 160 - 152 x level at 16-24 kHz, 64 - 56 x level at 8-12 kHz.
MP3_KBPS_RANGE = {32000: (32, 320), 16000: (8, 160), 8000: (8, 64)}
ID3V2_HEADER_BYTES = 10
# libsndfile's Opus encoder takes its bitrate linearly from the compression level: per channel
# 6 kb/s at level 1 up to 256 at level 0 (measured: 259 ... 7 kb/s mono, 514 ... 13 stereo,
# the Ogg pages' overhead included).
OPUS_KBPS_PER_CHANNEL = (6.0, 256.0)
# Its Vorbis encoder codes at a quality (variable bitrate) that the level sets; what that gives
# on speech at 48 kHz (a LibriSpeech reading), by channel count, at levels 0, 0.2 ... 1.0.
VORBIS_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
VORBIS_SPEECH_KBPS = {1: (156, 99, 75, 58, 53, 43), 2: (242, 150, 111, 75, 68, 53)}


@dataclass(frozen=True)
class LossyFormat:
    """A lossy codec and, optionally, its bitrate (``None``: libsndfile's default quality)."""

    codec: str  # a key of CODECS
    bitrate_kbps: float | None = None

    @classmethod
    def parse(cls, text: str) -> LossyFormat:
        """``mp3``, ``mp3:128``, ``aac``, ``aac:64``, ``ogg``, ``opus`` (a bitrate is honoured
        for MP3 and AAC)."""
        name, _, rate = text.strip().lower().partition(":")
        if name not in CODECS:
            raise VoicemendError(f"unknown codec {name!r}; use one of {', '.join(CODECS)}")
        try:
            kbps = float(rate) if rate else None
        except ValueError:
            raise VoicemendError(f"bitrate {rate!r} is not a number of kb/s") from None
        if kbps is not None and name not in BITRATE_CODECS:
            raise VoicemendError(f"a bitrate can be given for mp3 and aac only, not {name}")
        if kbps is not None and not 8 <= kbps <= 320:
            raise VoicemendError(f"{name.upper()} bitrate {kbps:g} kb/s is outside 8-320")
        return cls(name, kbps)

    @property
    def label(self) -> str:
        return self.codec + (f" {self.bitrate_kbps:g} kb/s" if self.bitrate_kbps else "")

    def check_rate(self, sample_rate: int) -> None:
        """Opus codes five rates only; say so before any work is done."""
        if self.codec == "opus" and sample_rate not in OPUS_RATES_HZ:
            rates = ", ".join(str(r) for r in OPUS_RATES_HZ)
            raise VoicemendError(f"opus codes {rates} Hz only, not {sample_rate} Hz")

    def encoder_options(self, sample_rate: int) -> dict[str, object]:
        """soundfile's keyword arguments for this format at ``sample_rate`` (the libsndfile
        codecs; AAC is coded through FFmpeg, see :func:`roundtrip`)."""
        if self.codec == "aac":
            raise VoicemendError("aac is coded through FFmpeg, not soundfile")
        fmt, subtype = CODECS[self.codec]
        options: dict[str, object] = {"format": fmt, "subtype": subtype}
        if self.bitrate_kbps is not None:
            options.update(mp3_encoder_options(self.bitrate_kbps, sample_rate))
        return options


def is_lossy(subtype: str) -> bool:
    return subtype.upper() in LOSSY_SUBTYPES


def mp3_encoder_options(kbps: float, sample_rate: int) -> dict[str, object]:
    """Constant-bitrate MP3 at about ``kbps`` (LAME takes the nearest legal bitrate)."""
    version = max((r for r in MP3_KBPS_RANGE if r <= sample_rate), default=8000)
    low, high = MP3_KBPS_RANGE[version]
    level = float(np.clip((high - kbps) / (high - low), 0.0, 0.95))
    return {"compression_level": level, "bitrate_mode": "CONSTANT"}


def ogg_encoder_options(subtype: str, kbps: float, n_channels: int) -> dict[str, object]:
    """The compression level that codes Opus at ``kbps`` (to within its Ogg overhead), or
    Vorbis near it on speech (a variable rate: within about a fifth)."""
    if subtype == "OPUS":
        low, high = OPUS_KBPS_PER_CHANNEL
        per_channel = kbps / max(1, n_channels)
        return {"compression_level": float(np.clip((high - per_channel) / (high - low), 0, 1))}
    rates = VORBIS_SPEECH_KBPS[min(2, max(1, n_channels))]
    # the table falls with the level; np.interp wants it rising
    level = np.interp(kbps, rates[::-1], VORBIS_LEVELS[::-1])
    return {"compression_level": float(level)}


def file_bitrate_kbps(path: str | os.PathLike[str], duration_s: float) -> float | None:
    """A coded file's mean bitrate: its size over its duration, less a leading ID3v2 tag
    (cover art can be larger than minutes of speech); ``None`` for an empty duration."""
    if duration_s <= 0:
        return None
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as f:
        head = f.read(ID3V2_HEADER_BYTES)
    if len(head) == ID3V2_HEADER_BYTES and head[:3] == b"ID3":
        tag = 0
        for byte in head[6:10]:  # "syncsafe": 7 bits a byte
            tag = (tag << 7) | (byte & 0x7F)
        size -= ID3V2_HEADER_BYTES + tag
    return max(0, size) * 8 / duration_s / 1000


def roundtrip(audio: Audio, fmt: LossyFormat) -> Audio:
    """``audio`` coded as ``fmt`` and decoded again, the same length (a decoder's extra
    padding cut, a short end padded with zeros); MP3 decoding here is gapless (LAME's delay
    is removed), so samples keep their times."""
    fmt.check_rate(audio.sample_rate)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"coded.{fmt.codec}"
        if fmt.codec == "aac":  # priming and padding cut by the M4A's edit list
            with ContainerWriter(path, audio.sample_rate, audio.n_channels, "AAC",
                                 fmt.bitrate_kbps) as f:  # fmt: skip
                f.write(audio.samples.T)
            with ContainerFile(path) as coded:
                decoded, rate = coded.read(), coded.samplerate
        else:
            options = fmt.encoder_options(audio.sample_rate)
            sf.write(path, audio.samples.T, audio.sample_rate, **options)
            decoded, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != audio.sample_rate:
        raise VoicemendError(f"{fmt.label} decoded at {rate} Hz, not {audio.sample_rate} Hz")
    y = decoded.T[:, : audio.n_frames]
    if y.shape[1] < audio.n_frames:
        y = np.pad(y, ((0, 0), (0, audio.n_frames - y.shape[1])))
    return Audio(np.ascontiguousarray(y), audio.sample_rate)
