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
