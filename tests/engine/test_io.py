from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import Audio, AudioFileError, info, load, save
from voicemend.engine.audio import SourceFormat


def write(path, data, rate=16000, subtype="PCM_16"):
    sf.write(str(path), data, rate, subtype=subtype)
    return path


@pytest.mark.parametrize(
    ("name", "subtype"),
    [
        ("a.wav", "PCM_16"),
        ("b.wav", "PCM_24"),
        ("c.wav", "FLOAT"),
        ("d.flac", "PCM_16"),
        ("e.flac", "PCM_24"),
    ],
)
def test_round_trip_is_bit_exact_and_keeps_format(tmp_path, name, subtype):
    rng = np.random.default_rng(0)
    data = (rng.uniform(-0.9, 0.9, (4000, 2))).astype(np.float32)
    src = write(tmp_path / name, data, 44100, subtype)
    audio = load(src)
    assert audio.source is not None and audio.source.subtype == subtype
    out = save(audio, tmp_path / f"out_{name}")
    assert sf.info(str(out)).subtype == subtype
    assert sf.info(str(out)).samplerate == 44100
    a, _ = sf.read(str(src), dtype="int32" if subtype != "FLOAT" else "float32")
    b, _ = sf.read(str(out), dtype="int32" if subtype != "FLOAT" else "float32")
    np.testing.assert_array_equal(a, b)


def test_subtype_falls_back_to_the_deepest_the_format_holds(tmp_path):
    """A float or 32-bit WAV made FLAC keeps 24 bits (not FLAC's default 16); a 16-bit
    source and a coded one get 16."""
    x = np.linspace(-0.5, 0.5, 100, dtype=np.float32)
    for subtype, expected in [("FLOAT", "PCM_24"), ("PCM_32", "PCM_24"), ("PCM_16", "PCM_16")]:
        src = write(tmp_path / f"{subtype}.wav", x, subtype=subtype)
        out = save(load(src), tmp_path / f"{subtype}.flac")
        assert sf.info(str(out)).subtype == expected
    mp3 = tmp_path / "a.mp3"
    sf.write(str(mp3), np.zeros(4000, np.float32), 16000)
    assert sf.info(str(save(load(mp3), tmp_path / "mp3.flac"))).subtype == "PCM_16"


def test_ogg_and_mp3_write_and_read(tmp_path):
    t = np.arange(16000) / 16000
    audio = Audio.from_array(0.3 * np.sin(2 * np.pi * 300 * t), 16000)
    for ext in ("ogg", "mp3"):
        path = save(audio, tmp_path / f"x.{ext}")
        assert load(path).sample_rate == 16000


def test_save_never_overwrites_without_flag(tmp_path, mono16k):
    path = save(mono16k, tmp_path / "x.wav")
    before = path.read_bytes()
    with pytest.raises(AudioFileError, match="exists"):
        save(mono16k.slice_frames(0, 10), path)
    assert path.read_bytes() == before
    save(mono16k.slice_frames(0, 10), path, overwrite=True)
    assert sf.info(str(path)).frames == 10


def test_failed_write_leaves_no_partial_file(tmp_path, mono16k):
    with pytest.raises(AudioFileError):
        save(mono16k, tmp_path / "x.wav", subtype="VORBIS")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "empty"), (b"RIFF\x00\x00garbage" * 10, "cannot read")],
)
def test_bad_inputs_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message):
        load(path)


def test_zero_frame_file_and_nan_file(tmp_path):
    empty = write(tmp_path / "empty.wav", np.zeros((0,), dtype=np.float32))
    with pytest.raises(AudioFileError, match="no audio frames"):
        load(empty)
    assert info(empty).n_frames == 0
    data = np.zeros(1000, dtype=np.float32)
    data[500] = np.inf
    bad = write(tmp_path / "inf.wav", data, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN or Inf"):
        load(bad)


def test_unsupported_output_extension(tmp_path, mono16k):
    with pytest.raises(AudioFileError, match="unsupported output format"):
        save(mono16k, tmp_path / "x.xyz")


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioFileError, match="folder"):
        load(tmp_path)


