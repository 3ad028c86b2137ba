"""Drop the cached blind rows of the quality bench whose detections this session's detector
changes, so that the next `voicemend bench quality` run scores those cases again.

The bench's cache knows a row by case, mode and method, not by the regions the detector found;
a detector change leaves blind rows scored on the old regions. This re-runs, on every blind case
of the bench's plan (the defaults, as `quality-dev` ran), the detector as shipped and as it was
before the gate rule and the ringing widening (reconstructed: ``fade_below_speech_db`` out of
reach, ``past_ringing`` left out), lists the cases whose regions differ, and with ``--drop``
rewrites ``scores.jsonl`` without their blind rows.

    python scripts/blind_redetect.py bench/results/quality-dev --drop
    voicemend bench quality --name quality-dev --methods zero,lsar,...,choice --workers 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from unittest import mock

from voicemend.engine.audio import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.detect import DetectorSettings, DropoutDetector
from voicemend.engine.detect import detector as detector_module
from voicemend.engine.detect.silence import SilenceSettings
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts, read_cache
from voicemend.engine.evaluation.scores import METRIC_RATE
from voicemend.engine.io import atomic_path


def changed_cases(files, sample_rate: int, config: QualityConfig) -> list[str]:
    shipped = DropoutDetector()
    before = DropoutDetector(DetectorSettings(silence=SilenceSettings(fade_below_speech_db=1e9)))
    changed = []
    for case, clean, gap in iter_excerpts(files, sample_rate, config):
        damaged = clean.copy()
        damaged[gap.start : gap.end] = 0.0
        audio = Audio.from_array(damaged, sample_rate)
        now = [d.region for d in shipped(audio)]
        with mock.patch.object(detector_module, "past_ringing", lambda x, sr, found, *_: found):
            then = [d.region for d in before(audio)]
        if now != then:
            changed.append(case.key)
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="a quality bench's results folder")
    p.add_argument("--split", default="dev")
    p.add_argument("--drop", action="store_true", help="rewrite scores.jsonl without those rows")
    a = p.parse_args(argv)
    summary = json.loads((a.folder / "summary.json").read_text(encoding="utf-8"))
    config = QualityConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in summary["meta"]["config"].items()}
    )
    files = list_speech(split=a.split)
    keys = set(changed_cases(files, METRIC_RATE, config))
    print(f"{len(keys)} cases whose blind detections changed")
    for key in sorted(keys):
        print(key)
    if a.drop:
        cache = a.folder / "scores.jsonl"
        rows = list(read_cache(cache))
        kept = [r for r in rows if not (r["mode"] == "blind" and r["case"] in keys)]
        with atomic_path(cache) as part, part.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in kept)
        print(f"dropped {len(rows) - len(kept)} blind rows from {cache}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
