"""The quality bench: the paper's gap protocol, informed and blind, every method, cached scores.

Protocol (after Asaad et al. 2024): for each file and gap length, N seeded positions inside active
speech, each a separate case. A case is scored on an excerpt (the gap ± ``excerpt_context_s``),
which keeps the heavy neural metrics affordable on two CPU cores; SI-SDR and log-spectral
distance use the gap ± 50 ms only. In blind mode the detector must find the gap first; a missed
gap scores as unrepaired (and false detections are repaired too, as they would be for real).
"""

from __future__ import annotations

import collections
import functools
import gzip
import hashlib
import json
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from threadpoolctl import threadpool_limits

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import speech_positions
from voicemend.engine.data import SpeechFile
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.errors import VoicemendError
from voicemend.engine.evaluation import scores as S
from voicemend.engine.evaluation.peers import get_method
from voicemend.engine.inpaint.base import Inpainter
from voicemend.engine.io import atomic_path, load, save
from voicemend.engine.regions import Region

PAPER_GAPS_MS = (20, 40, 60, 80, 100, 200, 300, 400)
GAP_MARGIN_S = 0.05
MODES = ("informed", "blind")


@dataclass(frozen=True)
class ExternalMethod:
    """A command run through the CLI contract, e.g. ``voicemend repair {input} -o {output} ...``.

    Placeholders: ``{input}``, ``{output}``, ``{start}``/``{end}`` (seconds in the input file) and
    ``{labels}`` (an Audacity label file with the gap). Without gap placeholders it also runs blind.
    """

    name: str
    template: str

    @property
    def informed_only(self) -> bool:
        return any(k in self.template for k in ("{start}", "{end}", "{labels}"))


@dataclass(frozen=True)
class QualityConfig:
    gaps_ms: tuple[int, ...] = PAPER_GAPS_MS
    positions_short: int = 20  # per file, for gaps up to long_gap_ms
    positions_long: int = 10
    long_gap_ms: int = 100
    modes: tuple[str, ...] = MODES
    methods: tuple[str, ...] = ("zero", "lsar", "pattern", "auto")
    external: tuple[ExternalMethod, ...] = ()
    excerpt_context_s: float = 1.0
    heavy_positions: int = 1  # positions per file and gap that also get DNSMOS and WER (-1: all)
    seed: int = 0

    def positions(self, gap_ms: int) -> int:
        return self.positions_short if gap_ms <= self.long_gap_ms else self.positions_long

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Case:
    file: str
    gap_ms: int
    position: int
    start: int
    end: int
    heavy: bool

    @property
    def key(self) -> str:
        return f"{self.file}|{self.gap_ms}|{self.position}"


@dataclass
class FileTask:
    index: int
    path: str
    config: QualityConfig
    # This file's cached rows by "case|mode|method": what is already scored, and the rows that
    # a method that hands a case to another (``auto``), or a blind case whose detection is
    # exactly the gap, takes instead of repairing and scoring it again (see ``_cached_repair``).
    cached: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


def plan_cases(
    x: np.ndarray, sample_rate: int, file_id: str, index: int, config: QualityConfig
) -> list[Case]:
    """Seeded positions inside active speech; each (file, gap) has its own random stream."""
    cases = []
    for gap_ms in config.gaps_ms:
        rng = np.random.default_rng([config.seed, index, gap_ms])
        length = round(gap_ms * sample_rate / 1000)
        regions = speech_positions(
            x, sample_rate, length, config.positions(gap_ms), rng, allow_overlap=True
        )
        heavy_n = len(regions) if config.heavy_positions < 0 else config.heavy_positions
        for i, r in enumerate(regions):
            cases.append(Case(file_id, gap_ms, i, r.start, r.end, i < heavy_n))
    return cases


