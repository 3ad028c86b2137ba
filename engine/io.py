"""Audio file reading and atomic writing with soundfile, keeping format and bit depth."""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from voicemend.engine.audio import Audio, SourceFormat, check_finite
from voicemend.engine.container import (
    WRITE_SUBTYPES,
    ContainerError,
    ContainerFile,
    ContainerWriter,
)
from voicemend.engine.errors import AudioFileError
from voicemend.engine.lossy import (
    file_bitrate_kbps,
    is_lossy,
    mp3_encoder_options,
    ogg_encoder_options,
)

if TYPE_CHECKING:  # engine.nonfinite names detections, which come after reading
    from voicemend.engine.nonfinite import NonfiniteLog

# Output format chosen from the file extension when the caller does not name one.
EXTENSION_FORMATS = {
    ".wav": "WAV",
    ".wave": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".opus": "OGG",
    ".mp3": "MP3",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".w64": "W64",
    ".rf64": "RF64",
    ".caf": "CAF",
    ".m4a": "MP4",
}
OPUS_EXTENSIONS = {".opus"}
# Containers people bring that libsndfile does not decode, by extension: FFmpeg decodes them.
FOREIGN_EXTENSIONS = {
    ".m4a": "an M4A file (AAC or ALAC audio)",
    ".m4b": "an M4B audiobook (AAC audio)",
    ".mp4": "an MP4 file",
    ".aac": "raw AAC audio",
    ".wma": "a Windows Media file",
    ".amr": "AMR (phone) audio",
    ".3gp": "a 3GP (phone) file",
    ".webm": "a WebM file",
    ".mkv": "a Matroska file",
    ".mka": "a Matroska audio file",
    ".mov": "a QuickTime file",
    ".ac3": "Dolby AC-3 audio",
}
# The first bytes of those containers, for a file whose name does not tell.
CONTAINER_MAGIC = {
    bytes.fromhex("3026b2758e66cf11"): "a Windows Media file",
    bytes.fromhex("1a45dfa3"): "a Matroska/WebM file",
    b"#!AMR": "AMR (phone) audio",
    bytes.fromhex("fff1"): "raw AAC audio",
    bytes.fromhex("fff9"): "raw AAC audio",
}
# What a folder given to `render` is searched for.
READ_EXTENSIONS = frozenset(EXTENSION_FORMATS) | frozenset(FOREIGN_EXTENSIONS)
# A lossless stream that FFmpeg decodes (ALAC in M4A, FLAC in Matroska, Ogg or MP4) written to
# another format keeps its bit depth as plain samples.
LOSSLESS_SAMPLE_SUBTYPES = {
    "ALAC_16": "PCM_16",
    "ALAC_20": "PCM_24",
    "ALAC_24": "PCM_24",
    "FLAC_16": "PCM_16",
    "FLAC_24": "PCM_24",
}
# Outputs coded at their source's bitrate (see encoder_options).
CODED_OUTPUTS = ("MPEG_LAYER_III", "AAC", "OPUS", "VORBIS")
# and a bit depth asked of an M4A output is lossless ALAC at that depth
MP4_SAMPLE_SUBTYPES = {"PCM_16": "ALAC_16", "PCM_24": "ALAC_24"}
IO_BLOCK_FRAMES = 1 << 18
# WAV and AIFF keep their sizes in 32-bit fields. Past 4 GB libsndfile still writes, but with a
# header that readers take for 4 GB, so the rest is lost. Headers of either need under 1 kB.
SIZE_LIMITED_FORMATS = ("WAV", "AIFF")
SIZE_LIMIT_BYTES = 2**32 - 1 - 1024
SAMPLE_SUBTYPES = frozenset(
    {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"}
)
# sample formats past 16 bits: written to a format that cannot hold them, they keep 24
DEEP_SUBTYPES = frozenset({"PCM_24", "PCM_32", "FLOAT", "DOUBLE"})
SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3}


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding the samples."""

    path: str
    format: str
    subtype: str
    sample_rate: int
    n_channels: int
    n_frames: int
    bitrate_kbps: float | None = None  # the audio stream's, where the container states it

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate if self.sample_rate else 0.0


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """Header facts of an audio file; raises AudioFileError with a clear reason."""
    p = _existing_file(path)
    try:
        i = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        with _decoded_elsewhere(p, exc) as f:
            return AudioInfo(
                str(p), f.format, f.subtype, f.samplerate, f.channels, f.frames, f.bitrate_kbps
            )
    return AudioInfo(str(p), i.format, i.subtype, int(i.samplerate), int(i.channels), int(i.frames))


def open_audio(path: Path) -> sf.SoundFile | ContainerFile:
    """``path`` opened for reading: by libsndfile, or by FFmpeg for the containers it does not
    read (see :func:`unreadable` for files neither decodes)."""
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        return _decoded_elsewhere(path, exc)


def _decoded_elsewhere(path: Path, exc: BaseException) -> ContainerFile:
    """A file libsndfile refused, opened by FFmpeg where its name or first bytes say it is a
    container FFmpeg reads (never a damaged WAV or FLAC, which FFmpeg would decode as noise)."""
    kind = _foreign_container(path)
    if kind is None:
        raise unreadable(path, exc) from None
    try:
        return ContainerFile(path)
    except ContainerError as failed:
        raise AudioFileError(
            f"cannot read {path}: {kind}, which FFmpeg could not decode either ({failed.reason}); "
            f"it may be damaged or in a codec this FFmpeg lacks (ffprobe {shlex.quote(path.name)} "
            "names it)"
        ) from None


@dataclass(frozen=True)
class Levels:
    """Peak and RMS per channel in dBFS (-inf for digital silence), over the finite samples;
    how many are NaN or Inf, and the first such frame."""

    peak_dbfs: tuple[float, ...]
    rms_dbfs: tuple[float, ...]
    n_nonfinite: int = 0
    first_nonfinite_frame: int | None = None


def measure_levels(path: str | os.PathLike[str], block_frames: int = 1 << 20) -> Levels:
    """Levels of a file read block by block, so that huge files use little memory."""
    p = _existing_file(path)
    try:
        with open_audio(p) as f:
            peak = np.zeros(f.channels)
            energy = np.zeros(f.channels)
            count = np.zeros(f.channels)
            bad, first, frames = 0, None, 0
            for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                finite = np.isfinite(block)
                if not finite.all():
                    if first is None:
                        first = frames + int(np.flatnonzero(~finite.all(axis=1))[0])
                    bad += int((~finite).sum())
                    block = np.where(finite, block, np.float32(0.0))
                peak = np.maximum(peak, np.abs(block).max(axis=0, initial=0.0))
                energy += np.square(block, dtype=np.float64).sum(axis=0)
                count += finite.sum(axis=0)
                frames += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise unreadable(p, exc) from None
    with np.errstate(divide="ignore"):
        peak_db = 20 * np.log10(peak)
        rms_db = 10 * np.log10(energy / np.maximum(count, 1))
    return Levels(tuple(float(v) for v in peak_db), tuple(float(v) for v in rms_db), bad, first)


def load(
    path: str | os.PathLike[str],
    *,
    allow_empty: bool = False,
    nonfinite: NonfiniteLog | None = None,
) -> Audio:
    """Decode a file into an Audio (float32, channels × frames), remembering its format. NaN or
    Inf samples refuse the file, or, with a ``nonfinite`` log, are read as silence and noted in
    it (for a repair to fill: engine.nonfinite)."""
    p = _existing_file(path)
    try:
        with open_audio(p) as f:
            check_fits_in_memory(p, f.channels, f.frames, f.samplerate)
            samples = _read_channels_first(f)
            fmt, subtype, rate = f.format, f.subtype, f.samplerate
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise unreadable(p, exc) from None
    if samples.shape[1] == 0 and not allow_empty:
        raise AudioFileError(f"{p} holds no audio frames (empty file)")
    samples = _finite(p, samples, rate, nonfinite)
    return Audio(samples, int(rate), SourceFormat(fmt, subtype, str(p)))


def _finite(
    path: Path, samples: np.ndarray, rate: int, log: NonfiniteLog | None, first_frame: int = 0
) -> np.ndarray:
    """``samples`` with NaN/Inf read as silence into ``log``; without one, refused."""
    if log is not None:
        return log.take(samples, first_frame)
    try:
        check_finite(samples, rate, first_frame=first_frame)
    except Exception as exc:
        raise AudioFileError(f"{path}: {exc}; `voicemend repair` fills them") from None
    return samples


def _read_channels_first(f: sf.SoundFile | ContainerFile) -> np.ndarray:
    """(channels, frames) float32, decoded block by block straight into place: no second
    full-size copy for the transpose (an hour of 44.1 kHz stereo is 1.27 GB as float32)."""
    out = np.empty((f.channels, max(0, f.frames)), dtype=np.float32)
    pos = 0
    for block in f.blocks(blocksize=IO_BLOCK_FRAMES, dtype="float32", always_2d=True):
        n = block.shape[0]
        if pos + n > out.shape[1]:  # a format whose header under-reports its length
            out = np.concatenate([out[:, :pos], np.empty((f.channels, n), np.float32)], axis=1)
        out[:, pos : pos + n] = block.T
        pos += n
    return out if pos == out.shape[1] else np.ascontiguousarray(out[:, :pos])


def save(
    audio: Audio,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,  # noqa: A002 - soundfile's name
    subtype: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``audio`` atomically (temp file in the same folder, then rename).

    The format follows the extension, and the subtype (bit depth) follows the audio's source when
    that format supports it, so a 24-bit WAV stays 24-bit. An existing file is replaced only
    with ``overwrite``.
    """
    check_finite(audio.samples, audio.sample_rate)
    with open_writer(
        path,
        audio.sample_rate,
        audio.n_channels,
        audio.source,
        format=format,
        subtype=subtype,
        overwrite=overwrite,
        expected_frames=audio.n_frames,
    ) as write:
        write(audio.samples)
    return Path(path)


