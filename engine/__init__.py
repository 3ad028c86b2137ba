"""voicemend's inpainting engine: audio type, I/O, regions, detection and inpainters (no Qt)."""

from voicemend.engine.audio import Audio, SourceFormat
from voicemend.engine.errors import (
    AudioFileError,
    InpaintError,
    InvalidAudioError,
    RegionError,
    VoicemendError,
)
from voicemend.engine.inpaint import INPAINTERS, Inpainter, InpaintResult, get_inpainter
from voicemend.engine.io import AudioInfo, info, load, save
from voicemend.engine.regions import Region, normalize_regions, parse_region_spec, parse_time_s

__all__ = [
    "INPAINTERS",
    "Audio",
    "AudioFileError",
    "AudioInfo",
    "InpaintError",
    "InpaintResult",
    "Inpainter",
    "InvalidAudioError",
    "Region",
    "RegionError",
    "SourceFormat",
    "VoicemendError",
    "get_inpainter",
    "info",
    "load",
    "normalize_regions",
    "parse_region_spec",
    "parse_time_s",
    "save",
]
