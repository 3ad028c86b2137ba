"""Playback through sounddevice, with a cursor that the audio callback pulls blocks from.

The cursor is plain Python so tests can drive it without an audio device; ``Player`` wraps it
in a ``sounddevice.OutputStream``. Where PortAudio or an output device is missing (CI, servers),
``Player.available`` is False and ``unavailable_reason`` says why; nothing raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

Reader = Callable[[int, int], np.ndarray]  # (start, end) -> float32 (channels, end - start)


class Cursor:
    """Where playback is: frames [start, end) of ``read``, optionally looping.

    ``read`` is looked up on every block, so swapping it (A/B) takes effect while playing.
    """

    def __init__(self, read: Reader, start: int, end: int, loop: bool = False) -> None:
        if end <= start:
            raise ValueError("nothing to play: the range is empty")
        self.read, self.start, self.end, self.loop = read, start, end, loop
        self.position = start
        self.finished = False
        self._lock = threading.Lock()

    def fill(self, out: np.ndarray) -> bool:
        """Write the next ``len(out)`` frames into ``out`` (frames, channels); False once done."""
        with self._lock:
            n, done = out.shape[0], 0
            while done < n:
                if self.position >= self.end:
                    if not self.loop:
                        out[done:] = 0.0
                        self.finished = True
                        return False
                    self.position = self.start
                take = min(n - done, self.end - self.position)
                block = self.read(self.position, self.position + take)
                out[done : done + take] = block.T[:, : out.shape[1]]
                done += take
                self.position += take
            return True

    def seek(self, frame: int) -> None:
        with self._lock:
            self.position = min(max(self.start, frame), self.end)


class Player:
    """Plays a cursor on the default output device, if there is one."""

    def __init__(self) -> None:
        self.unavailable_reason = ""
        self.cursor: Cursor | None = None
        self._stream = None
        try:
            import sounddevice as sd

            sd.query_devices(kind="output")
            self._sd = sd
        except Exception as exc:  # OSError (no PortAudio), PortAudioError (no device)
            self._sd = None
            self.unavailable_reason = f"playback unavailable: {str(exc).splitlines()[0]}"

    @property
    def available(self) -> bool:
        return self._sd is not None

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    def play(self, cursor: Cursor, sample_rate: int, channels: int) -> bool:
        """Start playing ``cursor``; False (and nothing raised) when no device can play."""
        self.stop()
        self.cursor = cursor
        if self._sd is None:
            return False
        sd = self._sd

        def callback(outdata, frames, _time, _status) -> None:
            if not cursor.fill(outdata):
                raise sd.CallbackStop

        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate, channels=channels, dtype="float32", callback=callback
            )
            self._stream.start()
        except Exception as exc:  # the device vanished or refuses this rate
            self._stream = None
            self.unavailable_reason = f"playback failed: {str(exc).splitlines()[0]}"
            return False
        return True

    def stop(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            finally:
                self._stream = None

    @property
    def position(self) -> int | None:
        return self.cursor.position if self.cursor is not None else None
