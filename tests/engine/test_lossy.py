import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import Audio
from voicemend.engine.errors import VoicemendError
from voicemend.engine.lossy import (
    LossyFormat,
    file_bitrate_kbps,
    is_lossy,
    mp3_encoder_options,
    roundtrip,
)

from ..conftest import speech_like


def test_parse_names_the_codec_and_its_bitrate():
    assert LossyFormat.parse("MP3:128") == LossyFormat("mp3", 128.0)
    assert LossyFormat.parse("ogg") == LossyFormat("ogg", None)
    assert LossyFormat.parse("mp3:64").label == "mp3 64 kb/s"
    assert LossyFormat.parse("aac:64") == LossyFormat("aac", 64.0)
    for bad, why in (
        ("wav", "unknown codec 'wav'"),
        ("mp3:fast", "not a number"),
        ("mp3:1000", "outside 8-320"),
        ("opus:64", "mp3 and aac only"),
        ("aac:999", "AAC bitrate 999 kb/s is outside"),
    ):
        with pytest.raises(VoicemendError, match=why):
            LossyFormat.parse(bad)


def test_which_subtypes_are_lossy():
    assert is_lossy("MPEG_LAYER_III") and is_lossy("vorbis") and is_lossy("OPUS")
    assert is_lossy("AAC") and is_lossy("WMAV2") and is_lossy("AMRNB")
    assert not is_lossy("ALAC_24")
    assert not is_lossy("PCM_16") and not is_lossy("FLOAT")


@pytest.mark.parametrize(
    ("rate", "kbps"), [(44100, 64), (44100, 128), (48000, 256), (22050, 64), (16000, 32)]
)
def test_mp3_is_written_near_the_bitrate_asked_for(tmp_path, rate, kbps):
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, (rate * 2, 2)).astype(np.float32)
    path = tmp_path / "x.mp3"
    sf.write(str(path), noise, rate, **mp3_encoder_options(kbps, rate))
    assert file_bitrate_kbps(path, 2.0) == pytest.approx(kbps, rel=0.1)


def test_the_bitrate_leaves_out_an_id3_tag(tmp_path):
    """Cover art in an ID3v2 tag can outweigh minutes of speech."""
    noise = np.random.default_rng(1).uniform(-0.3, 0.3, (44100 * 2, 1)).astype(np.float32)
    plain = tmp_path / "plain.mp3"
    sf.write(str(plain), noise, 44100, **mp3_encoder_options(64, 44100))
    art = 200_000
    size = bytes((art >> shift) & 0x7F for shift in (21, 14, 7, 0))  # syncsafe
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(b"ID3\x04\x00\x00" + size + bytes(art) + plain.read_bytes())
    assert sf.info(str(tagged)).frames == sf.info(str(plain)).frames
    assert file_bitrate_kbps(tagged, 2.0) == pytest.approx(file_bitrate_kbps(plain, 2.0))
    assert file_bitrate_kbps(plain, 0.0) is None


@pytest.mark.parametrize("codec", ["mp3:128", "ogg", "opus", "aac:64", "aac"])
def test_a_round_trip_keeps_length_and_timing(codec):
    rate = 48000
    x = speech_like(1.5, rate, seed=4)
    audio = Audio.from_array(np.stack([x, 0.5 * x]), rate)
    coded = roundtrip(audio, LossyFormat.parse(codec))
    assert coded.samples.shape == audio.samples.shape and coded.sample_rate == rate
    a, b = audio.samples[0, rate // 2 : rate], coded.samples[0, rate // 2 : rate]
    lags = range(-40, 41)
    best = max(lags, key=lambda k: float(np.dot(a[40:-40], b[40 + k : b.size - 40 + k])))
    assert best == 0
    snr_db = 10 * np.log10(np.sum(a**2) / np.sum((a - b) ** 2))
    assert 8 < snr_db < 60  # coded, and not silence


def test_opus_at_a_rate_it_cannot_code_is_refused_by_name():
    audio = Audio.from_array(speech_like(0.2, 44100, seed=1), 44100)
    with pytest.raises(VoicemendError, match="opus codes 8000, 12000, 16000, 24000, 48000 Hz only"):
        roundtrip(audio, LossyFormat.parse("opus"))
    LossyFormat.parse("mp3").check_rate(44100)  # any rate libsndfile's MP3 takes
