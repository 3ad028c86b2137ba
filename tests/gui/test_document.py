"""The editor's document model, driven without Qt."""

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import Audio, Region, get_inpainter, save
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.gui.document import Document, Patch

from ..conftest import speech_like


@pytest.fixture
def wav(tmp_path):
    x = np.stack([speech_like(2.0, 16000, seed=1), speech_like(2.0, 16000, seed=2)], axis=1)
    x[16000:17600] = 0.0
    path = tmp_path / "talk.wav"
    sf.write(str(path), x, 16000, subtype="PCM_16")
    return path


def test_open_keeps_16_bit_source_as_int16_and_others_memory_mapped(wav, tmp_path):
    doc = Document.open(wav)
    assert doc.source.dtype == np.int16 and doc.n_channels == 2 and doc.duration_s == 2.0
    flac = tmp_path / "t.flac"
    sf.write(str(flac), np.zeros((1000, 1), np.float32) + 0.25, 16000, subtype="PCM_24")
    doc24 = Document.open(flac)
    assert isinstance(doc24.source, np.memmap) and doc24.source.dtype == np.float32
    assert doc24.original(0, 10)[0, 0] == pytest.approx(0.25)


def test_an_m4a_opens_and_an_alac_one_exports_at_its_bit_depth(wav, tmp_path):
    """Zoom's and phones' M4A open as any file (decoded by FFmpeg); an ALAC file's 24 bits
    carry over to the WAV export rather than falling to 16."""
    x = sf.read(str(wav), dtype="float32", always_2d=True)[0]
    audio = Audio(np.ascontiguousarray(x.T), 16000)
    for subtype in ("AAC", "ALAC_24"):
        doc = Document.open(save(audio, tmp_path / f"{subtype}.m4a", subtype=subtype))
        assert doc.n_channels == 2 and doc.duration_s == 2.0 and doc.subtype == subtype
    out = doc.export(tmp_path / "out.wav")
    assert sf.info(str(out)).subtype == "PCM_24"
    np.testing.assert_array_equal(sf.read(str(out), dtype="float32")[0], x)


def test_a_16_bit_file_too_large_for_memory_is_mapped_from_disk(wav, monkeypatch):
    import voicemend.gui.document as document

    monkeypatch.setattr(document, "available_memory_bytes", lambda: 100_000)  # < 2 × 256 kB
    doc = Document.open(wav)
    assert isinstance(doc.source, np.memmap) and doc.duration_s == 2.0
    x, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    assert np.array_equal(doc.original(0, doc.n_frames), x.T)


def test_repair_undo_redo(wav):
    doc = Document.open(wav)
    before = doc.edited(0, doc.n_frames)
    patch = doc.make_patch(Region(16000, 17600), get_inpainter("pattern"))
    assert patch.start >= 16000 - 160 and patch.end <= 17600 + 160
    doc.add(patch)
    after = doc.edited(0, doc.n_frames)
    assert np.any(after[:, 16000:17600] != 0) and doc.dirty
    outside = np.ones(doc.n_frames, bool)
    outside[patch.start : patch.end] = False
    np.testing.assert_array_equal(after[:, outside], before[:, outside])
    doc.remove(patch.id)  # undo
    np.testing.assert_array_equal(doc.edited(0, doc.n_frames), before)
    doc.add(patch)  # redo
    np.testing.assert_array_equal(doc.edited(0, doc.n_frames), after)
    np.testing.assert_array_equal(doc.original(0, doc.n_frames), before)  # A/B: source untouched
    with pytest.raises(VoicemendError):
        doc.remove(999)


def test_snap_grows_a_selection_to_the_dropout_and_leaves_speech_alone(wav):
    doc = Document.open(wav)
    snap = doc.snap(Region(16032, 17590))
    assert snap.given == Region(16032, 17590) and snap.snapped == Region(16000, 17600)
    assert not doc.snap(Region(8000, 8800)).moved
    doc.add(doc.make_patch(snap.snapped, get_inpainter("lsar")))
    assert not doc.snap(Region(16032, 17590)).moved  # once repaired there is nothing to snap to


