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


def _write_scores(path: Path, rows: list[tuple[str, int, str, float, float]]) -> None:
    import json

    with path.open("w", encoding="utf-8") as f:
        for case, gap_ms, method, plcmos, pesq in rows:
            f.write(
                json.dumps(
                    {
                        "case": case,
                        "gap_ms": gap_ms,
                        "mode": "informed",
                        "method": method,
                        "plcmos": plcmos,
                        "pesq": pesq,
                    }
                )
                + "\n"
            )


def test_selection_bound_is_an_upper_bound_on_every_selection(tmp_path):
    import itertools

    import numpy as np

    module = runpy.run_path(str(SCRIPTS / "selection_bound.py"))
    rng = np.random.default_rng(3)
    methods = ["lsar", "pattern", "neural-mel"]
    scores = rng.normal([[4.0, 2.5], [3.6, 2.7], [3.7, 2.6]], 0.3, size=(7, 3, 2))
    rows = [(f"f|200|{i}", 200, m, *scores[i, j]) for i in range(7) for j, m in enumerate(methods)]
    _write_scores(tmp_path / "scores.jsonl", rows)
    result = module["table"](
        module["read_scores"](tmp_path / "scores.jsonl"),
        methods,
        ["lsar", "pattern"],
        "plcmos",
        "pesq",
        "informed",
    )[200]
    floor = scores[:, :2, 0].mean(0).max()
    assert result["floor plcmos"] == pytest.approx(floor)
    assert result["target pesq"] == pytest.approx(scores[:, :2, 1].mean(0).max())
    best = -np.inf
    for choice in itertools.product(range(3), repeat=7):
        picked = scores[np.arange(7), choice]
        if picked[:, 0].mean() >= floor:
            best = max(best, picked[:, 1].mean())
    assert best <= result["bound"] + 1e-9
    assert result["bound"] <= scores[:, :, 1].max(1).mean() + 1e-9  # never above the oracle


def test_selection_bound_says_unreachable_when_no_method_dominates(tmp_path, capsys):
    module = runpy.run_path(str(SCRIPTS / "selection_bound.py"))
    # lsar always wins PLCMOS, pattern always wins PESQ: nothing can match both.
    rows = []
    for i in range(4):
        rows += [(f"f|300|{i}", 300, "lsar", 3.8, 2.0), (f"f|300|{i}", 300, "pattern", 3.2, 2.3)]
        rows += [(f"f|300|{i}", 300, "neural-mel", 3.4, 2.2)]
    rows += [("f|20|0", 20, "lsar", 4.0, 4.0), ("f|20|0", 20, "pattern", 3.9, 3.9)]
    rows += [("f|20|0", 20, "neural-mel", 3.9, 3.8)]
    _write_scores(tmp_path / "scores.jsonl", rows)
    assert module["main"]([str(tmp_path / "scores.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "| 300 ms | 4 | 3.800 | 2.300 | ≤ 2.000 | **no** |" in out
    assert "| 20 ms | 1 | 4.000 | 4.000 | ≤ 4.000 | yes |" in out


def test_selection_bound_refuses_a_missing_file(tmp_path):
    module = runpy.run_path(str(SCRIPTS / "selection_bound.py"))
    with pytest.raises(SystemExit):
        module["main"]([str(tmp_path / "nope.jsonl")])


@pytest.mark.slow
@pytest.mark.data
def test_fill_envelope_writes_table_and_plot(dev_files, tmp_path):
    module = runpy.run_path(str(SCRIPTS / "fill_envelope.py"))
    assert (
        module["main"](
            ["--files", "2", "--gap-ms", "80", "--methods", "lsar,zero", "--out", str(tmp_path)]
        )
        == 0
    )
    text = (tmp_path / "envelope.md").read_text(encoding="utf-8")
    assert "### 80 ms gap" in text and "| true speech |" in text
    zero_row = next(line for line in text.splitlines() if line.startswith("| zero |"))
    assert zero_row.count("-80.0") == 8  # an unrepaired gap is silent in every part
    assert (tmp_path / "envelope.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.data
def test_compare_mel_predictor_scores_the_shipped_weights_like_the_shipped_method(
    dev_files, tmp_path
):
    """A candidate that is the shipped predictor scores exactly as `neural-mel` does."""
    import shutil

    pytest.importorskip("pesq")
    module = runpy.run_path(str(SCRIPTS / "compare_mel_predictor.py"))
    weights = Path(__file__).resolve().parents[1] / "engine" / "weights" / "mel"
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    shutil.copy(weights / "model.safetensors", checkpoint / "model.safetensors")
    out = tmp_path / "table.md"
    table = module["main"](
        [str(checkpoint), "--files", "0:1", "--gap-ms", "200", "--out", str(out)]
    )
    body = table.splitlines()[2:6]  # under the header and its rule
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1] for line in body}
    assert set(rows) == {"lsar", "pattern", "neural-mel (shipped)", "candidate (mel-decoder)"}
    assert rows["candidate (mel-decoder)"] == rows["neural-mel (shipped)"]
    assert out.read_text() == table
    with pytest.raises(SystemExit):  # never overwrites an earlier table
        module["main"]([str(checkpoint), "--out", str(out)])