@contextlib.contextmanager
def open_writer(
    path: str | os.PathLike[str],
    sample_rate: int,
    n_channels: int,
    source: SourceFormat | None = None,
    *,
    format: str | None = None,  # noqa: A002 - soundfile's name
    subtype: str | None = None,
    overwrite: bool = False,
    expected_frames: int | None = None,
) -> Iterator[Callable[[np.ndarray], None]]:
    """Yield ``write(samples)`` for (channels, frames) float32 blocks, in order; the file appears
    (atomically, as with :func:`save`) only when the block ends without an error, so a long
    write that fails or is interrupted leaves nothing half-written. A WAV file expected to pass
    4 GB is written as RF64 (see :func:`large_file_format`); one that passes it unannounced, or
    an AIFF file, is refused at that point instead of being written with a wrong header."""
    out = check_writable(path, overwrite=overwrite)
    fmt = (format or output_format(out)).upper()
    subtype = output_subtype(out, source, subtype, fmt)
    if expected_frames is not None:
        fmt = large_file_format(out, fmt, subtype, n_channels, expected_frames)
    written = 0

    def write(samples: np.ndarray) -> None:
        nonlocal written
        if samples.shape[0] != n_channels:
            raise AudioFileError(
                f"cannot write {out}: a block of {samples.shape[0]} channel(s) for a "
                f"{n_channels}-channel file"
            )
        try:
            check_finite(samples, sample_rate, first_frame=written)
        except Exception as exc:
            raise AudioFileError(f"cannot write {out}: {exc}") from None
        size = data_bytes(subtype, n_channels, written + samples.shape[1])
        if fmt in SIZE_LIMITED_FORMATS and size > SIZE_LIMIT_BYTES:
            raise _too_large(out, fmt, size)
        # Block by block: writing the transposed whole would copy all of it first.
        for start in range(0, samples.shape[1], IO_BLOCK_FRAMES):
            f.write(samples[:, start : start + IO_BLOCK_FRAMES].T)
        written += samples.shape[1]

    options = encoder_options(source, fmt, subtype, sample_rate, n_channels)
    try:
        with (
            atomic_path(out) as tmp,
            _writer(tmp, fmt, sample_rate, n_channels, subtype, options) as f,
        ):
            yield write
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioFileError(f"cannot write {out}: {_reason(exc)}") from None