def test_outputs_get_normal_permissions(tmp_path, mono16k):
    import os

    umask = os.umask(0o022)
    try:
        path = save(mono16k, tmp_path / "x.wav")
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


def test_save_figure_is_atomic_and_closes_the_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from voicemend.engine.io import save_figure

    out = tmp_path / "plot.png"
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert save_figure(fig, out) == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    old = out.read_bytes()

    def half_written(path, **kwargs):
        Path(path).write_bytes(b"half a png")
        raise OSError("disk full")

    broken = plt.figure()
    broken.savefig = half_written
    with pytest.raises(AudioFileError, match="cannot write"):
        save_figure(broken, out)
    assert not plt.fignum_exists(broken.number)
    assert out.read_bytes() == old  # the earlier plot survives a failed one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]
    svg = save_figure(plt.figure(), tmp_path / "plot.svg")
    assert b"<svg" in svg.read_bytes()[:400]


def test_block_writer_and_reader_round_trip(tmp_path, stereo48k):
    """Blocks written in order read back bit-exact, in blocks or whole; the file appears only
    when the writer finishes."""
    from voicemend.engine.io import AudioReader, open_writer

    out = tmp_path / "blocks.flac"
    x = stereo48k.samples
    with open_writer(out, 48000, 2, subtype="PCM_24") as write:
        for start in range(0, x.shape[1], 10000):
            write(x[:, start : start + 10000])
            assert not out.exists()
    with AudioReader(out) as reader:
        assert (reader.sample_rate, reader.n_channels, reader.n_frames) == (48000, 2, x.shape[1])
        parts = [reader.read(7000) for _ in range(0, x.shape[1], 7000)]
        assert reader.read(10).shape == (2, 0)
    assert np.array_equal(np.concatenate(parts, axis=1), load(out).samples)
    assert sf.info(str(out)).subtype == "PCM_24"


