"""Fetch the selection from a running Audacity into the editor, and send the repairs back.

"Fetch" exports the selected range of the first selected audio track (the whole track if the
selection is empty) and opens it; "send" pastes each repaired region, and nothing else, back over
the same place in that track: one undo step per repair in Audacity, every other sample untouched.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from voicemend.engine.audio import Audio
from voicemend.engine.errors import VoicemendError
from voicemend.gui.document import Document
from voicemend.plugin.audacity import AudacityPipe, Track
from voicemend.plugin.audacity_ops import current_selection, export_range, paste_over, wave_tracks


@dataclass(frozen=True)
class AudacityOrigin:
    """Where a fetched file came from: the track and the time of its first sample."""

    track: Track
    start_s: float
    path: Path


class AudacityLink:
    def __init__(self, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self.folder = Path(tempfile.mkdtemp(prefix="voicemend-editor-audacity-"))
        self.origin: AudacityOrigin | None = None

    def fetch(self) -> AudacityOrigin:
        with AudacityPipe(timeout_s=self.timeout_s) as pipe:
            selected = wave_tracks(pipe.tracks(), selected_only=True)
            if not selected:
                raise VoicemendError("select an audio track (and a range) in Audacity first")
            track = selected[0]
            t0, t1 = current_selection(pipe)
            if t1 <= t0:
                t0, t1 = track.start_s, track.end_s
            t0, t1 = max(t0, track.start_s), min(t1, track.end_s)
            path = self.folder / f"{_safe(track.name)}-{t0:.3f}s.wav"
            audio = export_range(pipe, track, t0, t1, path)
        first = round(t0 * audio.sample_rate) / audio.sample_rate
        self.origin = AudacityOrigin(track, first, path)
        return self.origin

    def send(self, document: Document) -> int:
        """Paste the document's repairs back into Audacity; returns how many were sent."""
        origin = self.origin
        if origin is None or document.path.resolve() != origin.path.resolve():
            raise VoicemendError("this file did not come from Audacity: use Fetch first")
        if not document.patches:
            raise VoicemendError("nothing to send: no repairs yet")
        sr = document.sample_rate
        with AudacityPipe(timeout_s=self.timeout_s) as pipe:
            tracks = pipe.tracks()
            if origin.track.index >= len(tracks) or tracks[origin.track.index].name != (
                origin.track.name
            ):
                raise VoicemendError(
                    f"Audacity's track {origin.track.name!r} moved or is gone; fetch again"
                )
            for n, patch in enumerate(sorted(document.patches, key=lambda p: p.start)):
                piece = Audio(document.edited(patch.start, patch.end), sr)
                paste_over(
                    pipe,
                    tracks[origin.track.index],
                    origin.start_s + patch.start / sr,
                    piece,
                    self.folder / f"send-{n}.wav",
                )
        return len(document.patches)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "track"
