"""The diagnostic scripts in scripts/ still run against the engine they import from."""

import runpy
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.slow
@pytest.mark.data
def test_vocoder_ceiling_runs_on_one_file(dev_files, capsys):
    pytest.importorskip("pesq")
    module = runpy.run_path(str(SCRIPTS / "vocoder_ceiling.py"))
    weights = Path(__file__).resolve().parents[1] / "engine" / "weights" / "mel-decoder"
    module["main"](str(weights), 1, (50,))
    table = capsys.readouterr().out
    assert "| plcmos |" in table and "| pesq |" in table
    assert "| plcmos (gap blurred 50 ms) |" in table and "| pesq (gap a straight line) |" in table