def check_output(
    path: str | os.PathLike[str],
    sample_rate: int,
    n_channels: int,
    source: SourceFormat | None = None,
    subtype: str | None = None,
) -> None:
    """Refuse, before any work, an output that :func:`open_writer` would refuse at its first
    block (an Opus file at 44.1 kHz, AAC at 192 kHz, six channels in an M4A...): an empty
    file of that kind is written to a temporary folder, where the encoder says what it
    takes."""
    out = Path(path)
    with tempfile.TemporaryDirectory(prefix=".voicemend-check-") as folder:
        probe = Path(folder) / f"check{out.suffix}"
        try:
            with open_writer(probe, sample_rate, n_channels, source, subtype=subtype):
                pass
        except AudioFileError as exc:
            text = str(exc)
            if text.startswith("cannot write "):  # the probe's name is no use to anyone
                text = f"cannot write {out}: {text.split(': ', 1)[1]}"
            raise AudioFileError(text) from None


def _writer(
    tmp: Path, fmt: str, sample_rate: int, n_channels: int, subtype: str, options: dict[str, Any]
) -> sf.SoundFile | ContainerWriter:
    if fmt == "MP4":
        return ContainerWriter(tmp, sample_rate, n_channels, subtype, **options)
    return sf.SoundFile(str(tmp), "w", sample_rate, n_channels, subtype, format=fmt, **options)


