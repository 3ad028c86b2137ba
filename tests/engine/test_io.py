from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import Audio, AudioFileError, info, load, save


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


def test_subtype_falls_back_when_the_format_lacks_it(tmp_path):
    src = write(tmp_path / "a.wav", np.zeros(100, dtype=np.float32), subtype="FLOAT")
    out = save(load(src), tmp_path / "a.flac")
    assert sf.info(str(out)).subtype == "PCM_16"


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
