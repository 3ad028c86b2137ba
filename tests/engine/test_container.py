"""M4A and other FFmpeg containers: read as libsndfile's formats are, written as AAC or ALAC."""

from __future__ import annotations

import av
import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from voicemend.engine import Audio
from voicemend.engine.container import DEFAULT_AAC_KBPS_PER_CHANNEL, ContainerFile
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.errors import AudioFileError
from voicemend.engine.io import (
    AudioReader,
    check_subtype,
    coded_bitrate_kbps,
    info,
    load,
    measure_levels,
    save,
)
from voicemend.engine.lossy import is_lossy
from voicemend.engine.runs import true_runs

from ..conftest import speech_like


def _lag(a: np.ndarray, b: np.ndarray) -> int:
    """Samples by which ``a`` trails ``b`` (cross-correlation peak)."""
    n = min(a.size, b.size)
    c = scipy.signal.correlate(a[:n], b[:n], mode="full", method="fft")
    return int(np.argmax(c)) - (n - 1)


def _snr_db(clean: np.ndarray, coded: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean**2) / np.sum((coded - clean) ** 2)))


def _write_with_ffmpeg(path, samples: np.ndarray, rate: int, container: str, codec: str) -> None:
    """A mono file coded with FFmpeg directly: raw AAC (ADTS), Opus in WebM, AMR: streams
    whose containers state no exact length."""
    with av.open(str(path), "w", format=container) as c:
        stream = c.add_stream(codec, rate=rate, layout="mono")
        name = stream.codec_context.format.name  # fltp, or s16 for libopus and AMR
        if name.startswith("flt"):
            data = samples[None, :]
        else:
            data = np.round(samples * 32767).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(data, format=name, layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(packet)


def test_aac_m4a_round_trip_keeps_length_time_and_rate(tmp_path, stereo48k):
    """AAC's priming and padding are cut, so the decoded file lines up with what was coded,
    sample for sample in time, and is as long."""
    path = save(stereo48k, tmp_path / "call.m4a")
    i = info(path)
    assert (i.format, i.subtype, i.sample_rate, i.n_channels) == ("MP4", "AAC", 48_000, 2)
    assert i.n_frames == stereo48k.n_frames
    assert i.bitrate_kbps == pytest.approx(2 * DEFAULT_AAC_KBPS_PER_CHANNEL, rel=0.15)
    back = load(path)
    assert back.samples.shape == stereo48k.samples.shape
    assert back.source.format == "MP4" and back.source.subtype == "AAC"
    for ch in range(2):
        assert _lag(back.samples[ch], stereo48k.samples[ch]) == 0
        assert _snr_db(stereo48k.samples[ch], back.samples[ch]) > 15


def test_alac_is_lossless_and_keeps_its_bit_depth(tmp_path):
    rng = np.random.default_rng(0)
    for subtype, bits in (("PCM_16", 16), ("PCM_24", 24)):
        ints = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(2, 9000))
        audio = Audio((ints / 2 ** (bits - 1)).astype(np.float32), 44_100)
        alac = f"ALAC_{bits}"
        path = save(audio, tmp_path / f"{bits}.m4a", subtype=alac)
        assert info(path).subtype == alac
        # a bit depth asked of an M4A is ALAC at that depth
        assert info(save(audio, tmp_path / f"{bits}-asked.m4a", subtype=subtype)).subtype == alac
        back = load(path)
        np.testing.assert_array_equal(back.samples, audio.samples)
        # written again as M4A it stays ALAC; as WAV it takes the bit depth, not 16-bit
        assert info(save(back, tmp_path / f"{bits}-again.m4a")).subtype == alac
        wav = save(back, tmp_path / f"{bits}.wav")
        assert info(wav).subtype == subtype
        np.testing.assert_array_equal(load(wav).samples, audio.samples)
        # and as MP3 it is coded (it failed: the bit depth was asked of the MP3 encoder)
        assert info(save(back, tmp_path / f"{bits}.mp3")).subtype == "MPEG_LAYER_III"


