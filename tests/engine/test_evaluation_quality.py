"""The quality bench: protocol (positions, seeding), metric wrappers on known signals, reports."""

import gzip
import json
import math
import sys
from dataclasses import replace

import numpy as np
import pytest

from voicemend.engine.corrupt import active_mask
from voicemend.engine.evaluation import scores as S
from voicemend.engine.evaluation.quality import (
    Case,
    ExternalMethod,
    QualityConfig,
    excerpt,
    plan_cases,
    read_cache,
    run_external,
    run_quality,
)
from voicemend.engine.evaluation.report import (
    compare,
    markdown,
    mean_ci,
    paired,
    paired_markdown,
    summarise,
    write_results,
)
from voicemend.engine.io import load

from ..conftest import speech_like

pytest.importorskip("speechmos")


@pytest.fixture(scope="module")
def utterance(dev_files):
    f = next(f for f in dev_files if f.duration_s >= 6.0)
    return f, load(f.path).samples[0]


def test_positions_are_inside_active_speech_and_seeded(utterance):
    _, x = utterance
    config = QualityConfig(gaps_ms=(20, 200), positions_short=6, positions_long=3)
    cases = plan_cases(x, 16000, "u", 0, config)
    assert [c.gap_ms for c in cases].count(20) == 6 and [c.gap_ms for c in cases].count(200) == 3
    active = active_mask(x, 16000)
    for c in cases:
        assert c.end - c.start == c.gap_ms * 16
        assert active[c.start : c.end].mean() >= 0.9
    assert cases == plan_cases(x, 16000, "u", 0, config)  # same seed, same cases
    other = plan_cases(
        x,
        16000,
        "u",
        0,
        QualityConfig(gaps_ms=(20, 200), positions_short=6, positions_long=3, seed=1),
    )
    assert [c.start for c in other] != [c.start for c in cases]
    more = plan_cases(
        x, 16000, "u", 0, QualityConfig(gaps_ms=(20, 200), positions_short=9, positions_long=5)
    )
    assert [c.start for c in more if c.gap_ms == 20][:6] == [
        c.start for c in cases if c.gap_ms == 20
    ]
    assert [c.heavy for c in cases if c.gap_ms == 20] == [True] + [False] * 5


def test_metric_wrappers_on_known_signals(utterance):
    _, x = utterance
    clean = x[:48000]
    damaged = clean.copy()
    for start in (8000, 20000, 32000):
        damaged[start : start + 3200] = 0.0
    assert S.plcmos(clean) == S.plcmos(clean)  # seeded
    assert S.plcmos(damaged) < S.plcmos(clean) - 0.2
    assert S.pesq_score(clean, clean, 16000) > 4.5
    assert S.pesq_score(clean, damaged, 16000) < 4.0
    assert math.isnan(S.pesq_score(np.zeros(32000, np.float32), np.zeros(32000, np.float32), 16000))
    assert S.stoi_score(clean, clean, 16000) == pytest.approx(1.0)
    assert S.stoi_score(clean, damaged, 16000) < 0.95
    assert 1.0 <= S.dnsmos_overall(clean) <= 5.0
    gap = S.gap_scores(clean[7000:12000], damaged[7000:12000], 16000)
    assert gap["lsd_gap"] > 5 and gap["si_sdr_gap"] < 10
    assert S.error_rates("the cat sat", "the cat sat") == (0.0, 0.0)
    assert S.error_rates("the cat sat", "the dog sat")[0] == pytest.approx(1 / 3)
    assert S.error_rates("", "") == (0.0, 0.0)
    words = S.transcribe(clean)
    assert len(words.split()) >= 2


