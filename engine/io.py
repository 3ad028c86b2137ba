"""Audio file reading and atomic writing with soundfile, keeping format and bit depth."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from voicemend.engine.audio import Audio, SourceFormat, check_finite
from voicemend.engine.errors import AudioFileError

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
}
OPUS_EXTENSIONS = {".opus"}
IO_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding the samples."""

    path: str
    format: str
    subtype: str
    sample_rate: int
    n_channels: int
    n_frames: int

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate if self.sample_rate else 0.0


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """Header facts of an audio file; raises AudioFileError with a clear reason."""
    p = _existing_file(path)
    try:
        i = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read {p}: {_reason(exc)}") from None
    return AudioInfo(str(p), i.format, i.subtype, int(i.samplerate), int(i.channels), int(i.frames))


@dataclass(frozen=True)
class Levels:
    """Peak and RMS per channel in dBFS (-inf for digital silence)."""

    peak_dbfs: tuple[float, ...]
    rms_dbfs: tuple[float, ...]


def measure_levels(path: str | os.PathLike[str], block_frames: int = 1 << 20) -> Levels:
    """Levels of a file read block by block, so that huge files use little memory."""
    p = _existing_file(path)
    try:
        with sf.SoundFile(str(p)) as f:
            peak = np.zeros(f.channels)
            energy = np.zeros(f.channels)
            count = 0
            for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                peak = np.maximum(peak, np.abs(block).max(axis=0, initial=0.0))
                energy += np.square(block, dtype=np.float64).sum(axis=0)
                count += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read {p}: {_reason(exc)}") from None
    with np.errstate(divide="ignore"):
        peak_db = 20 * np.log10(peak)
        rms_db = 10 * np.log10(energy / max(count, 1))
    return Levels(tuple(float(v) for v in peak_db), tuple(float(v) for v in rms_db))


def load(path: str | os.PathLike[str], *, allow_empty: bool = False) -> Audio:
    """Decode a file into an Audio (float32, channels × frames), remembering its format."""
    p = _existing_file(path)
    try:
        with sf.SoundFile(str(p)) as f:
            samples = _read_channels_first(f)
            fmt, subtype, rate = f.format, f.subtype, f.samplerate
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read {p}: {_reason(exc)}") from None
    if samples.shape[1] == 0 and not allow_empty:
        raise AudioFileError(f"{p} holds no audio frames (empty file)")
    try:
        check_finite(samples, rate)
    except Exception as exc:
        raise AudioFileError(f"{p}: {exc}") from None
    return Audio(samples, int(rate), SourceFormat(fmt, subtype, str(p)))


def _read_channels_first(f: sf.SoundFile) -> np.ndarray:
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
    out = Path(path)
    if out.exists() and not overwrite:
        raise AudioFileError(f"{out} exists; pass an explicit overwrite flag to replace it")
    if not out.parent.exists():
        raise AudioFileError(f"output folder {out.parent} does not exist")
    fmt = (format or _format_for(out)).upper()
    subtype = _subtype_for(audio, fmt, subtype, out)
    check_finite(audio.samples, audio.sample_rate)
    try:
        with (
            atomic_path(out) as tmp,
            sf.SoundFile(
                str(tmp), "w", audio.sample_rate, audio.n_channels, subtype, format=fmt
            ) as f,
        ):
            # Block by block: writing the transposed whole would copy all of it first.
            for start in range(0, audio.n_frames, IO_BLOCK_FRAMES):
                f.write(audio.samples[:, start : start + IO_BLOCK_FRAMES].T)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioFileError(f"cannot write {out}: {_reason(exc)}") from None
    return out


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


def write_text_atomic(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write a text file atomically; an existing file is replaced only with ``overwrite``."""
    out = Path(path)
    if out.exists() and not overwrite:
        raise AudioFileError(f"{out} exists; pass an explicit overwrite flag to replace it")
    if not out.parent.exists():
        raise AudioFileError(f"output folder {out.parent} does not exist")
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


def _format_for(out: Path) -> str:
    fmt = EXTENSION_FORMATS.get(out.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(EXTENSION_FORMATS))
        raise AudioFileError(
            f"unsupported output format {out.suffix or '(none)'!r}; use one of {known}"
        )
    return fmt


def _subtype_for(audio: Audio, fmt: str, subtype: str | None, out: Path) -> str:
    if subtype is not None:
        if not sf.check_format(fmt, subtype):
            raise AudioFileError(f"subtype {subtype} cannot be written as {fmt}")
        return subtype
    if out.suffix.lower() in OPUS_EXTENSIONS:
        return "OPUS"
    src = audio.source
    if src is not None and sf.check_format(fmt, src.subtype):
        return src.subtype
    return sf.default_subtype(fmt)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    # libsndfile prefixes messages with the path; keep only the reason.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    return text or type(exc).__name__
