"""Error types that carry a user-facing message; the CLI prints them as one line."""

from __future__ import annotations


class VoicemendError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class AudioFileError(VoicemendError):
    """A file is missing, unreadable, corrupt, empty or in an unsupported format."""


class InvalidAudioError(VoicemendError):
    """Samples are not usable: NaN/Inf values, wrong shape or dtype, bad sample rate."""


class RegionError(VoicemendError):
    """A region is reversed, empty, outside the audio or unparsable."""


class InpaintError(VoicemendError):
    """A region cannot be repaired (for example, no context around it)."""


class CheckpointError(VoicemendError):
    """A checkpoint is missing, malformed, tampered with, or not loadable safely."""