def test_dnsmos_of_a_short_clip_matches_the_reference_tiling(utterance):
    _, x = utterance
    excerpt = x[16000:51200]  # a bench-sized 2.2 s excerpt
    reference = float(S._dnsmos_model()(S._clip(excerpt), 16000, False)["ovrl_mos"])
    assert S.dnsmos_overall(excerpt) == pytest.approx(reference, abs=0.1)
    long = x[: int(9.5 * 16000)] if x.size >= 9.5 * 16000 else np.resize(x, int(9.5 * 16000))
    assert S.dnsmos_overall(long) == float(
        S._dnsmos_model()(S._clip(long), 16000, False)["ovrl_mos"]
    )  # a clip past one window is scored exactly as the reference does


def test_transcripts_do_not_depend_on_what_was_decoded_before(dev_files):
    clips = [load(f.path).samples[0][16000:51200] for f in dev_files[:30:3]]
    forward = [S.transcribe(c) for c in clips]
    backward = [S.transcribe(c) for c in reversed(clips)][::-1]
    assert forward == backward


def test_repairs_that_must_match_are_run_once():
    from voicemend.engine import Region
    from voicemend.engine.evaluation.quality import _repair_key

    gap = [Region(1000, 2000)]
    assert _repair_key("auto", gap, "informed", 16000) == _repair_key("lsar", gap, "blind", 16000)
    assert _repair_key("lsar", gap, "informed", 16000) != _repair_key(
        "lsar", [Region(1000, 2001)], "informed", 16000
    )
    assert _repair_key("pattern", gap, "informed", 16000) != _repair_key(
        "lsar", gap, "informed", 16000
    )
    external = ExternalMethod("x", "true {input} {output}")
    assert _repair_key(external, gap, "informed", 16000) != _repair_key(
        external, gap, "blind", 16000
    )


def test_mean_ci():
    mean, ci, n = mean_ci([1.0, 2.0, 3.0, float("nan")])
    assert (mean, n) == (2.0, 3)
    assert ci == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    assert mean_ci([])[2] == 0


def test_summary_markdown_and_compare():
    rows = [
        {"mode": "informed", "method": "lsar", "gap_ms": 20, "plcmos": 4.0, "detected": True},
        {"mode": "informed", "method": "lsar", "gap_ms": 20, "plcmos": 4.2, "detected": True},
        {"mode": "blind", "method": "lsar", "gap_ms": 20, "plcmos": 3.0, "detected": False},
    ]
    summary = summarise(rows)
    assert summary["informed"]["plcmos"]["lsar"]["20"][0] == pytest.approx(4.1)
    assert summary["blind"]["detected"]["lsar"]["20"][0] == 0.0
    text = markdown(summary)
    assert "| lsar | 4.100 ±" in text and "gap detected" in text
    better = summarise([{**r, "plcmos": r["plcmos"] + 1} for r in rows])
    lines = compare(summary, better)
    assert any("+1.000" in line for line in lines)