@pytest.mark.parametrize(
    ("container", "codec", "sample_format", "bits", "subtype", "written"),
    [
        ("matroska", "flac", "s32", 24, "FLAC_24", "PCM_24"),
        ("matroska", "flac", "s16", 16, "FLAC_16", "PCM_16"),
        ("matroska", "pcm_s24le", "s32", 24, "PCM_24", "PCM_24"),
        ("mov", "pcm_s24le", "s32", 24, "PCM_24", "PCM_24"),
        ("matroska", "pcm_f32le", "flt", 32, "FLOAT", "FLOAT"),
    ],
)
def test_lossless_streams_in_containers_keep_their_bit_depth(
    tmp_path, container, codec, sample_format, bits, subtype, written
):
    """A 24-bit FLAC in Matroska (or 24-bit samples in a MOV) repaired to WAV stays 24-bit: it
    was written as 16-bit, 8 bits of every sample lost, when its subtype was the codec's name."""
    rate, n = 48_000, 4800
    rng = np.random.default_rng(1)
    if sample_format == "flt":
        data = (rng.uniform(-0.5, 0.5, n)).astype(np.float32)
        expected = data
    else:
        ints = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=n)
        shift = 32 - bits if sample_format == "s32" else 0
        data = (ints << shift).astype(np.int32 if sample_format == "s32" else np.int16)
        expected = (ints / 2 ** (bits - 1)).astype(np.float32)
    path = tmp_path / ("clip.mov" if container == "mov" else "clip.mka")
    with av.open(str(path), "w", format=container) as c:
        stream = c.add_stream(codec, rate=rate, layout="mono")
        stream.format = sample_format
        frame = av.AudioFrame.from_ndarray(data[None], format=sample_format, layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(packet)
    assert info(path).subtype == subtype
    back = load(path)
    np.testing.assert_array_equal(back.samples[0], expected)
    wav = save(back, tmp_path / "out.wav")
    assert info(wav).subtype == written
    np.testing.assert_array_equal(load(wav).samples[0], expected)
    assert info(save(back, tmp_path / "out.flac")).subtype == (
        "PCM_24" if written in ("PCM_24", "FLOAT") else written
    )
    assert info(save(back, tmp_path / "out.mp3")).subtype == "MPEG_LAYER_III"


def test_blocks_and_seeks_read_what_load_reads(tmp_path, stereo48k):
    path = save(stereo48k, tmp_path / "talk.m4a")
    whole = load(path).samples
    with AudioReader(path) as reader:
        first = reader.read(30_000)
        reader.seek(50_000)
        later = reader.read(1_000)
        reader.seek(10_000)  # backwards: decoded again from the start
        earlier = reader.read(500)
        reader.seek(reader.n_frames - 100)
        tail = reader.read(1_000)
    np.testing.assert_array_equal(first, whole[:, :30_000])
    np.testing.assert_array_equal(later, whole[:, 50_000:51_000])
    np.testing.assert_array_equal(earlier, whole[:, 10_000:10_500])
    np.testing.assert_array_equal(tail, whole[:, -100:])
    levels = measure_levels(path)
    rms = 10 * np.log10(np.mean(whole.astype(np.float64) ** 2, axis=1))
    np.testing.assert_allclose(levels.rms_dbfs, rms, atol=1e-3)


def test_a_seek_back_within_the_history_decodes_nothing_again(tmp_path, stereo48k, monkeypatch):
    """Readers step back a little (a region's context after its levels): that comes from the
    samples kept; further back the file is decoded again from its start, and both give the
    samples a straight read gives."""
    import voicemend.engine.container as container

    monkeypatch.setattr(container, "HISTORY_S", 0.5)
    path = save(stereo48k, tmp_path / "talk.m4a")
    whole = load(path).samples
    restarts = []
    real_restart = ContainerFile._restart
    monkeypatch.setattr(
        ContainerFile, "_restart", lambda self: restarts.append(1) or real_restart(self)
    )
    with ContainerFile(path) as f:
        f.read(40_000)
        for frame, n in ((40_000 - 20_000, 100), (30_000, 5_000), (34_000, 10)):
            assert f.seek(frame) == frame
            np.testing.assert_array_equal(f.read(n).T, whole[:, frame : frame + n])
        assert not restarts  # each within 0.5 s (24 000 frames) of the furthest read
        f.seek(1_000)
        np.testing.assert_array_equal(f.read(100).T, whole[:, 1_000:1_100])
        assert len(restarts) == 1


@pytest.mark.parametrize(
    ("name", "container", "codec", "rate", "fmt", "subtype", "padded_frames"),
    [
        ("clip.aac", "adts", "aac", 16_000, "AAC", "AAC", 3 * 1024),
        ("clip.webm", "webm", "libopus", 48_000, "MATROSKA", "OPUS", 0),
        ("clip.amr", "amr", "libopencore_amrnb", 8_000, "AMR", "AMRNB", 2 * 160),
    ],
)
def test_a_stream_with_no_stated_length_is_counted(
    tmp_path, name, container, codec, rate, fmt, subtype, padded_frames
):
    """Raw AAC, WebM and AMR state no exact length: each is decoded once to count it, and
    holds what was coded plus the codec's priming and padding where the container does not
    say to cut them (ADTS and AMR; WebM's Opus pre-skip is cut)."""
    x = speech_like(1.0, rate)
    path = tmp_path / name
    _write_with_ffmpeg(path, x, rate, container, codec)
    with ContainerFile(path) as f:
        counted = f.frames
        assert (f.format, f.subtype, f.samplerate) == (fmt, subtype, rate)
        assert f.read().shape == (counted, 1)
    assert x.size <= counted <= x.size + padded_frames
    assert load(path).n_frames == counted == info(path).n_frames
    assert is_lossy(info(path).subtype)


def test_a_length_counted_once_is_not_counted_again_until_the_file_changes(tmp_path, monkeypatch):
    """`info`, the read and a coded output's bitrate each open the file: a WebM is decoded
    through to count it only the first time; rewritten, it is counted anew."""
    path = tmp_path / "talk.webm"
    _write_with_ffmpeg(path, speech_like(1.0, 48_000), 48_000, "webm", "libopus")
    decoded = []
    real = ContainerFile._next_decoded
    monkeypatch.setattr(
        ContainerFile, "_next_decoded", lambda self: decoded.append(1) or real(self)
    )
    first = info(path).n_frames
    counting = len(decoded)
    assert counting > 10
    assert info(path).n_frames == first and len(decoded) == counting  # not decoded again
    assert load(path).n_frames == first and len(decoded) < 2 * counting + 2  # read once
    _write_with_ffmpeg(path, speech_like(2.0, 48_000), 48_000, "webm", "libopus")
    assert info(path).n_frames >= 2 * 48_000 > first


def _damaged_m4a(tmp_path, audio: Audio):
    """An M4A of ``audio`` and a copy with 600 bytes zeroed in the middle of its samples."""
    good = save(audio, tmp_path / "good.m4a")
    data = bytearray(good.read_bytes())
    middle = len(data) // 2  # the samples (mdat) come before the index (moov) at the end
    data[middle : middle + 600] = bytes(600)
    bad = tmp_path / "damaged.m4a"
    bad.write_bytes(bytes(data))
    return good, bad


def test_a_damaged_stretch_is_read_as_silence_of_its_length(tmp_path):
    """A recording damaged in its middle (a bad sector, a broken upload): the packets the
    decoder refuses come out as silence of their length, with one warning, so the file keeps
    its times and the detector finds the hole as a dropout."""
    rate = 48000
    audio = Audio.from_array(speech_like(4.0, rate, seed=6), rate)
    good, bad = _damaged_m4a(tmp_path, audio)
    with pytest.warns(UserWarning, match=r"damaged.m4a: .* ms from .* s could not be decoded"):
        damaged = load(bad)
    clean = load(good).samples[0]
    x = damaged.samples[0]
    assert x.size == clean.size
    (hole,) = list(true_runs(x == 0, 512))
    assert (hole[1] - hole[0]) % 1024 == 0  # whole AAC frames
    np.testing.assert_array_equal(x[: hole[0]], clean[: hole[0]])
    found = DropoutDetector()(damaged)
    assert any(d.region.start <= hole[0] < d.region.end for d in found)


def test_a_renamed_m4a_is_read_by_its_first_bytes(tmp_path, mono16k):
    m4a = save(mono16k, tmp_path / "memo.m4a")
    renamed = tmp_path / "memo.wav"
    renamed.write_bytes(m4a.read_bytes())
    assert info(renamed).format == "MP4"
    np.testing.assert_array_equal(load(renamed).samples, load(m4a).samples)


def test_aac_output_keeps_a_coded_sources_bitrate(tmp_path, stereo48k):
    """A repaired M4A (or one made from an MP3) is coded again at the source's bitrate, not at
    the default."""
    src = tmp_path / "podcast.mp3"
    sf.write(src, stereo48k.samples.T, 48_000, format="MP3", compression_level=0.5,
             bitrate_mode="CONSTANT")  # fmt: skip
    source_kbps = coded_bitrate_kbps(info(src))  # the MP3's: its size over its duration
    assert source_kbps is not None and source_kbps < 2 * DEFAULT_AAC_KBPS_PER_CHANNEL * 0.9
    out = save(load(src), tmp_path / "podcast.m4a")
    assert info(out).bitrate_kbps == pytest.approx(source_kbps, rel=0.1)
    # and a second generation keeps the first's
    again = save(load(out), tmp_path / "again.m4a")
    assert info(again).bitrate_kbps == pytest.approx(info(out).bitrate_kbps, rel=0.1)


def test_m4a_outputs_refuse_what_they_cannot_hold(tmp_path):
    for subtype in ("PCM_32", "FLOAT", "ULAW"):
        with pytest.raises(AudioFileError, match=f"or ALAC at 16 or 24 bits .* not {subtype}"):
            check_subtype(tmp_path / "x.m4a", subtype)
    high = Audio(np.zeros((1, 19200), np.float32), 192_000)
    with pytest.raises(AudioFileError, match="AAC codes 7350-96000 Hz audio, not 192000 Hz"):
        save(high, tmp_path / "x.m4a")
    surround = Audio(np.zeros((6, 4800), np.float32), 48_000)
    with pytest.raises(AudioFileError, match="1 or 2 channels, not 6"):
        save(surround, tmp_path / "x.m4a")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_file_with_no_audio_stream_says_so(tmp_path):
    """An MP4 with video only (a screen recording without sound)."""
    path = tmp_path / "screen.mp4"
    with av.open(str(path), "w") as c:
        stream = c.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 32, 32
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(packet)
    with pytest.raises(AudioFileError, match="holds no audio stream"):
        load(path)