def excerpt(x: np.ndarray, case: Case, context_frames: int) -> tuple[np.ndarray, Region]:
    """The clean stretch a case is scored on (its gap ± ``context_frames``) and the gap in it."""
    a, b = max(0, case.start - context_frames), min(x.size, case.end + context_frames)
    return x[a:b].copy(), Region(case.start - a, case.end - a)


def iter_excerpts(
    files: Sequence[SpeechFile], sample_rate: int, config: QualityConfig, first_index: int = 0
) -> Iterator[tuple[Case, np.ndarray, Region]]:
    """Every planned case of ``files`` (mono at ``sample_rate``) with its clean excerpt and gap,
    as the bench plans them: for diagnostics that score other things on the same cases.
    ``first_index`` is the first file's place in the bench's list (it seeds the positions)."""
    ctx = int(config.excerpt_context_s * sample_rate)
    for index, f in enumerate(files, start=first_index):
        x = load(f.path).to_mono().resampled(sample_rate).samples[0]
        for case in plan_cases(x, sample_rate, Path(f.path).stem, index, config):
            yield (case, *excerpt(x, case, ctx))


def score_file(task: FileTask) -> list[dict[str, object]]:
    """All cases of one file, every method and mode not yet in ``task.cached``."""
    with threadpool_limits(limits=1):  # one core per worker, and the same sums in any worker
        return _score_file(task)


def _score_file(task: FileTask) -> list[dict[str, object]]:
    config = task.config
    audio = load(task.path).to_mono().resampled(S.METRIC_RATE)
    x, sr = audio.samples[0], audio.sample_rate
    file_id = Path(task.path).stem
    detector = DropoutDetector()
    rows: list[dict[str, object]] = []
    for case in plan_cases(x, sr, file_id, task.index, config):
        rows += _score_case(case, x, sr, config, detector, task.cached)
    return rows


def _score_case(
    case: Case,
    x: np.ndarray,
    sr: int,
    config: QualityConfig,
    detector: DropoutDetector,
    cached: Mapping[str, Mapping[str, object]] = MappingProxyType({}),
) -> list[dict[str, object]]:
    """The rows of one case not yet in ``cached`` (this file's rows by "case|mode|method")."""
    clean, gap = excerpt(x, case, int(config.excerpt_context_s * sr))
    damaged = clean.copy()
    damaged[gap.start : gap.end] = 0.0
    damaged_audio = Audio.from_array(damaged, sr)
    margin = int(GAP_MARGIN_S * sr)
    g0, g1 = max(0, gap.start - margin), min(clean.size, gap.end + margin)
    memo: dict[str, dict[str, float]] = {}
    repairs: dict[tuple[object, ...], tuple[np.ndarray, float]] = {}
    reference_text = None  # the clean excerpt's transcript, made when a heavy case needs it
    detections = None
    rows = []
    methods: list[str | ExternalMethod] = [*config.methods, *config.external]
    for mode in config.modes:
        for method in methods:
            name = method if isinstance(method, str) else method.name
            if f"{case.key}|{mode}|{name}" in cached:
                continue
            if mode == "blind" and isinstance(method, ExternalMethod) and method.informed_only:
                continue
            detected = True
            if mode == "blind":
                if detections is None:
                    detections = [d.region for d in detector(damaged_audio)]
                regions = detections
                detected = any(r.overlaps_or_touches(gap) for r in regions)
            else:
                regions = [gap]
            key = _repair_key(method, regions, mode, sr)
            delegate = _cached_repair(cached, case.key, mode, name, key, gap)
            if delegate is not None:  # the same repair, scored in an earlier run
                rows.append({**delegate, "method": name, "mode": mode, "detected": detected})
                continue
            if key not in repairs:
                t0 = time.perf_counter()
                out = _repair(method, damaged_audio, regions, mode)
                repairs[key] = (out, time.perf_counter() - t0)
            out, repair_s = repairs[key]
            digest = hashlib.sha1(out.tobytes()).hexdigest()
            if digest not in memo:
                if case.heavy and reference_text is None:
                    reference_text = S.transcribe(clean)
                memo[digest] = _metrics(clean, out, sr, g0, g1, case.heavy, reference_text or "")
            rows.append(
                {
                    "case": case.key,
                    "file": case.file,
                    "gap_ms": case.gap_ms,
                    "position": case.position,
                    "mode": mode,
                    "method": name,
                    "detected": detected,
                    "repair_s": round(repair_s, 5),
                    **memo[digest],
                }
            )
    return rows