@pytest.mark.slow
def test_run_quality_scores_resumes_and_writes(tmp_path, utterance):
    f, _ = utterance
    config = QualityConfig(
        gaps_ms=(40,), positions_short=1, methods=("zero", "lsar", "auto"), heavy_positions=0
    )
    rows = run_quality([f], config, tmp_path, workers=1)
    assert {(r["mode"], r["method"]) for r in rows} == {
        (m, n) for m in ("informed", "blind") for n in ("zero", "lsar", "auto")
    }
    by = {(r["mode"], r["method"]): r for r in rows}
    same = {k: v for k, v in by[("informed", "auto")].items() if k != "method"}
    assert same == {k: v for k, v in by[("informed", "lsar")].items() if k != "method"}
    assert by[("informed", "lsar")]["lsd_gap"] < by[("informed", "zero")]["lsd_gap"]
    assert by[("blind", "lsar")]["detected"] is True
    again = run_quality([f], config, tmp_path, workers=1)
    assert len(again) == len(rows)  # resumed: nothing scored twice
    # rescoring one method replaces its rows (and only its rows) in the cache
    cache = tmp_path / "scores.jsonl"
    marked = [{**r, "pesq": -1.0} if r["method"] in ("zero", "lsar") else r for r in rows]
    cache.write_text("".join(json.dumps(r) + "\n" for r in marked))
    fresh = run_quality([f], config, tmp_path, workers=1, rescore={"zero"})
    assert len(fresh) == len(rows)
    after = list(read_cache(cache))
    assert len(after) == len(rows)
    assert all(r["pesq"] != -1.0 for r in after if r["method"] == "zero")  # scored again
    assert all(r["pesq"] == -1.0 for r in after if r["method"] == "lsar")  # kept as cached
    paths = write_results(rows, tmp_path, {"name": "t"})
    assert json.loads((tmp_path / "summary.json").read_text())["summary"]["informed"]
    assert all(p.exists() for p in paths)
    # the archive holds every row, and the same rows pack to the same bytes (no timestamp)
    archive = tmp_path / "scores.jsonl.gz"
    first = archive.read_bytes()
    with gzip.open(archive, "rt", encoding="utf-8") as f:
        assert [json.loads(line) for line in f] == rows
    write_results(rows, tmp_path, {"name": "t"})
    assert archive.read_bytes() == first


@pytest.mark.slow
def test_rescore_limited_to_some_gap_lengths_keeps_the_others(tmp_path, utterance):
    """After auto's table changes at some lengths, only those rows are scored again."""
    f, _ = utterance
    config = QualityConfig(
        gaps_ms=(20, 40),
        positions_short=1,
        methods=("zero",),
        modes=("informed",),
        heavy_positions=0,
    )
    rows = run_quality([f], config, tmp_path, workers=1)
    assert sorted(r["gap_ms"] for r in rows) == [20, 40]
    cache = tmp_path / "scores.jsonl"
    cache.write_text("".join(json.dumps({**r, "pesq": -1.0}) + "\n" for r in rows))
    fresh = run_quality([f], config, tmp_path, workers=1, rescore={"zero"}, rescore_gaps_ms={40})
    assert len(fresh) == len(rows)
    after = {r["gap_ms"]: r["pesq"] for r in read_cache(cache)}
    assert after[20] == -1.0 and after[40] != -1.0


def _lsar_scored_earlier(tmp_path, utterance, monkeypatch) -> tuple[QualityConfig, list]:
    """One 40 ms case scored informed by lsar, its cached PESQ marked -1 (so a reused row shows),
    and the list every later repair is recorded in."""
    from voicemend.engine.evaluation import quality

    f, _ = utterance
    config = QualityConfig(
        gaps_ms=(40,), positions_short=1, methods=("lsar",), modes=("informed",), heavy_positions=0
    )
    rows = run_quality([f], config, tmp_path, workers=1)
    cache = tmp_path / "scores.jsonl"
    cache.write_text("".join(json.dumps({**r, "pesq": -1.0}) + "\n" for r in rows))
    repaired: list = []
    real = quality._repair
    monkeypatch.setattr(quality, "_repair", lambda *a: repaired.append(a[0]) or real(*a))
    return config, repaired


@pytest.mark.slow
def test_auto_takes_its_delegates_cached_row_instead_of_repairing_again(
    tmp_path, utterance, monkeypatch
):
    """auto hands a 40 ms gap to lsar; with lsar's row cached from an earlier run, auto's row is
    that row (renamed), with no repair run."""
    config, repaired = _lsar_scored_earlier(tmp_path, utterance, monkeypatch)
    both = replace(config, methods=("lsar", "auto", "zero"))
    after = run_quality([utterance[0]], both, tmp_path, workers=1)
    auto = [r for r in after if r["method"] == "auto"]
    lsar = [r for r in after if r["method"] == "lsar"]
    assert len(auto) == len(lsar) == 1
    assert auto[0] == {**lsar[0], "method": "auto"} and auto[0]["pesq"] == -1.0
    assert repaired == ["zero"]  # only the method with nothing cached was run