def encoder_options(
    source: SourceFormat | None, fmt: str, subtype: str, sample_rate: int, n_channels: int = 1
) -> dict[str, object]:
    """The encoder setting for a coded output (MP3, AAC, Opus, Vorbis): the bitrate its source
    was coded at, where the source was coded (MP3, Vorbis, Opus, AAC...), so that a repaired
    podcast is not coded again at the encoder's default (libsndfile's MP3 lands near 60-90 kb/s
    on speech, its Opus near 60 kb/s a channel, whatever the source had); otherwise that
    default."""
    kbps = source_bitrate_kbps(source) if subtype in CODED_OUTPUTS else None
    if kbps is None:
        return {}
    if subtype in ("OPUS", "VORBIS"):
        return ogg_encoder_options(subtype, kbps, n_channels)
    return {"bitrate_kbps": kbps} if subtype == "AAC" else mp3_encoder_options(kbps, sample_rate)


def source_bitrate_kbps(source: SourceFormat | None) -> float | None:
    """The bitrate the file at ``source.path`` was coded at; ``None`` where it was not coded
    (PCM, FLAC, ALAC), is gone or unreadable. The file is asked, not ``source.subtype``: a
    caller may pass the output's format with the source's path."""
    if source is None or not source.path:
        return None
    try:
        i = info(source.path)
    except (OSError, AudioFileError):
        return None
    return coded_bitrate_kbps(i) if is_lossy(i.subtype) else None


def coded_bitrate_kbps(i: AudioInfo) -> float | None:
    """A coded file's bitrate: its audio stream's where the container states it (an MP4's
    video is not counted), else the file's size over its duration."""
    if i.bitrate_kbps is not None:
        return i.bitrate_kbps
    return file_bitrate_kbps(i.path, i.duration_s)


def data_bytes(subtype: str, n_channels: int, n_frames: int) -> int:
    """Bytes of sample data (4 per sample for 32-bit and float subtypes and for any not known)."""
    return SAMPLE_BYTES.get(subtype, 8 if subtype == "DOUBLE" else 4) * n_channels * n_frames


def large_file_format(out: Path, fmt: str, subtype: str, n_channels: int, n_frames: int) -> str:
    """``fmt``, or RF64 for WAV audio over 4 GB: RF64 (EBU Tech 3306) is WAV with 64-bit sizes,
    made to keep the ``.wav`` name, and what Audacity, REAPER, sox and ffmpeg read. AIFF has no
    such form and is refused with the formats that can hold the audio."""
    size = data_bytes(subtype, n_channels, n_frames)
    if fmt not in SIZE_LIMITED_FORMATS or size <= SIZE_LIMIT_BYTES:
        return fmt
    if fmt == "WAV":
        return "RF64"
    raise _too_large(out, fmt, size)


