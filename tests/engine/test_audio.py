import numpy as np
import pytest

from voicemend.engine import Audio, InvalidAudioError
from voicemend.engine.audio import check_repair_rate


def test_shape_dtype_and_rate_are_validated():
    with pytest.raises(InvalidAudioError, match="channels, frames"):
        Audio(np.zeros(10, dtype=np.float32), 16000)
    with pytest.raises(InvalidAudioError, match="float32"):
        Audio(np.zeros((1, 10)), 16000)
    with pytest.raises(InvalidAudioError, match="sample rate"):
        Audio(np.zeros((1, 10), dtype=np.float32), 0)
    with pytest.raises(InvalidAudioError, match="sample rate"):
        Audio(np.zeros((1, 10), dtype=np.float32), 16000.5)  # type: ignore[arg-type]


def test_nan_is_rejected_with_its_position():
    x = np.zeros((2, 32000), dtype=np.float32)
    x[1, 16000] = np.nan
    with pytest.raises(InvalidAudioError, match=r"first at frame 16000 \(1\.000 s\), channel 1"):
        Audio(x, 16000)


def test_samples_are_read_only_and_operations_return_new_buffers(mono16k):
    with pytest.raises(ValueError):
        mono16k.samples[0, 0] = 1.0
    sliced = mono16k.slice_s(0.5, 1.0)
    assert sliced.n_frames == 8000 and sliced is not mono16k
    assert sliced.sample_rate == mono16k.sample_rate


def test_from_array_layouts():
    interleaved = np.zeros((100, 2), dtype=np.float32)
    a = Audio.from_array(interleaved, 8000, channels_first=False)
    assert (a.n_channels, a.n_frames) == (2, 100)
    assert Audio.from_array(np.zeros(5), 8000).n_channels == 1


@pytest.mark.parametrize(
    ("src", "dst"), [(16000, 48000), (48000, 16000), (44100, 16000), (22050, 8000)]
)
def test_resampling_keeps_duration_and_a_tone(src, dst):
    t = np.arange(src) / src
    audio = Audio.from_array(np.sin(2 * np.pi * 440 * t), src)
    out = audio.resampled(dst)
    assert out.sample_rate == dst
    assert abs(out.n_frames - dst) <= 1
    spectrum = np.abs(np.fft.rfft(out.samples[0]))
    peak_hz = np.argmax(spectrum) * dst / out.n_frames
    assert abs(peak_hz - 440) < 2


def test_to_mono_averages(stereo48k):
    mono = stereo48k.to_mono()
    np.testing.assert_allclose(mono.samples[0], stereo48k.samples.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("rate", [4000, 384000])
def test_repair_rate_range(rate):
    with pytest.raises(InvalidAudioError, match="outside the supported"):
        check_repair_rate(rate)