@pytest.mark.slow
def test_blind_case_detected_exactly_takes_the_informed_row(tmp_path, utterance, monkeypatch):
    """A method scored informed in an earlier run, now asked for blind: where the detector finds
    exactly the gap, the repair is the informed one, so its cached row is reused (as blind)."""
    config, repaired = _lsar_scored_earlier(tmp_path, utterance, monkeypatch)
    both_modes = replace(config, modes=("informed", "blind"))
    after = run_quality([utterance[0]], both_modes, tmp_path, workers=1)
    informed, blind = (next(r for r in after if r["mode"] == m) for m in ("informed", "blind"))
    assert blind == {**informed, "mode": "blind"} and blind["pesq"] == -1.0
    assert repaired == []


def test_cached_repair_reuses_only_the_same_repair():
    from voicemend.engine import Region
    from voicemend.engine.evaluation.quality import _cached_repair

    gap = Region(100, 200)
    row = {"pesq": 1.0}
    cached = {"c|informed|lsar": row, "c|blind|hybrid": {"pesq": 2.0}}
    # blind, detected exactly: the informed row of the same method
    assert _cached_repair(cached, "c", "blind", "lsar", ("lsar", (gap,)), gap) is row
    # blind, detected otherwise: nothing (a different repair)
    assert _cached_repair(cached, "c", "blind", "lsar", ("lsar", (Region(90, 200),)), gap) is None
    # auto handing to hybrid: hybrid's row in the same mode
    assert _cached_repair(cached, "c", "blind", "auto", ("hybrid", (gap,)), gap) == {"pesq": 2.0}
    # a method's own row is never "reused" (done rows are skipped before this)
    assert _cached_repair(cached, "c", "informed", "lsar", ("lsar", (gap,)), gap) is None
    # external commands are keyed by mode and always run
    assert _cached_repair(cached, "c", "blind", "x", ("x", "blind"), gap) is None


def test_paired_differences_against_the_baselines(tmp_path):
    """auto minus lsar / pattern, case by case: the mean difference, its interval, and the
    marks for differences surely above or below zero; in summary.json and results.md."""
    rows = []
    for i in range(40):
        case = f"f|100|{i}"
        base = 3.0 + 0.5 * np.sin(i)  # cases differ far more than the methods do
        for method, plcmos, pesq in (
            ("auto", base + 0.05, base),
            ("lsar", base, base),
            ("pattern", base - 0.2, base + 0.1 + 0.01 * (i % 3)),
            ("zero", base - 1, base - 1),
        ):
            rows.append(
                {
                    "case": case,
                    "gap_ms": 100,
                    "mode": "informed",
                    "method": method,
                    "plcmos": plcmos,
                    "pesq": pesq,
                }
            )
    table = paired(rows)
    lsar, pattern = table["informed"]["lsar"], table["informed"]["pattern"]
    assert lsar["plcmos"]["100"][0] == pytest.approx(0.05) and lsar["plcmos"]["100"][2] == 40
    assert lsar["pesq"]["100"][:2] == [0.0, 0.0]
    assert pattern["plcmos"]["100"][0] == pytest.approx(0.25)
    assert pattern["pesq"]["100"][0] == pytest.approx(-0.11, abs=0.002)
    assert "zero" not in table["informed"]
    md = paired_markdown(table)
    assert "| lsar | PLCMOS v2 | +0.050 ± 0.000 ▲ |" in md
    assert "| pattern | PESQ" in md and "▼" in md.split("| pattern | PESQ")[1].split("\n")[0]
    assert paired([r for r in rows if r["method"] != "auto"]) == {}
    write_results(rows, tmp_path, {"name": "t"})
    record = json.loads((tmp_path / "summary.json").read_text())
    assert (
        record["paired"]["method"] == "auto" and record["paired"]["informed"] == table["informed"]
    )
    assert "auto minus each baseline, paired by case" in (tmp_path / "results.md").read_text()


