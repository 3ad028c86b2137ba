"""Speech corpora described by a ``manifest.csv`` (the format of ../shared/data/speech)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from voicemend.engine.errors import VoicemendError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}
# Where the shared speech data sits relative to a clone of the repository.
DEFAULT_SPEECH_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech"


@dataclass(frozen=True)
class SpeechFile:
    path: Path
    speaker: str = ""
    split: str = ""
    transcript: str = ""
    duration_s: float = 0.0


def speech_root() -> Path:
    """``$VOICEMEND_SPEECH_DATA`` if set, else ``../shared/data/speech`` beside the repository
    (or beside the working folder, for an installed copy)."""
    if "VOICEMEND_SPEECH_DATA" in os.environ:
        return Path(os.environ["VOICEMEND_SPEECH_DATA"])
    beside_cwd = Path.cwd().parent / "shared" / "data" / "speech"
    return DEFAULT_SPEECH_ROOT if DEFAULT_SPEECH_ROOT.is_dir() else beside_cwd


def list_speech(
    root: str | os.PathLike[str] | None = None, split: str | None = "dev"
) -> list[SpeechFile]:
    """Files of a manifest folder (filtered by split), or every audio file of a plain folder."""
    folder = Path(root) if root is not None else speech_root()
    if not folder.is_dir():
        raise VoicemendError(f"speech data folder {folder} does not exist")
    manifest = folder / "manifest.csv"
    if not manifest.exists():
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        return [SpeechFile(p) for p in files]
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        SpeechFile(
            path=folder / row["path"],
            speaker=row.get("speaker", ""),
            split=row.get("split", ""),
            transcript=row.get("transcript", "") or "",
            duration_s=float(row.get("duration_s") or 0.0),
        )
        for row in rows
        if split is None or row.get("split") == split
    ]
