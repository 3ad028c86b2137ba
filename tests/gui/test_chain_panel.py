"""The effects chain panel edits a preset that voicemend render can run."""

import json

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from voicemend.gui.chain_panel import ChainPanel, parse_value
from voicemend.plugin.presets import load_preset


@pytest.fixture
def panel(qtbot):
    p = ChainPanel()
    qtbot.addWidget(p)
    return p


def test_add_set_reorder_remove_and_run(panel):
    assert panel.add_stage("HighpassFilter")
    assert panel.add_stage("Gain")
    assert [s["type"] for s in panel.stages] == ["HighpassFilter", "Gain"]
    assert panel.stages[0]["params"]["cutoff_frequency_hz"] == 50.0  # the plugin's own default
    assert panel.set_param(1, "gain_db", -6.0)
    panel.move_stage(1, -1)
    assert [s["type"] for s in panel.stages] == ["Gain", "HighpassFilter"]
    assert panel.stage_list.item(0).text() == "1. Gain"
    x = np.full((1, 4800), 0.5, np.float32)
    y = panel.chain().process(x, 48000)
    assert abs(y).max() < 0.5  # gain -6 dB then a high-pass
    panel.remove_stage(0)
    assert [s["type"] for s in panel.stages] == ["HighpassFilter"]


def test_bad_values_are_refused_and_the_old_value_stays(panel):
    panel.add_stage("Compressor")
    before = dict(panel.stages[0]["params"])
    assert not panel.set_param(0, "ratio", "lots")
    assert panel.stages[0]["params"] == before
    assert "ratio" in panel.last_error
    assert not panel.set_param(0, "no_such_param", 1)
    assert not panel.add_stage("NotAnEffect")


def test_editing_a_cell_in_the_table_sets_the_parameter(panel):
    panel.add_stage("Gain")
    panel.params.item(0, 1).setText("3.5")
    assert panel.stages[0]["params"]["gain_db"] == 3.5
    assert parse_value("true") is True and parse_value("hello") == "hello"


def test_presets_round_trip_through_files(panel, tmp_path):
    from voicemend.plugin.presets import SHIPPED_DIR

    assert panel.load(SHIPPED_DIR / "podcast-dropout-repair.json")
    assert panel.stages[0]["type"] == "voicemend.DetectDropouts"
    out = tmp_path / "mine.json"
    assert panel.save(out)
    assert len(load_preset(out)) == len(panel.stages)  # the CLI reads what the panel wrote
    assert json.loads(out.read_text())["stages"] == panel.stages
    assert not panel.save(out)  # exists: needs overwrite
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "voicemend-chain", "format_version": 1, "stages": [{"type": "X"}]}')
    assert not panel.load(bad) and "unknown stage type" in panel.last_error
    assert panel.stages[0]["type"] == "voicemend.DetectDropouts"  # nothing lost


def test_parameter_names_are_shown_whole(panel):
    assert panel.add_stage("HighpassFilter")  # cutoff_frequency_hz: longer than the default width
    table = panel.params
    assert table.columnWidth(0) >= table.sizeHintForColumn(0)