def test_external_command_through_the_cli_contract():
    from voicemend.engine import Audio, Region

    audio = Audio.from_array(speech_like(1.0, 16000), 16000)
    damaged = audio.samples[0].copy()
    damaged[8000:8640] = 0
    method = ExternalMethod(
        "cli",
        f"{sys.executable} -m voicemend.plugin.cli repair {{input}} "
        "-o {output} --region {start}:{end} --method lsar -q",
    )
    assert method.informed_only
    out = run_external(method, Audio.from_array(damaged, 16000), Region(8000, 8640))
    assert out.shape == damaged.shape
    assert np.any(out[8000:8640] != 0)
    np.testing.assert_allclose(out[:8000], damaged[:8000], atol=1e-7)


def test_cli_compare_check_fails_only_beyond_the_ci(tmp_path, capsys):
    from voicemend.engine.evaluation.report import SUMMARY_NAME
    from voicemend.plugin.cli import main

    rng = np.random.default_rng(0)
    rows = [
        {
            "mode": "informed",
            "method": "lsar",
            "gap_ms": 20,
            "plcmos": 4 + 0.1 * rng.standard_normal(),
        }
        for _ in range(20)
    ]
    folders = {}
    for name, shift in (("a", 0.0), ("same", 0.001), ("worse", -1.0)):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        summary = summarise([{**r, "plcmos": r["plcmos"] + shift} for r in rows])
        (folders[name] / SUMMARY_NAME).write_text(json.dumps({"meta": {}, "summary": summary}))
    assert main(["bench", "compare", str(folders["a"]), str(folders["same"]), "--check"]) == 0
    assert "0 of 1 results differ" in capsys.readouterr().out
    assert main(["bench", "compare", str(folders["a"]), str(folders["worse"]), "--check"]) == 1
    assert "1 of 1 results differ" in capsys.readouterr().out
    assert main(["bench", "compare", str(folders["a"]), str(folders["worse"])]) == 0


def test_auto_table_merges_winners_and_splits_between_lengths():
    from voicemend.engine.evaluation.report import auto_table

    def cell(v):
        return [v, 0.1, 10]

    summary = {
        "informed": {
            "plcmos": {
                "lsar": {"20": cell(4.0), "100": cell(3.9), "200": cell(3.5), "400": cell(3.0)},
                "neural": {"20": cell(3.9), "100": cell(3.8), "200": cell(3.7), "400": cell(3.2)},
                "other": {"20": cell(5.0)},
            }
        }
    }
    table = auto_table(summary, ["lsar", "neural"])
    assert table == ((150.0, "lsar"), (math.inf, "neural"))
    assert auto_table(summary, ["lsar"]) == ((math.inf, "lsar"),)
    with pytest.raises(ValueError, match="no informed plcmos"):
        auto_table(summary, ["missing"])


def test_auto_table_breaks_near_ties_on_pesq():
    from voicemend.engine.evaluation.report import auto_table

    def cells(*values):
        return {str(g): [v, 0.1, 10] for g, v in zip((60, 100, 200), values, strict=True)}

    summary = {
        "informed": {
            "plcmos": {"lsar": cells(3.960, 3.912, 3.870), "hybrid": cells(3.963, 3.940, 3.901)},
            "pesq": {"lsar": cells(3.70, 3.31, 2.45), "hybrid": cells(3.66, 3.33, 2.54)},
        }
    }
    # level on PLCMOS at 60 ms (within 0.01) and worse on PESQ there: lsar keeps it
    assert auto_table(summary, ["lsar", "hybrid"]) == ((80.0, "lsar"), (math.inf, "hybrid"))
    assert auto_table(summary, ["lsar", "hybrid"], tie=0.0) == ((math.inf, "hybrid"),)
    del summary["informed"]["pesq"]  # without the second metric the first decides
    assert auto_table(summary, ["lsar", "hybrid"]) == ((math.inf, "hybrid"),)


