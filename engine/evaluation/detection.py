"""Detection evaluation on synthetic corruptions of real speech: F1 per damage, false alarms."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import (
    CLICK_SHAPES,
    RELEASE_CURVES,
    GateSettings,
    add_click,
    click_shape,
    noise_gate,
    packet_burst,
    packet_region,
    speech_positions,
    zero_gap,
)
from voicemend.engine.data import SpeechFile
from voicemend.engine.detect import DropoutDetector, DropoutKind
from voicemend.engine.io import load, save_figure, write_text_atomic
from voicemend.engine.lossy import LossyFormat, roundtrip
from voicemend.engine.opus import OpusCodec, opus_available
from voicemend.engine.rates import to_rate
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs

TOLERANCE_MS = 10.0
ZERO_GAPS_MS = (10, 20, 50, 100, 200, 400)
PACKET_COUNTS = (1, 2, 3, 4, 5, 6)  # 20-120 ms bursts
COMFORT_NOISE_DBFS = (-70.0, -50.0)
# A noise gate per file, as users set one: threshold over the room noise, attack, hold, release
# (and its curve, linear or exponential, drawn too)
GATE_ABOVE_FLOOR_DB = (6.0, 15.0)
GATE_ATTACK_MS = (0.5, 5.0)
GATE_HOLD_MS = (0.0, 50.0)
GATE_RELEASE_MS = (5.0, 100.0)
# A call: Opus at a common VoIP bit rate, 20 ms packets, bursts of lost packets the decoder
# conceals
CALL_BITRATE = 24000
CALL_RATE_HZ = 16000
CALL_PACKET_MS = 20
# Clicks as people hear them: a peak 20-40 dB over the speech around it (quieter ones are
# hardly heard, and mostly not found: scripts/click_study.py)
CLICK_ABOVE_DB = (20.0, 40.0)


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + self.false_negatives
        return self.true_positives / real if real else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Score) -> None:
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.false_negatives += other.false_negatives


@dataclass
class DetectionReport:
    scores: dict[str, Score] = field(default_factory=dict)
    clean_minutes: float = 0.0
    clean_false_alarms: int = 0
    # the same files through a noise gate: their pauses are digital silence, not dropouts
    gated_minutes: float = 0.0
    gated_false_alarms: int = 0
    # the same files through a call's codec with no packet lost: coding is not damage
    coded_minutes: float = 0.0
    coded_false_alarms: int = 0
    # the clean files scanned for clicks alone (opt-in elsewhere: see DEFAULT_KINDS)
    click_false_alarms: int = 0
    calls_found: int = 0  # concealed bursts that a detection overlaps, whatever its edges
    # by burst length (ms): [bursts, overlapped by a detection]
    calls_by_ms: dict[int, list[int]] = field(default_factory=dict)
    boundary_errors_ms: dict[str, list[float]] = field(default_factory=dict)
    n_files: int = 0
    saved_at_hz: int | None = None  # the rate each file was resampled to before the scan
    saved_as: str | None = None  # the lossy codec each file then went through ("mp3 128 kb/s")
    concealment_everywhere: bool = False  # concealed losses sought in every scan, not calls only

    @property
    def false_alarms_per_10_min(self) -> float:
        return 10.0 * self.clean_false_alarms / self.clean_minutes if self.clean_minutes else 0.0

    @property
    def gated_false_alarms_per_10_min(self) -> float:
        return 10.0 * self.gated_false_alarms / self.gated_minutes if self.gated_minutes else 0.0

    @property
    def coded_false_alarms_per_10_min(self) -> float:
        return 10.0 * self.coded_false_alarms / self.coded_minutes if self.coded_minutes else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "n_files": self.n_files,
            "saved_at_hz": self.saved_at_hz,
            "saved_as": self.saved_as,
            "concealment_everywhere": self.concealment_everywhere,
            "tolerance_ms": TOLERANCE_MS,
            "scenarios": {
                name: {
                    **asdict(s),
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "median_boundary_error_ms": _median(self.boundary_errors_ms.get(name, [])),
                }
                for name, s in self.scores.items()
            },
            "clean_minutes": self.clean_minutes,
            "clean_false_alarms": self.clean_false_alarms,
            "false_alarms_per_10_min": self.false_alarms_per_10_min,
            "gated_minutes": self.gated_minutes,
            "gated_false_alarms": self.gated_false_alarms,
            "gated_false_alarms_per_10_min": self.gated_false_alarms_per_10_min,
            "coded_minutes": self.coded_minutes,
            "coded_false_alarms": self.coded_false_alarms,
            "coded_false_alarms_per_10_min": self.coded_false_alarms_per_10_min,
            "click_false_alarms": self.click_false_alarms,
            "calls_found": self.calls_found,
            "calls_by_ms": {str(ms): c for ms, c in sorted(self.calls_by_ms.items())},
        }


def match(
    truth: Sequence[Region], found: Sequence[Region], tolerance: int
) -> tuple[Score, list[float]]:
    """One-to-one matching with both edges within ``tolerance`` frames; score and edge errors."""
    used = [False] * len(found)
    score, errors = Score(), []
    for t in truth:
        hit = None
        for i, f in enumerate(found):
            if (
                not used[i]
                and abs(f.start - t.start) <= tolerance
                and abs(f.end - t.end) <= tolerance
            ):
                hit = i
                break
        if hit is None:
            score.false_negatives += 1
        else:
            used[hit] = True
            score.true_positives += 1
            errors.append(max(abs(found[hit].start - t.start), abs(found[hit].end - t.end)))
    score.false_positives = used.count(False)
    return score, errors


def corrupt_scenarios(
    audio: Audio, rng: np.random.Generator, per_file: int
) -> dict[str, tuple[Audio, list[Region]]]:
    """The damaged versions of one file, each with its true regions."""
    x, sr = audio.samples[0], audio.sample_rate
    out: dict[str, tuple[Audio, list[Region]]] = {}
    out["zero_run"] = cut_zero_runs(audio, x, rng, per_file)
    for name, noise in (("packet_zero", False), ("packet_noise", True)):
        damaged, truth = audio, []
        grid = int(rng.integers(0, int(0.02 * sr)))
        for n_packets in rng.choice(PACKET_COUNTS, per_file):
            length = int(n_packets) * int(0.02 * sr)
            for r in speech_positions(x, sr, length + int(0.02 * sr), 1, rng, taken=truth):
                burst = packet_region(r.start, int(n_packets), sr, grid)
                level = float(rng.uniform(*COMFORT_NOISE_DBFS)) if noise else None
                damaged = packet_burst(damaged, burst, level, rng)
                truth.append(burst)
        out[name] = (damaged, sorted(truth))
    return out


def random_gate(rng: np.random.Generator) -> GateSettings:
    return GateSettings(
        above_floor_db=float(rng.uniform(*GATE_ABOVE_FLOOR_DB)),
        attack_ms=float(rng.uniform(*GATE_ATTACK_MS)),
        hold_ms=float(rng.uniform(*GATE_HOLD_MS)),
        release_ms=float(rng.uniform(*GATE_RELEASE_MS)),
        release_curve=str(rng.choice(RELEASE_CURVES)),
    )


def gated_scenario(
    audio: Audio, rng: np.random.Generator, per_file: int
) -> tuple[Audio, Audio, list[Region]]:
    """The file through a random noise gate, and that with zero runs cut into its speech (the
    positions are drawn on the ungated file, so they lie where the gate is open)."""
    gated = noise_gate(audio, random_gate(rng))
    return gated, *cut_zero_runs(gated, audio.samples[0], rng, per_file)


def cut_zero_runs(
    audio: Audio, positions_in: np.ndarray, rng: np.random.Generator, count: int
) -> tuple[Audio, list[Region]]:
    """``audio`` with ``count`` zero runs of the bench's lengths cut into it where
    ``positions_in`` (its first channel, or the signal it was made from) has active speech, and
    the runs, sorted."""
    sr = audio.sample_rate
    damaged, truth = audio, []
    for gap_ms in rng.choice(ZERO_GAPS_MS, count):
        for r in speech_positions(positions_in, sr, int(gap_ms * sr / 1000), 1, rng, taken=truth):
            damaged = zero_gap(damaged, r)
            truth.append(r)
    return damaged, sorted(truth)


def click_scenario(
    audio: Audio, rng: np.random.Generator, per_file: int
) -> tuple[Audio, list[Region]]:
    """The file with ``per_file`` clicks (each shape as likely, 20-40 dB over the speech around
    it) in its speech, each 50 ms or more from the next; and the clicks' regions."""
    sr = audio.sample_rate
    damaged, truth, taken = audio, [], []
    clearance = round(0.025 * sr)
    for _ in range(per_file):
        for r in speech_positions(audio.samples[0], sr, 2 * clearance, 1, rng, taken=taken):
            shape = click_shape(str(rng.choice(CLICK_SHAPES)), sr, rng)
            sign = float(rng.choice([-1.0, 1.0]))
            damaged, region = add_click(
                damaged, r.start + clearance, sign * shape, float(rng.uniform(*CLICK_ABOVE_DB))
            )
            truth.append(region)
            taken.append(r)
    return damaged, sorted(truth)