def test_export_and_project_round_trip(wav, tmp_path):
    doc = Document.open(wav)
    doc.add(doc.make_patch(Region(16000, 17600), get_inpainter("lsar")))
    out = doc.export(tmp_path / "fixed.wav")
    assert sf.info(str(out)).subtype == "PCM_16"
    y, _ = sf.read(str(out), dtype="int16", always_2d=True)
    x, _ = sf.read(str(wav), dtype="int16", always_2d=True)
    p = doc.patches[0]
    np.testing.assert_array_equal(y[: p.start], x[: p.start])
    np.testing.assert_array_equal(y[p.end :], x[p.end :])
    with pytest.raises(Exception, match="exists"):
        doc.export(tmp_path / "fixed.wav")
    project = doc.save_project(tmp_path / "session.voicemend")
    assert not doc.dirty
    again = Document.load_project(project)
    assert [q.method for q in again.patches] == [p.method]
    np.testing.assert_allclose(
        again.edited(0, again.n_frames), doc.edited(0, doc.n_frames), atol=2e-7
    )
    new = again.make_patch(Region(100, 200), get_inpainter("lsar"))
    assert new.id == p.id + 1


def test_project_refuses_a_changed_source(wav, tmp_path):
    doc = Document.open(wav)
    project = doc.save_project(tmp_path / "s.voicemend")
    sf.write(str(wav), np.zeros((100, 2), np.float32), 16000)
    with pytest.raises(VoicemendError, match="changed"):
        Document.load_project(project)


def test_memory_of_a_16_bit_source_is_its_own_size(wav):
    doc = Document.open(wav)
    assert doc.source.nbytes == doc.n_frames * doc.n_channels * 2


def test_export_past_the_wav_size_limit_writes_rf64(wav, tmp_path, monkeypatch):
    import voicemend.engine.io as io

    monkeypatch.setattr(io, "SIZE_LIMIT_BYTES", 100_000)  # the file holds 128 kB as 16-bit
    doc = Document.open(wav)
    out = doc.export(tmp_path / "long.wav")
    assert sf.info(str(out)).format == "RF64"
    y, _ = sf.read(str(out), dtype="int16", always_2d=True)
    np.testing.assert_array_equal(y, sf.read(str(wav), dtype="int16", always_2d=True)[0])


