import pytest

from voicemend.engine.errors import RegionError, VoicemendError
from voicemend.plugin.labels import Label, format_audacity_labels, read_audacity_labels

# As Audacity 3.x exports: start, end, text; a spectral selection adds a backslash line.
AUDACITY_EXPORT = (
    "1.250000\t1.450000\tdropout one\n\\\t200.000000\t4000.000000\n3.000000\t3.000000\tmark\n"
    "5.5\t5.75\t\n"
)


def test_reads_audacity_export(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text(AUDACITY_EXPORT)
    assert read_audacity_labels(path) == [Label(1.25, 1.45, "dropout one"), Label(5.5, 5.75, "")]


def test_round_trip(tmp_path):
    labels = [Label(0.1, 0.2, "digital_silence 0.95"), Label(10.0, 10.06, "packet_loss 0.70")]
    path = tmp_path / "l.txt"
    path.write_text(format_audacity_labels(labels))
    assert read_audacity_labels(path) == labels


@pytest.mark.parametrize(
    ("text", "message"),
    [("1.0\n", "expected"), ("a\tb\tc\n", "cannot read times"), ("2.0\t1.0\tx\n", "ends before")],
)
def test_bad_label_files(tmp_path, text, message):
    path = tmp_path / "l.txt"
    path.write_text(text)
    with pytest.raises(RegionError, match=message):
        read_audacity_labels(path)


def test_missing_label_file(tmp_path):
    with pytest.raises(VoicemendError, match="no such label file"):
        read_audacity_labels(tmp_path / "nope.txt")


# As REAPER exports from View > Region/Marker Manager (time display: minutes:seconds).
REAPER_EXPORT = """#,Name,Start,End,Length,Color
R1,dropout one,0:01.250,0:01.450,0:00.200,
M1,check this,0:03.000,,,
R2,,1:02.500,1:02.750,0:00.250,FF0000
"""


def test_reads_reaper_csv(tmp_path):
    from voicemend.plugin.labels import read_reaper_csv, read_regions

    path = tmp_path / "regions.csv"
    path.write_text(REAPER_EXPORT)
    expected = [Label(1.25, 1.45, "dropout one"), Label(62.5, 62.75, "")]
    assert read_reaper_csv(path) == expected
    assert read_regions(path) == expected


def test_reaper_round_trip_and_measures_beats_error(tmp_path):
    from voicemend.plugin.labels import format_reaper_csv, read_reaper_csv

    labels = [Label(0.5, 0.56, "packet_loss 0.80"), Label(3.0, 3.2, "digital_silence 1.00")]
    path = tmp_path / "r.csv"
    path.write_text(format_reaper_csv(labels))
    assert read_reaper_csv(path) == labels
    path.write_text("#,Name,Start,End,Length\nR1,x,1.2.00,1.3.00,0.1.00\n")
    with pytest.raises(RegionError, match=r"measures\.beats"):
        read_reaper_csv(path)


def test_json_regions_round_trip_and_detect_output(tmp_path):
    from voicemend.plugin.labels import format_json_regions, read_regions

    labels = [Label(0.5, 0.6, "a")]
    path = tmp_path / "r.json"
    path.write_text(format_json_regions(labels))
    assert read_regions(path) == labels
    path.write_text('{"detections": [{"start_s": 1.0, "end_s": 1.1, "kind": "packet_loss"}]}')
    assert read_regions(path) == [Label(1.0, 1.1, "packet_loss")]
    path.write_text('{"regions": [{"start_s": 2.0}]}')
    with pytest.raises(RegionError, match="numeric"):
        read_regions(path)


def test_a_channel_tag_names_the_channels_and_nothing_else_does():
    from voicemend.plugin.labels import channel_tag, label_channels

    assert channel_tag((1,), 2) == " [R]" and channel_tag((0, 1), 2) == ""
    assert channel_tag((0, 2), 4) == " [1, 3]"
    assert label_channels("packet_loss 1.00 [R]") == (1,)
    assert label_channels("concealed 0.90 [L]") == (0,)
    assert label_channels("clipping 0.80 [1, 3]") == (0, 2)
    assert label_channels("clipping 0.80 [1; 3]") == (0, 2)  # through REAPER's CSV
    assert label_channels("cough [loud] here") is None
    assert label_channels("my edit") is None