def _too_large(out: Path, fmt: str, size: int) -> AudioFileError:
    return AudioFileError(
        f"cannot write {out}: {size / 1e9:.2f} GB of audio is more than {fmt} can hold (4 GB at "
        "most); write .rf64, .w64, .caf or .flac instead"
    )


class AudioReader:
    """A file read front to back in blocks of (channels, frames) float32, for files too large to
    decode at once; each block is checked for NaN/Inf as :func:`load` checks a whole file (a
    block holding one is refused, or with a ``nonfinite`` log read as silence and noted)."""

    def __init__(self, path: str | os.PathLike[str], nonfinite: NonfiniteLog | None = None) -> None:
        self.path = _existing_file(path)
        self.nonfinite = nonfinite  # where NaN/Inf samples are noted (else they are refused)
        self._file = open_audio(self.path)
        f = self._file
        self.sample_rate, self.n_channels, self.n_frames = int(f.samplerate), f.channels, f.frames
        self.source = SourceFormat(f.format, f.subtype, str(self.path))
        self.position = 0

    def read(self, n_frames: int) -> np.ndarray:
        """The next ``n_frames`` (fewer at the end of the file)."""
        try:
            block = self._file.read(max(0, n_frames), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise unreadable(self.path, exc) from None
        samples = np.ascontiguousarray(block.T)
        samples = _finite(self.path, samples, self.sample_rate, self.nonfinite, self.position)
        self.position += samples.shape[1]
        return samples

    def seek(self, frame: int) -> None:
        """Read on from ``frame`` (a file's parts read out of order, e.g. around regions)."""
        frame = max(0, min(frame, self.n_frames))
        try:
            self._file.seek(frame)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"cannot seek in {self.path}: {_reason(exc)}") from None
        self.position = frame

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decoded_bytes(n_channels: int, n_frames: int) -> int:
    """What a file takes in memory once decoded (float32)."""
    return 4 * n_channels * max(0, n_frames)


def available_memory_bytes() -> int | None:
    """Memory the system can give without swapping (Linux ``MemAvailable``, else free physical
    pages), or None where the platform does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(
    path: Path, n_channels: int, n_frames: int, sample_rate: int, available: int | None = None
) -> None:
    """Refuse, before decoding, a file whose samples alone would not fit in the memory that is
    free: decoding it would only end in swapping or the system killing the process."""
    need = decoded_bytes(n_channels, n_frames)
    free = available_memory_bytes() if available is None else available
    if free is None or need <= free:
        return
    hours = n_frames / max(1, sample_rate) / 3600
    raise AudioFileError(
        f"{path} decodes to {need / 2**30:.1f} GiB ({hours:.1f} h, {n_channels} channel(s) at "
        f"{sample_rate} Hz) but only {free / 2**30:.1f} GiB of memory is free; `voicemend "
        "repair` works through such files block by block, or split the file first"
    )


@contextlib.contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; it replaces ``out`` only if the block succeeds."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        raise AudioFileError(f"cannot write {out}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _final_mode(out))
        os.replace(tmp, out)
    except OSError as exc:
        raise AudioFileError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _final_mode(out: Path) -> int:
    """The replaced file's mode, or what the umask gives a new file (mkstemp makes 0600)."""
    if out.exists():
        return out.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_subtype(path: str | os.PathLike[str], subtype: str) -> None:
    """Refuse, before any work, a sample format that the output's format cannot hold."""
    _require_subtype(output_format(Path(path)), subtype)


def _require_subtype(fmt: str, subtype: str) -> None:
    if fmt == "MP4" and MP4_SAMPLE_SUBTYPES.get(subtype, subtype) not in WRITE_SUBTYPES:
        raise AudioFileError(
            f"an M4A file holds AAC, or ALAC at 16 or 24 bits (a bit depth of 16 or 24 asks "
            f"for ALAC), not {subtype}; choose another format"
        )
    if fmt != "MP4" and not sf.check_format(fmt, subtype):
        raise AudioFileError(f"a {fmt} file cannot hold {subtype} samples; choose another format")


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """``path``, once it is known that an output may go there: its folder exists, and a file
    already there is replaced only with ``overwrite``."""
    out = Path(path)
    if out.exists() and not overwrite:
        raise AudioFileError(f"{out} exists; pass an explicit overwrite flag to replace it")
    if not out.parent.exists():
        raise AudioFileError(f"output folder {out.parent} does not exist")
    return out


