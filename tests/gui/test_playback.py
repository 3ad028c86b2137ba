"""Playback: the cursor the audio callback pulls from, and no crash without a device."""

import numpy as np
import pytest

from voicemend.gui.playback import Cursor, Player


def _ramp(n=1000, channels=2):
    return np.tile(np.arange(n, dtype=np.float32), (channels, 1))


def test_cursor_plays_a_range_then_silence():
    x = _ramp()
    cur = Cursor(lambda a, b: x[:, a:b], 100, 350)
    out = np.empty((200, 2), np.float32)
    assert cur.fill(out)
    np.testing.assert_array_equal(out[:, 0], np.arange(100, 300))
    assert not cur.fill(out)
    np.testing.assert_array_equal(out[:50, 1], np.arange(300, 350))
    assert np.all(out[50:] == 0) and cur.finished


def test_cursor_loops_seeks_and_switches_source_while_playing():
    a, b = _ramp(), -_ramp()
    cur = Cursor(lambda s, e: a[:, s:e], 0, 100, loop=True)
    out = np.empty((150, 2), np.float32)
    assert cur.fill(out)
    np.testing.assert_array_equal(out[100:, 0], np.arange(0, 50))  # wrapped round
    cur.read = lambda s, e: b[:, s:e]  # A/B switch mid-play
    cur.seek(10)
    cur.fill(out[:5])
    np.testing.assert_array_equal(out[:5, 0], -np.arange(10, 15))
    with pytest.raises(ValueError, match="empty"):
        Cursor(lambda s, e: a[:, s:e], 5, 5)


def test_player_without_an_output_device_says_so(monkeypatch):
    import sounddevice as sd

    def no_device(*_a, **_k):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", no_device)
    player = Player()
    assert not player.available
    assert "playback unavailable" in player.unavailable_reason
    x = _ramp()
    assert player.play(Cursor(lambda s, e: x[:, s:e], 0, 100), 16000, 2) is False
    assert not player.playing
    player.stop()
