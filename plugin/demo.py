"""The main job in miniature: damage the bundled example, detect the damage, repair it, show it."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import packet_burst, packet_region, speech_positions, zero_gap
from voicemend.engine.detect import DropoutDetector
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import load, save, write_text_atomic
from voicemend.engine.metrics import log_spectral_distance
from voicemend.engine.regions import Region

EXAMPLE = "LJ001-0001.flac"
# Dropouts injected by the demo: zero runs (ms) and comfort-noise packet bursts (20 ms packets).
ZERO_GAPS_MS = (15, 40, 120, 200)
NOISE_BURSTS_PACKETS = (3,)
COMFORT_NOISE_DBFS = -60.0
SEED = 2024
MEASURE_CONTEXT_S = 0.05


def example_path() -> Path:
    """The bundled, public-domain example clip (see examples/ATTRIBUTION.md)."""
    return Path(str(resources.files("voicemend.plugin") / "examples" / EXAMPLE))


def damage(audio: Audio, rng: np.random.Generator) -> tuple[Audio, list[Region]]:
    """Inject the demo's dropouts inside active speech; returns damaged audio and true regions."""
    x, sr = audio.samples[0], audio.sample_rate
    truth: list[Region] = []
    damaged = audio
    for gap_ms in ZERO_GAPS_MS:
        for region in speech_positions(x, sr, int(gap_ms * sr / 1000), 1, rng, taken=truth):
            damaged = zero_gap(damaged, region)
            truth.append(region)
    packet = int(0.02 * sr)
    for n_packets in NOISE_BURSTS_PACKETS:
        for spot in speech_positions(x, sr, (n_packets + 1) * packet, 1, rng, taken=truth):
            burst = packet_region(spot.start, n_packets, sr)
            damaged = packet_burst(damaged, burst, COMFORT_NOISE_DBFS, rng)
            truth.append(burst)
    return damaged, sorted(truth)


def run_demo(out_dir: Path, echo: Callable[[str], object] = print) -> dict[str, object]:
    """Write damaged.wav, repaired.wav, before_after.png, detections.png and report.json."""
    from voicemend.plugin.plots import plot_before_after, plot_detections

    out_dir.mkdir(parents=True, exist_ok=True)
    clean = load(example_path())
    damaged, truth = damage(clean, np.random.default_rng(SEED))
    detections = DropoutDetector()(damaged)
    echo(
        f"example: {EXAMPLE} ({clean.duration_s:.1f} s, {clean.sample_rate} Hz), "
        f"{len(truth)} dropouts injected, {len(detections)} detected"
    )
    result = get_inpainter("auto").inpaint(damaged, [d.region for d in detections])
    repaired = result.audio
    sr = clean.sample_rate
    rows = []
    for det, report in zip(detections, result.reports, strict=True):
        pad = int(MEASURE_CONTEXT_S * sr)
        lo, hi = max(0, det.region.start - pad), min(clean.n_frames, det.region.end + pad)
        lsd_before = log_spectral_distance(clean.samples[0, lo:hi], damaged.samples[0, lo:hi], sr)
        lsd_after = log_spectral_distance(clean.samples[0, lo:hi], repaired.samples[0, lo:hi], sr)
        start_s, end_s = det.seconds(sr)
        rows.append(
            {
                "start_s": round(start_s, 4),
                "end_s": round(end_s, 4),
                "kind": det.kind.value,
                "confidence": round(det.confidence, 3),
                "method": report.method,
                "lsd_damaged_db": round(lsd_before, 2),
                "lsd_repaired_db": round(lsd_after, 2),
            }
        )
        echo(
            f"  {start_s:7.3f}-{end_s:7.3f} s {1000 * (end_s - start_s):6.1f} ms  "
            f"{det.kind.value:15s}"
            f" -> {report.method:8s} log-spectral distance {lsd_before:5.1f} -> {lsd_after:5.1f} dB"
        )
    paths = {
        "damaged": save(damaged, out_dir / "damaged.wav", overwrite=True),
        "repaired": save(repaired, out_dir / "repaired.wav", overwrite=True),
    }
    longest = max(truth, key=lambda r: r.n_frames)
    paths["before_after"] = plot_before_after(
        [("original", clean), ("damaged", damaged), ("repaired", repaired)],
        longest,
        out_dir / "before_after.png",
        title=f"{1000 * longest.n_frames / sr:.0f} ms dropout repaired (marked)",
    )
    paths["detections"] = plot_detections(damaged, detections, out_dir / "detections.png")
    found = sum(
        any(
            abs(d.region.start - t.start) <= 0.01 * sr and abs(d.region.end - t.end) <= 0.01 * sr
            for d in detections
        )
        for t in truth
    )
    report = {
        "example": EXAMPLE,
        "injected": len(truth),
        "detected": len(detections),
        "matched_within_10ms": found,
        "regions": rows,
        "files": {k: str(v) for k, v in paths.items()},
    }
    paths["report"] = write_text_atomic(
        out_dir / "report.json", json.dumps(report, indent=2) + "\n", overwrite=True
    )
    echo("wrote " + ", ".join(str(p) for p in paths.values()))
    return report