def write_text_atomic(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write a text file atomically; an existing file is replaced only with ``overwrite``."""
    out = check_writable(path, overwrite=overwrite)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (its format from the name's suffix) and close it, so
    that an interrupted plot never leaves a truncated image where an old one was."""
    out = Path(path)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lstrip(".").lower() or "png", dpi=dpi)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return out


def _existing_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.is_dir():
        raise AudioFileError(f"{p} is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p} is empty (0 bytes)")
    return p


def output_format(out: Path) -> str:
    """The soundfile format a file written at ``out`` takes, from its extension."""
    fmt = EXTENSION_FORMATS.get(out.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(EXTENSION_FORMATS))
        raise AudioFileError(
            f"unsupported output format {out.suffix or '(none)'!r}; use one of {known}"
        )
    return fmt


def output_subtype(
    out: Path, src: SourceFormat | None, subtype: str | None = None, fmt: str | None = None
) -> str:
    """What a file written at ``out`` holds: ``subtype`` where asked (an M4A's bit depth is
    ALAC's), else the source's where the format can keep it, else the deepest this format
    holds of what the source had (a float WAV made FLAC is 24-bit, not the default 16)."""
    fmt = fmt or output_format(out)
    if subtype is not None:
        _require_subtype(fmt, subtype)
        return MP4_SAMPLE_SUBTYPES.get(subtype, subtype) if fmt == "MP4" else subtype
    if out.suffix.lower() in OPUS_EXTENSIONS:
        return "OPUS"
    if src is not None and keeps_subtype(fmt, src.subtype, src.format):
        return src.subtype
    if fmt == "MP4":
        return "AAC"
    if src is not None and src.subtype in LOSSLESS_SAMPLE_SUBTYPES:
        sample = LOSSLESS_SAMPLE_SUBTYPES[src.subtype]  # its bit depth, as the format's samples
        if sf.check_format(fmt, sample):
            return sample
    if src is not None and src.subtype in DEEP_SUBTYPES and sf.check_format(fmt, "PCM_24"):
        return "PCM_24"
    return sf.default_subtype(fmt)


def keeps_subtype(fmt: str, subtype: str, source_format: str) -> bool:
    """Whether a ``fmt`` output can keep its source's ``subtype``: sample formats (bit depths)
    carry over to any container that holds them, codecs only to their own container. libsndfile
    calls MP3-in-WAV a valid pairing but cannot write it, so an MP3 made into a WAV gets the
    WAV default (16-bit), not an error."""
    if fmt == "MP4":
        return subtype in WRITE_SUBTYPES and (source_format == "MP4" or subtype.startswith("ALAC"))
    return sf.check_format(fmt, subtype) and (
        subtype in SAMPLE_SUBTYPES or source_format.upper() == fmt.upper()
    )


def unreadable(path: Path, exc: BaseException) -> AudioFileError:
    """The error for a file libsndfile cannot open and that is no container FFmpeg reads."""
    return AudioFileError(f"cannot read {path}: {_reason(exc)}")


def _foreign_container(path: Path) -> str | None:
    """What a file libsndfile cannot open seems to be, where its name or first bytes tell."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        head = b""
    if head[4:8] == b"ftyp":
        return "an MP4/M4A file (AAC or ALAC audio)"
    for magic, kind in CONTAINER_MAGIC.items():
        if head.startswith(magic):
            return kind
    suffix = path.suffix.lower()
    return FOREIGN_EXTENSIONS.get(suffix)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    # libsndfile prefixes messages with the path; keep only the reason.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    text = text.removeprefix("Error : ")  # how libsndfile's encoders begin theirs
    return text or type(exc).__name__
