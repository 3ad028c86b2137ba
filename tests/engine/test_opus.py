"""The call codec: lost packets are concealed where the packet grid says, the rest as sent."""

import numpy as np
import pytest

from voicemend.engine.errors import VoicemendError
from voicemend.engine.opus import OpusCodec, burst_losses, opus_available

from ..conftest import speech_like

needs_opus = pytest.mark.skipif(not opus_available(), reason="libopus0 is not installed")


@needs_opus
def test_a_lost_packet_is_concealed_in_its_own_output_samples():
    codec = OpusCodec(24000, 16000, 20)
    x = speech_like(1.0, 16000, seed=2)
    whole, lossy = codec.roundtrip(x), codec.roundtrip(x, {20})
    n = codec.packet
    assert n == 320 and whole.size == x.size
    assert np.array_equal(whole[: 20 * n], lossy[: 20 * n])  # nothing changes before the loss
    concealed = lossy[20 * n : 21 * n]
    assert np.sqrt(np.mean(concealed**2)) > 0.01  # not a hole
    assert not np.allclose(concealed, whole[20 * n : 21 * n], atol=1e-3)
    assert codec.lost_mask(x.size, {20}).nonzero()[0].tolist() == list(range(20 * n, 21 * n))


@needs_opus
@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_the_delay_is_where_the_output_lines_up_with_the_input(sample_rate):
    codec = OpusCodec(64000, sample_rate, 20)
    x = speech_like(1.0, sample_rate, seed=3)
    y = codec.roundtrip(x)
    lags = np.correlate(y, x[: x.size - 400 * sample_rate // 16000], "valid")
    assert codec.delay == sample_rate * 13 // 2000  # 6.5 ms look-ahead
    assert abs(int(np.argmax(lags)) - codec.delay) <= 4 * sample_rate // 16000


@needs_opus
@pytest.mark.parametrize("packet_ms", [10, 40])
def test_other_packet_lengths_keep_whole_packets(packet_ms):
    codec = OpusCodec(16000, 16000, packet_ms)
    x = speech_like(0.55, 16000)
    y = codec.roundtrip(x, {3})
    assert y.size == x.size // codec.packet * codec.packet
    assert np.all(np.isfinite(y))


def test_bad_codec_settings_are_named():
    with pytest.raises(VoicemendError, match="44100"):
        OpusCodec(sample_rate=44100)
    with pytest.raises(VoicemendError, match="not 30 ms"):
        OpusCodec(packet_ms=30)
    with pytest.raises(VoicemendError, match="bit rates"):
        OpusCodec(bitrate=1000)


def test_burst_losses_come_in_bounded_bursts():
    rng = np.random.default_rng(0)
    lost = sorted(burst_losses(20000, rng, bursts_per_packet=0.02, max_burst=4))
    runs, start = [], lost[0]
    for a, b in zip(lost, [*lost[1:], None], strict=True):
        if b != a + 1:
            runs.append(a - start + 1)
            start = b
    assert max(runs) <= 4 * 2  # two bursts may touch
    assert 250 < len(runs) < 450  # about 400 bursts started, some merge
    assert np.mean(np.array(runs) == 1) > 0.3  # single packets are the commonest
    assert burst_losses(100, rng, bursts_per_packet=0.0) == set()
