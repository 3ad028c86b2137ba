import json

from voicemend.plugin.cli import main
from voicemend.plugin.demo import example_path


def test_example_is_bundled_and_small():
    path = example_path()
    assert path.exists() and path.stat().st_size < 1_000_000
    assert (path.parent / "ATTRIBUTION.md").exists()


def test_demo_detects_and_repairs_every_injected_dropout(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["matched_within_10ms"] == report["injected"] == report["detected"]
    for row in report["regions"]:
        assert row["lsd_repaired_db"] < row["lsd_damaged_db"]
    for name in ("damaged.wav", "repaired.wav", "before_after.png", "detections.png"):
        assert (tmp_path / name).stat().st_size > 1000