def test_a_long_document_goes_through_the_chain_block_by_block(wav, tmp_path, monkeypatch):
    """Too large to run whole (here: said to be), the export writes a float copy and streams
    it through the chain: the file a whole run writes, no work files left, and Cancel works."""
    import pedalboard

    import voicemend.gui.document as document
    from voicemend.plugin.chain import Chain
    from voicemend.plugin.processors import Inpaint

    doc = Document.open(wav)
    doc.add(doc.make_patch(Region(16000, 17600), get_inpainter("lsar")))

    def chain():
        stages = [pedalboard.HighpassFilter(80), Inpaint(regions=[(0.2, 0.25)], method="lsar")]
        return Chain([*stages, pedalboard.Compressor(-20, 4)], tail_s=0.25)

    whole = doc.export(tmp_path / "whole.wav", subtype="PCM_24", process=chain())
    monkeypatch.setattr(document, "needs_blocks", lambda channels, frames: True)
    seen = []
    blocks = doc.export(
        tmp_path / "blocks.wav",
        subtype="PCM_24",
        process=chain(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert sf.info(str(blocks)).subtype == "PCM_24"
    assert sf.info(str(blocks)).frames == 2 * 16000 + 4000
    np.testing.assert_array_equal(sf.read(str(blocks))[0], sf.read(str(whole))[0])
    assert seen and seen[-1][0] == seen[-1][1]
    calls = []
    with pytest.raises(VoicemendError, match="cancelled"):
        doc.export(
            tmp_path / "cancelled.wav",
            process=chain(),
            should_cancel=lambda: calls.append(1) or len(calls) > 3,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks.wav", "talk.wav", "whole.wav"]


def test_an_mp3_exports_to_wav(tmp_path):
    x = speech_like(1.0, 16000, seed=4)
    src = tmp_path / "talk.mp3"
    sf.write(str(src), x, 16000)
    out = Document.open(src).export(tmp_path / "talk.wav")
    assert sf.info(str(out)).subtype == "PCM_16"


def test_a_coded_recording_exports_coded_at_its_own_bitrate(tmp_path, monkeypatch):
    """An MP3 podcast repaired in the editor goes back out as MP3 (or M4A, Opus) at the
    bitrate it came in at, through the effects chain too (whole or block by block); a
    lossless source gets the encoder's default."""
    import pedalboard

    import voicemend.gui.document as document
    from voicemend.engine.io import coded_bitrate_kbps, info
    from voicemend.engine.lossy import mp3_encoder_options
    from voicemend.plugin.chain import Chain

    x = np.stack([speech_like(3.0, 44100, seed=5), speech_like(3.0, 44100, seed=6)], axis=1)
    x[44100:48510] = 0.0
    src = tmp_path / "talk.mp3"
    sf.write(str(src), x, 44100, **mp3_encoder_options(192, 44100))
    kbps = coded_bitrate_kbps(info(src))
    doc = Document.open(src)
    doc.add(doc.make_patch(Region(44100, 48510), get_inpainter("lsar")))
    out = doc.export(tmp_path / "fixed.mp3")
    assert info(out).subtype == "MPEG_LAYER_III"
    assert coded_bitrate_kbps(info(out)) == pytest.approx(kbps, rel=0.1)
    edited = doc.edited(0, doc.n_frames)
    assert np.abs(edited[:, 44100:48510]).max() > 0.01  # the repair went out with it
    m4a = doc.export(tmp_path / "fixed.m4a")
    assert info(m4a).subtype == "AAC"
    assert info(m4a).bitrate_kbps == pytest.approx(kbps, rel=0.15)
    monkeypatch.setattr(document, "needs_blocks", lambda channels, frames: True)
    chained = doc.export(
        tmp_path / "chained.mp3", process=Chain([pedalboard.Gain(-1.0)], tail_s=0.0)
    )
    assert coded_bitrate_kbps(info(chained)) == pytest.approx(kbps, rel=0.1)
    # a WAV source: the encoder's default, not a bitrate from the WAV's size (1411 kb/s)
    wav = tmp_path / "talk.wav"
    sf.write(str(wav), x, 44100, subtype="PCM_16")
    default = tmp_path / "default.mp3"
    sf.write(str(default), sf.read(str(wav), dtype="float32")[0], 44100)
    from_wav = Document.open(wav).export(
        tmp_path / "from-wav.mp3", process=Chain([pedalboard.Gain(0.0)], tail_s=0.0)
    )
    assert coded_bitrate_kbps(info(from_wav)) == pytest.approx(
        coded_bitrate_kbps(info(default)), rel=0.02
    )
    with pytest.raises(AudioFileError, match=r"unsupported output format '\.xyz'"):
        doc.export(tmp_path / "fixed.xyz")


def test_a_float_recording_exports_to_flac_at_24_bits(tmp_path):
    path = tmp_path / "talk.wav"
    sf.write(str(path), speech_like(1.0, 16000, seed=8), 16000, subtype="FLOAT")
    out = Document.open(path).export(tmp_path / "talk.flac")
    assert sf.info(str(out)).subtype == "PCM_24"
    assert Document.open(path).export(tmp_path / "talk.opus").suffix == ".opus"
    assert sf.info(str(tmp_path / "talk.opus")).subtype == "OPUS"


def test_a_clipped_run_is_repaired_beyond_its_rail(tmp_path):
    x = speech_like(1.0, 16000, seed=7)
    x = np.clip(x / np.max(np.abs(x)), -0.7, 0.7).astype(np.float32)
    path = tmp_path / "clipped.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    doc = Document.open(path)
    from voicemend.engine import Audio
    from voicemend.engine.detect import DropoutDetector, clipped_regions

    region = clipped_regions(DropoutDetector()(Audio.from_array(x, 16000)))[0]
    start = region.start
    kept = doc.make_patch(region, get_inpainter("lsar"), clipped=True)
    free = doc.make_patch(region, get_inpainter("lsar"))
    inside = slice(region.start - kept.start, region.end - kept.start)
    side = np.sign(x[start])
    assert np.all(side * kept.samples[0, inside] >= 0.7 - 1e-6)
    assert not np.array_equal(kept.samples, free.samples) or np.all(
        side * free.samples[0, inside] >= 0.7 - 1e-6
    )


def test_a_one_sample_clipped_run_keeps_to_the_sources_rail_beside_a_restored_peak(tmp_path):
    """The rail is the source's extreme: a patch laid over a neighbouring run may hold peaks
    restored past it, which the edited window's extreme would take for the rail."""
    from voicemend.engine import Audio
    from voicemend.engine.detect import DropoutDetector, clipped_regions

    x = speech_like(2.0, 16000, seed=3)
    x = np.clip(1.3 * 0.7 * x / np.max(np.abs(x)), -0.7, 0.7).astype(np.float32)
    path = tmp_path / "clipped.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    doc = Document.open(path)
    runs = clipped_regions(DropoutDetector()(Audio.from_array(x, 16000)))
    singles = [r for r in runs if r.n_frames == 1]
    assert len(singles) >= 3
    lsar = get_inpainter("lsar")
    for r in runs:
        if r.n_frames >= 3:
            doc.add(doc.make_patch(r, lsar, clipped=True))
    assert np.max(np.abs(doc.edited(0, doc.n_frames))) > 0.71  # restored past the rail
    for r in singles:
        patch = doc.make_patch(r, lsar, clipped=True)
        at = r.start - patch.start
        assert np.sign(x[r.start]) * patch.samples[0, at] >= 0.7 - 1e-6


def test_overlapping_patches_read_in_order_after_adds_and_removes(tmp_path):
    """A read finds the patches that touch it through an index of their spans; the later of
    two overlapping patches wins, and removing it shows the earlier again."""
    path = tmp_path / "t.wav"
    sf.write(str(path), np.zeros(1000, np.float32), 16000, subtype="FLOAT")
    doc = Document.open(path)
    first = Patch(doc._new_id(), 100, 300, "lsar", np.full((1, 200), 0.25, np.float32))
    second = Patch(doc._new_id(), 200, 400, "lsar", np.full((1, 200), 0.5, np.float32))
    doc.add(first)
    np.testing.assert_array_equal(doc.edited(0, 1000)[0, 150:350], [0.25] * 150 + [0.0] * 50)
    doc.add(second)
    got = doc.edited(150, 450)[0]
    np.testing.assert_array_equal(got, [0.25] * 50 + [0.5] * 200 + [0.0] * 50)
    doc.remove(second.id)
    np.testing.assert_array_equal(doc.edited(250, 350)[0], [0.25] * 50 + [0.0] * 50)
    doc.remove(first.id)
    assert not doc.edited(0, 1000).any()


@pytest.mark.parametrize("group_s", [60.0, 0.5])
def test_many_regions_are_repaired_as_the_engine_repairs_the_file(tmp_path, monkeypatch, group_s):
    """Clipped runs a few ms apart, in two groups far apart: the patches lay over the source
    exactly what one ``inpaint`` of the whole file writes. Made one by one against the
    unrepaired audio, each patch's margin put its neighbours' clipped samples back. With groups
    of 0.5 s the seams fall among runs a few ms apart: the same."""
    from voicemend.engine import Audio
    from voicemend.engine.detect import DropoutDetector, clipped_regions
    from voicemend.gui import document
    from voicemend.gui.document import _clusters

    monkeypatch.setattr(document, "MAX_CLUSTER_S", group_s)
    sr = 16000
    x = speech_like(12.0, sr, seed=7)
    x[2 * sr : 9 * sr] *= 0.1  # the middle quiet: two clipped stretches far apart
    x = np.clip(2.0 * 0.8 * x / np.max(np.abs(x)), -0.8, 0.8).astype(np.float32)
    path = tmp_path / "clipped.wav"
    sf.write(str(path), x, sr, subtype="FLOAT")
    found = DropoutDetector()(Audio.from_array(x, sr))
    regions, runs = [d.region for d in found], clipped_regions(found)
    assert len(regions) > 50 and len(_clusters(regions, 2 * sr, sr)) >= (2 if group_s > 1 else 10)
    lsar = get_inpainter("lsar")
    whole = lsar.inpaint(Audio.from_array(x, sr), regions, clipped=runs).audio.samples
    doc = Document.open(path)
    seen = []
    patches = doc.make_patches(regions, lsar, runs, progress=lambda d, t: seen.append((d, t)))
    assert [p.region for p in patches] == [(r.start, r.end) for r in regions]
    assert seen[-1] == (len(regions), len(regions))
    for p in patches:
        doc.add(p)
    np.testing.assert_array_equal(doc.edited(0, doc.n_frames), whole)
