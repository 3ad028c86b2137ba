"""The Export dialog: format from the name and name from the format, lossy notes, refusals."""

from pathlib import Path

import pytest
import soundfile as sf

from voicemend.engine.audio import SourceFormat
from voicemend.engine.lossy import mp3_encoder_options
from voicemend.gui.export_dialog import ExportChoice, ExportDialog, subtypes_for, suggested_suffix

from ..conftest import speech_like

WAV16 = SourceFormat("WAV", "PCM_16", "")


@pytest.fixture
def dialog(qtbot, tmp_path):
    def make(source=WAV16, name="talk.fixed.wav", rate=44100, channels=2, stages=0):
        d = ExportDialog(tmp_path / name, source, rate, channels, stages)
        qtbot.addWidget(d)
        return d

    return make


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [
        ("WAV", "PCM_24", ".wav"),
        ("FLAC", "PCM_16", ".flac"),
        ("AIFF", "PCM_16", ".aiff"),
        ("MP3", "MPEG_LAYER_III", ".mp3"),
        ("OGG", "VORBIS", ".ogg"),
        ("OGG", "OPUS", ".opus"),
        ("MP4", "AAC", ".m4a"),
        ("MP4", "ALAC_24", ".m4a"),
        ("WMA", "WMAV2", ".wav"),  # read, not written: WAV
        ("OGG", "FLAC", ".wav"),
    ],
)
def test_the_suggested_name_keeps_the_source_format_where_export_writes_it(fmt, subtype, suffix):
    assert suggested_suffix(SourceFormat(fmt, subtype, "")) == suffix


def test_the_sample_types_follow_the_format():
    assert subtypes_for(Path("a.wav")) == ["PCM_16", "PCM_24", "PCM_32", "FLOAT"]
    assert subtypes_for(Path("a.flac")) == ["PCM_16", "PCM_24"]
    assert subtypes_for(Path("a.m4a")) == ["AAC", "ALAC_16", "ALAC_24"]
    assert subtypes_for(Path("a.OPUS")) == ["OPUS"]
    assert subtypes_for(Path("a.xyz")) == []


def test_the_name_and_the_format_list_follow_each_other(dialog):
    d = dialog()
    assert d.format.currentData() == ".wav" and d.subtype.currentData() == "PCM_16"
    d.format.setCurrentIndex(d.format.findData(".flac"))
    d.format.activated.emit(d.format.currentIndex())
    assert d.path_edit.text().endswith("talk.fixed.flac")
    assert d.subtype.currentData() == "PCM_16"  # the 16-bit source's, carried over
    d.path_edit.setText(d.path_edit.text().replace(".flac", ".m4a"))
    assert d.format.currentData() == ".m4a" and d.subtype.currentData() == "AAC"
    d.path_edit.setText(d.path_edit.text().replace(".m4a", ""))  # "talk.fixed"
    d.format.setCurrentIndex(d.format.findData(".mp3"))
    d.format.activated.emit(d.format.currentIndex())
    assert d.path_edit.text().endswith("talk.fixed.mp3")  # ".fixed" is not an extension


def test_a_float_source_defaults_to_24_bits_and_alac_keeps_its_depth(dialog):
    assert dialog(SourceFormat("WAV", "FLOAT", ""), "a.flac").subtype.currentData() == "PCM_24"
    alac = dialog(SourceFormat("MP4", "ALAC_24", ""), "a.m4a")
    assert alac.subtype.currentData() == "ALAC_24" and alac.note.text() == ""
    alac.path_edit.setText("a.wav")
    assert alac.subtype.currentData() == "PCM_24"


def test_a_lossy_export_says_it_codes_everything_again_at_the_source_bitrate(dialog, tmp_path):
    src = tmp_path / "talk.mp3"
    sf.write(str(src), speech_like(2.0, 44100)[:, None], 44100, **mp3_encoder_options(96, 44100))
    d = dialog(SourceFormat("MP3", "MPEG_LAYER_III", str(src)), "talk.fixed.mp3")
    assert d.subtype.currentData() == "MPEG_LAYER_III"
    assert "coded again" in d.note.text() and "the source's bitrate" in d.note.text()
    d.path_edit.setText(str(tmp_path / "talk.fixed.wav"))
    assert d.note.text() == ""
    uncoded = dialog(WAV16, "talk.fixed.opus", rate=48000)
    assert "encoder's default" in uncoded.note.text()


def test_ok_refuses_what_the_encoder_cannot_write_and_stays_open(dialog, tmp_path):
    d = dialog(name="talk.fixed.opus", rate=44100)
    d.accept()
    assert d.result() != d.DialogCode.Accepted
    assert "Opus only supports sample rates" in d.note.text()
    assert str(tmp_path / "talk.fixed.opus") in d.note.text()
    d.path_edit.setText(str(tmp_path / "talk.fixed.ogg"))
    d.accept()
    assert d.result() == d.DialogCode.Accepted
    assert d.choice().subtype == "VORBIS"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written by the checks


def test_an_unknown_extension_disables_ok_and_names_the_known_ones(dialog):
    d = dialog(name="talk.fixed.xyz")
    ok = d.buttons.button(d.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and ".flac" in d.note.text()
    d.accept()  # however it is reached, the extension is what it names
    assert d.result() != d.DialogCode.Accepted and "unsupported output format" in d.note.text()
    d.path_edit.setText("talk.fixed.flac")
    assert ok.isEnabled()


def test_the_chain_choice_is_offered_only_with_stages(dialog, tmp_path):
    assert not dialog().chain.isEnabled()
    d = dialog(stages=2)
    d.chain.setChecked(True)
    assert d.choice() == ExportChoice(tmp_path / "talk.fixed.wav", "PCM_16", True)