def test_block_writer_refuses_and_cleans_up(tmp_path, mono16k):
    from voicemend.engine.io import open_writer

    existing = save(mono16k, tmp_path / "x.wav")
    with pytest.raises(AudioFileError, match="exists"), open_writer(existing, 16000, 1):
        pass
    bad = np.full((1, 100), np.nan, np.float32)
    with pytest.raises(AudioFileError, match="NaN"), open_writer(tmp_path / "y.wav", 16000, 1) as w:
        w(mono16k.samples)
        w(bad)
    with (
        pytest.raises(AudioFileError, match="2 channel"),
        open_writer(tmp_path / "z.wav", 16000, 1) as w,
    ):
        w(np.zeros((2, 10), np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]


def test_a_file_larger_than_free_memory_is_refused_before_decoding(tmp_path):
    from voicemend.engine.io import check_fits_in_memory

    ten_hours = 10 * 3600 * 96000
    check_fits_in_memory(tmp_path / "a.wav", 2, ten_hours, 96000, available=64 * 2**30)
    with pytest.raises(AudioFileError, match=r"25\.7 GiB \(10\.0 h, 2 channel\(s\) at 96000 Hz\)"):
        check_fits_in_memory(tmp_path / "a.wav", 2, ten_hours, 96000, available=8 * 2**30)


def test_load_checks_memory_first(tmp_path, mono16k, monkeypatch):
    import voicemend.engine.io as io

    path = save(mono16k, tmp_path / "x.wav")
    monkeypatch.setattr(io, "available_memory_bytes", lambda: 1000)
    with pytest.raises(AudioFileError, match=r"only 0\.0 GiB of memory is free"):
        load(path)


def test_wav_past_the_4_gb_limit_is_written_as_rf64_and_never_cut(tmp_path, monkeypatch):
    """libsndfile writes a WAV past 4 GB with a header readers take for 4 GB (the rest lost);
    here the limit is lowered to 40 kB to show what happens at it."""
    import voicemend.engine.io as io
    from voicemend.engine.io import open_writer

    monkeypatch.setattr(io, "SIZE_LIMIT_BYTES", 40_000)
    rng = np.random.default_rng(1)
    big = Audio(rng.uniform(-0.5, 0.5, (2, 6000)).astype(np.float32), 16000)  # 48 kB as float
    small = Audio(big.samples[:, :4000], 16000)  # 32 kB
    save(small, tmp_path / "small.wav", subtype="FLOAT")
    save(big, tmp_path / "big.wav", subtype="FLOAT")
    assert sf.info(str(tmp_path / "small.wav")).format == "WAV"
    assert sf.info(str(tmp_path / "big.wav")).format == "RF64"
    np.testing.assert_array_equal(load(tmp_path / "big.wav").samples, big.samples)
    with pytest.raises(AudioFileError, match=r"more than AIFF can hold.*\.rf64, \.w64"):
        save(big, tmp_path / "big.aiff", subtype="FLOAT")
    # a stream that passes the limit without having said it would is stopped there
    with (
        pytest.raises(AudioFileError, match="GB of audio is more than WAV can hold"),
        open_writer(tmp_path / "stream.wav", 16000, 2, subtype="FLOAT") as write,
    ):
        for start in range(0, 6000, 1000):
            write(big.samples[:, start : start + 1000])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.wav", "small.wav"]


def test_a_codec_stays_in_its_own_container(tmp_path):
    """libsndfile accepts MP3-in-WAV as a pairing but cannot write it: an MP3 made into a WAV
    gets the WAV default instead of an error, and an MP3 stays an MP3."""
    rng = np.random.default_rng(2)
    src = write(tmp_path / "talk.mp3", rng.uniform(-0.3, 0.3, (16000, 1)), 16000, None)
    audio = load(src)
    assert audio.source.subtype == "MPEG_LAYER_III"
    assert sf.info(str(save(audio, tmp_path / "out.wav"))).subtype == "PCM_16"
    assert sf.info(str(save(audio, tmp_path / "out.mp3"))).subtype == "MPEG_LAYER_III"
    flac24 = load(write(tmp_path / "t.flac", rng.uniform(-0.3, 0.3, (800, 1)), 16000, "PCM_24"))
    assert sf.info(str(save(flac24, tmp_path / "t.wav"))).subtype == "PCM_24"


@pytest.mark.parametrize("kbps", [64, 192])
def test_an_mp3_is_coded_again_at_its_own_bitrate(tmp_path, kbps):
    """libsndfile's default MP3 setting is a variable rate near 60-90 kb/s on speech, whatever
    the source had: a 192 kb/s podcast would come back at half its bitrate."""
    from voicemend.engine.lossy import file_bitrate_kbps, mp3_encoder_options

    rng = np.random.default_rng(3)
    noise = rng.uniform(-0.3, 0.3, (44100 * 3, 2)).astype(np.float32)
    src = tmp_path / "talk.mp3"
    sf.write(str(src), noise, 44100, **mp3_encoder_options(kbps, 44100))
    out = save(load(src), tmp_path / "out.mp3")
    assert file_bitrate_kbps(out, 3.0) == pytest.approx(kbps, rel=0.1)
    # a lossless source gets libsndfile's default
    wav = save(load(src), tmp_path / "talk.wav")
    default = tmp_path / "default.mp3"
    sf.write(str(default), sf.read(str(wav))[0], 44100, format="MP3")
    assert save(load(wav), tmp_path / "from-wav.mp3").stat().st_size == default.stat().st_size
    # the file at the path says whether it was coded, not the subtype beside it (an editor
    # export passes the output's subtype with the source's path)
    from voicemend.engine.io import encoder_options

    as_output = SourceFormat("MP3", "MPEG_LAYER_III", str(wav))
    assert encoder_options(as_output, "MP3", "MPEG_LAYER_III", 44100) == {}
    coded = SourceFormat("WAV", "PCM_16", str(src))
    assert encoder_options(coded, "MP3", "MPEG_LAYER_III", 44100) == mp3_encoder_options(
        file_bitrate_kbps(src, 3.0), 44100
    )


@pytest.mark.parametrize(
    ("subtype", "channels", "level", "tolerance"),
    [
        ("OPUS", 1, 0.9, 0.1),
        ("OPUS", 2, 0.6, 0.1),
        ("VORBIS", 1, 0.1, 0.25),
        ("VORBIS", 2, 0.7, 0.25),
    ],
)
def test_an_ogg_file_is_coded_again_near_its_own_bitrate(
    tmp_path, dev_utterance, subtype, channels, level, tolerance
):
    """Opus takes its bitrate from libsndfile's level exactly, Vorbis a quality whose bitrate
    varies with the audio: a repaired Ogg file comes back at (near) the bitrate it had, not at
    libsndfile's default."""
    from voicemend.engine.io import coded_bitrate_kbps
    from voicemend.engine.rates import to_rate

    speech = load(dev_utterance)
    x = to_rate(speech.samples[0], speech.sample_rate, 48000).astype(np.float32)
    src = tmp_path / "talk.ogg"
    stereo = np.stack([x, 0.7 * x])[:channels].T
    sf.write(str(src), stereo, 48000, format="OGG", subtype=subtype, compression_level=level)
    given = coded_bitrate_kbps(info(src))
    out = save(load(src), tmp_path / "out.ogg")
    assert info(out).subtype == subtype
    assert coded_bitrate_kbps(info(out)) == pytest.approx(given, rel=tolerance)
    # a lossless source: libsndfile's default
    wav = load(save(load(src), tmp_path / "talk.wav"))
    ext = ".opus" if subtype == "OPUS" else ".ogg"
    default = tmp_path / f"default{ext}"
    sf.write(str(default), wav.samples.T, 48000, format="OGG", subtype=subtype)
    size = save(wav, tmp_path / f"from-wav{ext}").stat().st_size  # written block by block
    assert size == pytest.approx(default.stat().st_size, rel=0.01)


def test_a_damaged_container_is_named_with_what_ffmpeg_said(tmp_path):
    """An M4A (Zoom, phones) that FFmpeg cannot decode either: say what it seems to be and why
    it failed, whatever its name; a damaged WAV is not handed to FFmpeg (it would decode noise)."""
    m4a = tmp_path / "zoom meeting.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(3000))
    renamed = tmp_path / "meeting.wav"  # the first bytes tell, whatever the name
    renamed.write_bytes(m4a.read_bytes())
    for path in (m4a, renamed):
        for read in (load, info):
            with pytest.raises(AudioFileError, match="MP4/M4A file") as error:
                read(path)
            assert "FFmpeg could not decode either" in str(error.value)
            assert f"ffprobe {'meeting.wav' if path is renamed else repr(path.name)}" in str(
                error.value
            )
    wma = tmp_path / "old.wma"
    wma.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(AudioFileError, match="a Windows Media file, which FFmpeg could not"):
        load(wma)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(AudioFileError) as error:
        load(junk)
    assert "cannot read" in str(error.value) and "FFmpeg" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "rate", "channels", "subtype", "says"),
    [
        ("talk.opus", 44100, 1, None, "^cannot write .*talk.opus: Opus only supports sample rates"),
        ("talk.mp3", 96000, 2, None, "^cannot write .*talk.mp3: MPEG-1/2/2.5 only supports"),
        ("talk.m4a", 192000, 1, None, "^cannot write .*talk.m4a: AAC codes 7350-96000 Hz"),
        ("talk.m4a", 48000, 6, None, "^cannot write .*talk.m4a: an M4A output holds 1 or 2"),
        ("talk.flac", 48000, 2, "FLOAT", "^a FLAC file cannot hold FLOAT"),
        ("talk.xyz", 48000, 2, None, "^unsupported output format"),
    ],
)
def test_check_output_refuses_what_the_encoder_would_before_any_work(
    tmp_path, name, rate, channels, subtype, says
):
    """The encoder's own refusal, with the output's name (not the probe's) and nothing
    written where the output goes."""
    from voicemend.engine.io import check_output

    out = tmp_path / name
    with pytest.raises(AudioFileError, match=says) as caught:
        check_output(out, rate, channels, subtype=subtype)
    assert ".voicemend-check" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    check_output(tmp_path / "talk.opus", 48000, 2)  # what it takes passes
    check_output(tmp_path / "talk.m4a", 48000, 2, subtype="ALAC_24")
    assert list(tmp_path.iterdir()) == []