def _cached_repair(
    cached: Mapping[str, Mapping[str, object]],
    case_key: str,
    mode: str,
    name: str,
    key: tuple[object, ...],
    gap: Region,
) -> Mapping[str, object] | None:
    """An earlier run's row for the repair ``key`` stands for, where it is not this method's own
    row in this mode: ``auto``'s delegate's row, or, in blind mode where the detector found
    exactly the gap, the informed row of the same repair (built-in methods are deterministic, so
    the output and every score are the same; this spares a method added to a finished bench
    scoring its blind cases twice)."""
    if key[0] != name:
        found = cached.get(f"{case_key}|{mode}|{key[0]}")
        if found is not None:
            return found
    if mode == "blind" and key[1] == (gap,):
        return cached.get(f"{case_key}|informed|{key[0]}")
    return None


def _repair(
    method: str | ExternalMethod, damaged: Audio, regions: list[Region], mode: str
) -> np.ndarray:
    if isinstance(method, ExternalMethod):
        return run_external(method, damaged, regions[0] if mode == "informed" else None)
    if not regions:
        return damaged.samples[0].copy()
    return _method(method)(damaged, regions).samples[0]


def _repair_key(
    method: str | ExternalMethod, regions: list[Region], mode: str, sr: int
) -> tuple[object, ...]:
    """Repairs with equal keys give equal output, so each is run once per case.

    Every built-in method is deterministic, so the same regions repair the same way in both
    modes (blind usually finds exactly the gap), and a method that hands every region on
    (``auto``, and ``choice`` outside its model's lengths; :meth:`Inpainter.same_as`) is keyed
    by the method it hands them to (a test pins ``auto`` to that method sample for sample), so
    it also takes that method's row from an earlier run's cache (after its table changed, say).
    External commands are run once per mode.
    """
    if isinstance(method, ExternalMethod):
        return (method.name, mode)
    inpainter = _method(method)
    name = method
    if regions:
        delegates = {inpainter.same_as(1000 * r.n_frames / sr) for r in regions}
        if len(delegates) == 1:
            name = delegates.pop()
    return (name, tuple(regions))


@functools.cache
def _method(name: str) -> Inpainter:
    """One instance per method in each worker process: neural models load once, not per case."""
    return get_method(name)


def _metrics(
    clean: np.ndarray, out: np.ndarray, sr: int, g0: int, g1: int, heavy: bool, reference_text: str
) -> dict[str, float]:
    m = {
        "plcmos": S.plcmos(out),
        "pesq": S.pesq_score(clean, out, sr),
        "stoi": S.stoi_score(clean, out, sr),
        **S.gap_scores(clean[g0:g1], out[g0:g1], sr),
    }
    if heavy:
        wer, cer = S.error_rates(reference_text, S.transcribe(out))
        m.update(dnsmos_ovrl=S.dnsmos_overall(out), wer_delta=wer, cer_delta=cer)
    return {k: round(float(v), 5) for k, v in m.items()}