def test_auto_table_with_a_bar_keeps_to_methods_no_worse_than_the_baselines():
    from voicemend.engine.evaluation.report import auto_table

    def cells(*values):
        return {str(g): [v, 0.1, 10] for g, v in zip((100, 300, 400), values, strict=True)}

    summary = {
        "informed": {
            "plcmos": {
                "lsar": cells(3.91, 3.866, 3.852),
                "pattern": cells(3.76, 3.306, 3.110),
                "hybrid": cells(3.94, 3.895, 3.885),
                "choice": cells(3.94, 3.878, 3.860),
            },
            "pesq": {
                "lsar": cells(3.30, 2.085, 1.794),
                "pattern": cells(3.23, 2.198, 1.906),
                "hybrid": cells(3.32, 2.175, 1.889),
                "choice": cells(3.32, 2.199, 1.904),
            },
        }
    }
    methods = ["choice", "hybrid", "lsar", "pattern"]
    # without a bar PLCMOS decides: hybrid everywhere
    assert auto_table(summary, methods) == ((math.inf, "hybrid"),)
    # with one: at 100 ms both reach it, level on both metrics (the same repair: choice hands
    # such gaps to hybrid), and the order of the level list keeps hybrid; at 300 ms only choice
    # reaches it; at 400 ms none does and choice falls least short
    table = auto_table(summary, methods, bar=("lsar", "pattern"))
    assert table == ((200.0, "hybrid"), (math.inf, "choice"))
    summary["informed"]["pesq"]["choice"]["400"][0] = 1.880  # now hybrid falls less short
    table = auto_table(summary, methods, bar=("lsar", "pattern"))
    assert table == ((200.0, "hybrid"), (350.0, "choice"), (math.inf, "hybrid"))


def test_auto_table_takes_longer_gaps_from_a_longer_bench_only_beyond_the_first():
    from voicemend.engine.evaluation.report import auto_table

    def cells(gaps, values):
        return {str(g): [v, 0.1, 10] for g, v in zip(gaps, values, strict=True)}

    full = {
        "informed": {
            "plcmos": {
                "lsar": cells((100, 400), (3.9, 3.80)),
                "hybrid": cells((100, 400), (3.8, 3.85)),
            }
        }
    }
    long = {
        "informed": {
            "plcmos": {  # disagrees at 400 ms: the full bench keeps that length
                "lsar": cells((400, 600, 1000), (3.9, 3.80, 3.81)),
                "hybrid": cells((400, 600, 1000), (3.8, 3.84, 3.73)),
            }
        }
    }
    assert auto_table(full, ["lsar", "hybrid"]) == ((250.0, "lsar"), (math.inf, "hybrid"))
    table = auto_table(full, ["lsar", "hybrid"], longer=[long])
    assert table == ((250.0, "lsar"), (800.0, "hybrid"), (math.inf, "lsar"))
    # a longer bench with no longer lengths changes nothing
    assert auto_table(full, ["lsar", "hybrid"], longer=[full]) == auto_table(
        full, ["lsar", "hybrid"]
    )


def test_excerpt_is_clipped_at_the_file_edges_and_keeps_the_gap_aligned():
    x = np.arange(1000, dtype=np.float32)
    clean, gap = excerpt(x, Case("f", 10, 0, 30, 40, False), 100)
    assert clean.size == 140 and (gap.start, gap.end) == (30, 40)
    assert np.array_equal(clean[gap.start : gap.end], x[30:40])
    clean, gap = excerpt(x, Case("f", 10, 0, 950, 960, False), 100)
    assert clean[0] == 850 and clean.size == 150 and clean[gap.start] == 950
    clean[:] = 0  # a copy: the caller may damage it without touching the file's samples
    assert x[900] == 900