def call_scenario(
    audio: Audio, codec: OpusCodec, rng: np.random.Generator, per_file: int
) -> tuple[Audio, Audio, list[Region]]:
    """The file through a call (first channel, at the codec's rate): once with every packet
    delivered, once with ``per_file`` bursts of 1-6 lost packets in its speech that the
    decoder conceals, and those bursts (on the file's own samples)."""
    rate = codec.sample_rate
    x = to_rate(audio.samples[0], audio.sample_rate, rate).astype(np.float32)
    n = codec.packet
    lost: set[int] = set()
    taken: list[Region] = []
    for n_packets in rng.choice(PACKET_COUNTS, per_file):
        # room for the burst on the packet grid, and a packet's clearance from the others
        for r in speech_positions(x, rate, (int(n_packets) + 2) * n, 1, rng, taken=taken):
            first = -(-r.start // n)
            lost.update(range(first, first + int(n_packets)))
            taken.append(Region(first * n - n, (first + int(n_packets) + 1) * n))
    coded, concealed = codec.roundtrip(x), codec.roundtrip(x, lost)
    packets = np.zeros(x.size // n, bool)
    packets[sorted(lost)] = True
    truth = [
        _region_at(Region(a * n, b * n), rate, audio.sample_rate) for a, b in true_runs(packets)
    ]

    def back(y: np.ndarray) -> Audio:
        return Audio(
            to_rate(y, rate, audio.sample_rate).astype(np.float32)[None], audio.sample_rate
        )

    return back(coded), back(concealed), truth


def evaluate_detection(
    files: Sequence[SpeechFile],
    detector: DropoutDetector | None = None,
    per_file: int = 3,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    saved_at: int | None = None,
    saved_as: LossyFormat | None = None,
) -> DetectionReport:
    """``saved_at``: each damaged (and clean) file is resampled to this rate before it is
    scanned, as a call decoded at the files' rate and saved at another: the comfort noise then
    fills the call's band only. ``saved_as``: each is then coded and decoded with a lossy codec
    (a podcast's MP3), which smears every cut over up to a frame."""
    detector = detector or DropoutDetector()
    report = DetectionReport(
        n_files=len(files),
        saved_at_hz=saved_at,
        saved_as=saved_as.label if saved_as else None,
        concealment_everywhere=DropoutKind.CONCEALED in detector.settings.kinds,
    )
    codec = OpusCodec(CALL_BITRATE, CALL_RATE_HZ, CALL_PACKET_MS) if opus_available() else None
    # calls are scanned for concealment too (opt-in elsewhere: see DEFAULT_KINDS)
    call_detector = _also_seeking(detector, DropoutKind.CONCEALED)
    # the click scenario is scanned for clicks too, and the clean files for clicks alone
    click_detector = _also_seeking(detector, DropoutKind.CLICK)
    clicks_only = DropoutDetector(replace(detector.settings, kinds=(DropoutKind.CLICK,)))
    for index, item in enumerate(files):
        audio = load(item.path)
        rng = np.random.default_rng([seed, index])
        rate = saved_at or audio.sample_rate
        clean = _saved(audio, rate, saved_as)
        report.clean_false_alarms += len(detector.regions(clean))
        report.click_false_alarms += len(clicks_only.regions(clean))
        report.clean_minutes += audio.duration_s / 60
        scenarios = corrupt_scenarios(audio, rng, per_file)
        # its own stream, so that the other scenarios' cases stay as they were
        gated, gated_damaged, gated_truth = gated_scenario(
            audio, np.random.default_rng([seed, index, 1]), per_file
        )
        report.gated_false_alarms += len(detector.regions(_saved(gated, rate, saved_as)))
        report.gated_minutes += audio.duration_s / 60
        scenarios["gated_zero_run"] = (gated_damaged, gated_truth)
        if codec is not None:
            coded, concealed, call_truth = call_scenario(
                audio, codec, np.random.default_rng([seed, index, 2]), per_file
            )
            report.coded_false_alarms += len(call_detector.regions(_saved(coded, rate, saved_as)))
            report.coded_minutes += coded.duration_s / 60
            truth, found = _score(
                report, "call_concealed", call_detector, concealed, call_truth, rate, saved_as
            )
            for t in truth:
                seen = any(f.overlaps_or_touches(t) for f in found)
                report.calls_found += seen
                ms = CALL_PACKET_MS * round(1000 * t.n_frames / rate / CALL_PACKET_MS)
                counts = report.calls_by_ms.setdefault(ms, [0, 0])
                counts[0] += 1
                counts[1] += seen
        for name, (damaged, truth) in scenarios.items():
            _score(report, name, detector, damaged, truth, rate, saved_as)
        clicked, click_truth = click_scenario(
            audio, np.random.default_rng([seed, index, 3]), per_file
        )
        _score(report, "click", click_detector, clicked, click_truth, rate, saved_as)
        if progress is not None:
            progress(index + 1, len(files))
    return report


def _also_seeking(detector: DropoutDetector, kind: DropoutKind) -> DropoutDetector:
    """A detector with ``detector``'s settings that seeks ``kind`` too."""
    kinds = tuple(dict.fromkeys((*detector.settings.kinds, kind)))
    return DropoutDetector(replace(detector.settings, kinds=kinds))


def _score(
    report: DetectionReport,
    name: str,
    detector: DropoutDetector,
    damaged: Audio,
    truth: list[Region],
    rate: int,
    saved_as: LossyFormat | None = None,
) -> tuple[list[Region], list[Region]]:
    """Scan ``damaged`` saved at ``rate`` (and as ``saved_as``), match its finds with
    ``truth`` (on the file's own samples) into ``report`` under ``name``; the truth and the
    finds, at ``rate``."""
    truth = [_region_at(r, damaged.sample_rate, rate) for r in truth]
    found = detector.regions(_saved(damaged, rate, saved_as))
    score, errors = match(truth, found, int(TOLERANCE_MS / 1000 * rate))
    report.scores.setdefault(name, Score()).add(score)
    report.boundary_errors_ms.setdefault(name, []).extend(1000 * e / rate for e in errors)
    return truth, found


def _saved(audio: Audio, rate: int, saved_as: LossyFormat | None = None) -> Audio:
    """``audio`` as the scan gets it: resampled to ``rate``, then through ``saved_as``."""
    if rate != audio.sample_rate:
        samples = to_rate(audio.samples, audio.sample_rate, rate).astype(np.float32)
        audio = Audio(samples, rate)
    return audio if saved_as is None else roundtrip(audio, saved_as)


def _region_at(region: Region, from_rate: int, rate: int) -> Region:
    """``region`` on ``rate``'s samples: a sample or two (a click) stays a sample at least."""
    start = round(region.start * rate / from_rate)
    return Region(start, max(start + 1, round(region.end * rate / from_rate)))


def write_report(report: DetectionReport, folder: Path, meta: dict[str, object]) -> list[Path]:
    """JSON, Markdown table and a PNG bar chart of per-scenario precision/recall/F1."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, **report.to_dict()}
    json_path = folder / "detection.json"
    write_text_atomic(json_path, json.dumps(data, indent=2) + "\n", overwrite=True)
    lines = []
    if report.saved_at_hz or report.saved_as:
        at = f" at {report.saved_at_hz} Hz" if report.saved_at_hz else ""
        coded = f", then coded as {report.saved_as} and decoded" if report.saved_as else ""
        lines += [f"Each file (damaged and clean) saved{at}{coded} before the scan.", ""]
    lines += [
        "| scenario | TP | FP | FN | precision | recall | F1 | median edge error (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report.scores.items():
        med = _median(report.boundary_errors_ms.get(name, []))
        lines.append(
            f"| {name} | {s.true_positives} | {s.false_positives} | {s.false_negatives} | "
            f"{s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {med:.2f} |"
        )
    lines.append("")
    lines.append(
        f"Clean speech: {report.clean_false_alarms} false detections in "
        f"{report.clean_minutes:.1f} min = {report.false_alarms_per_10_min:.2f} per 10 min."
    )
    lines.append("")
    lines.append(
        f"Clean speech scanned for clicks alone (an opt-in kind, sought in the click "
        f"scenario): {report.click_false_alarms} false detections in "
        f"{report.clean_minutes:.1f} min."
    )
    if report.gated_minutes:
        lines.append("")
        lines.append(
            f"Gated speech (the same files through a noise gate): {report.gated_false_alarms} "
            f"false detections in {report.gated_minutes:.1f} min = "
            f"{report.gated_false_alarms_per_10_min:.2f} per 10 min."
        )
    if report.coded_minutes:
        where = (
            "concealment sought in every scan"
            if report.concealment_everywhere
            else "concealment sought here and in call_concealed only"
        )
        lines.append("")
        lines.append(
            f"Coded speech (the same files through Opus {CALL_BITRATE // 1000} kb/s, no packet "
            f"lost; {where}): "
            f"{report.coded_false_alarms} false detections in "
            f"{report.coded_minutes:.1f} min = {report.coded_false_alarms_per_10_min:.2f} per "
            "10 min."
        )
        calls = report.scores.get("call_concealed")
        if calls is not None:
            total = calls.true_positives + calls.false_negatives
            lines.append("")
            lines.append(
                f"Concealed bursts overlapped by a detection, whatever its edges: "
                f"{report.calls_found} of {total}."
            )
            lines.append("")
            lines.append("| burst | bursts | overlapped |")
            lines.append("|---|---|---|")
            for ms, (n, seen) in sorted(report.calls_by_ms.items()):
                lines.append(f"| {ms} ms | {n} | {seen} ({100 * seen / n:.0f} %) |")
    md_path = folder / "detection.md"
    write_text_atomic(md_path, "\n".join(lines) + "\n", overwrite=True)
    png_path = folder / "detection.png"
    _plot(report, png_path)
    return [json_path, md_path, png_path]


def _plot(report: DetectionReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report.scores)
    xs = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for offset, metric in ((-0.25, "precision"), (0.0, "recall"), (0.25, "f1")):
        ax.bar(xs + offset, [getattr(report.scores[n], metric) for n in names], 0.25, label=metric)
    ax.axhline(0.95, color="k", linestyle="--", linewidth=0.8, label="target F1 0.95")
    ax.set_xticks(xs, names)
    ax.set_ylim(0, 1.05)
    saved = f", saved at {report.saved_at_hz / 1000:g} kHz" if report.saved_at_hz else ""
    saved += f" as {report.saved_as}" if report.saved_as else ""
    ax.set_title(
        f"Dropout detection (±{TOLERANCE_MS:g} ms{saved})\n"  # two lines: it fits the figure
        f"false detections per 10 min: clean {report.false_alarms_per_10_min:.2f}, "
        f"gated {report.gated_false_alarms_per_10_min:.2f}",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")