def run_external(method: ExternalMethod, damaged: Audio, gap: Region | None) -> np.ndarray:
    """Run an external repair command on a temporary WAV and read its output back."""
    with tempfile.TemporaryDirectory(prefix="voicemend-bench-") as tmp:
        src, dst, labels = Path(tmp) / "in.wav", Path(tmp) / "out.wav", Path(tmp) / "labels.txt"
        save(damaged, src, subtype="FLOAT")
        values = {
            "input": str(src),
            "output": str(dst),
            "labels": str(labels),
            "start": "",
            "end": "",
        }
        if gap is not None:
            start_s, end_s = gap.seconds(damaged.sample_rate)
            values.update(start=f"{start_s:.6f}", end=f"{end_s:.6f}")
            labels.write_text(f"{start_s:.6f}\t{end_s:.6f}\tgap\n", encoding="utf-8")
        command = [part.format(**values) for part in shlex.split(method.template)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or not dst.exists():
            raise VoicemendError(
                f"external method {method.name!r} failed: {done.stderr.strip()[:300]}"
            )
        out = load(dst).to_mono()
        if out.sample_rate != damaged.sample_rate:
            out = out.resampled(damaged.sample_rate)
        y = out.samples[0]
        if y.size != damaged.n_frames:
            y = np.pad(y, (0, max(0, damaged.n_frames - y.size)))[: damaged.n_frames]
        return y


def read_cache(path: Path) -> Iterator[dict[str, object]]:
    """Rows of ``scores.jsonl``, or of the committed ``scores.jsonl.gz`` beside it."""
    packed = path.with_name(path.name + ".gz")
    if not path.exists() and not packed.exists():
        return
    with (
        path.open(encoding="utf-8") if path.exists() else gzip.open(packed, "rt", encoding="utf-8")
    ) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run


def run_quality(
    files: Sequence[SpeechFile],
    config: QualityConfig,
    results_dir: Path,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    rescore: Collection[str] = (),
    rescore_gaps_ms: Collection[int] = (),
) -> list[dict[str, object]]:
    """Score every file (in parallel), appending rows to ``scores.jsonl``; resumes from it.

    ``rescore``: methods whose cached rows are dropped first and scored again (after new
    weights: the cache knows a method by name only, not by the model behind it).
    ``rescore_gaps_ms``: only their rows at these gap lengths (none: all), for a change that
    touches some lengths alone, such as ``auto``'s table.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    cache = results_dir / "scores.jsonl"
    cached = list(read_cache(cache))
    rows = [r for r in cached if not _stale(r, rescore, rescore_gaps_ms)]
    if cached and (len(rows) < len(cached) or not cache.exists()):
        # resuming from the committed archive, or dropping rows: write the cache afresh
        with atomic_path(cache) as part, part.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    by_file: dict[str, dict[str, dict[str, object]]] = collections.defaultdict(dict)
    for r in rows:
        by_file[str(r["file"])][_row_key(r)] = r
    tasks = [
        FileTask(i, str(f.path), config, by_file.get(Path(f.path).stem, {}))
        for i, f in enumerate(files)
    ]
    if progress is not None:
        progress(0, len(tasks))
    with cache.open("a", encoding="utf-8") as out:
        if workers <= 1:
            results = (score_file(t) for t in tasks)
            for i, new in enumerate(results, start=1):
                _append(out, new, rows)
                if progress is not None:
                    progress(i, len(tasks))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(score_file, t) for t in tasks]
                for i, fut in enumerate(as_completed(futures), start=1):
                    _append(out, fut.result(), rows)
                    if progress is not None:
                        progress(i, len(tasks))
    return rows


def _row_key(row: Mapping[str, object]) -> str:
    """The "case|mode|method" a cached row answers (the keys of ``FileTask.cached``)."""
    return f"{row['case']}|{row['mode']}|{row['method']}"


def _stale(row: dict[str, object], methods: Collection[str], gaps_ms: Collection[int]) -> bool:
    return row["method"] in methods and (not gaps_ms or int(row["gap_ms"]) in gaps_ms)


def _append(out, new: list[dict[str, object]], rows: list[dict[str, object]]) -> None:
    for row in new:
        out.write(json.dumps(row) + "\n")
    out.flush()
    rows.extend(new)
