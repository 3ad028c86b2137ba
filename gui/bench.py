"""Editor benchmark, run in its own process: open time, memory, redraws, UI-seen repair latency.

``voicemend bench editor`` writes the long test file and starts ``python -m voicemend.gui.bench
FILE``, which drives the real window offscreen and prints one JSON object. A fresh process keeps
the memory figures about the editor alone.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from voicemend.engine.evaluation.speed import peak_rss_mib, proc_status_mib


def _rss_mib() -> float:
    rss = proc_status_mib("VmRSS")
    return float("nan") if rss is None else rss


def _zoom_redraws_ms(window, app, rng: np.random.Generator, zooms: int) -> list[float]:
    """Milliseconds for each of ``zooms`` jumps to a random span (0.5 s to the whole file)."""
    duration_s = window.document.duration_s
    out = []
    for _ in range(zooms):
        span = float(np.exp(rng.uniform(np.log(0.5), np.log(duration_s))))
        start = float(rng.uniform(0, max(0.0, duration_s - span)))
        t0 = time.perf_counter()
        window.waveform.setXRange(start, start + span, padding=0)
        app.processEvents()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def measure(
    path: Path, repairs: int = 5, zooms: int = 30, spans: int = 10_000
) -> dict[str, object]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from voicemend.gui.main_window import MainWindow
    from voicemend.gui.playback import Player

    app = QApplication.instance() or QApplication(sys.argv[:1])
    saved_cache = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp  # recovery files of this run stay in the temp folder
        window = MainWindow(
            settings=QSettings(str(Path(tmp) / "b.ini"), QSettings.Format.IniFormat),
            player=Player(),
        )
        window.ask = lambda _q, choices=("Yes", "No"): choices[-1]
        window.resize(1400, 800)
        window.show()
        app.processEvents()
        rss_before = _rss_mib()
        started = time.perf_counter()
        if not window.open_file(path):
            raise SystemExit(f"could not open {path}: {window.last_error}")
        app.processEvents()
        open_s = time.perf_counter() - started
        rss_open = _rss_mib()
        doc = window.document
        assert doc is not None

        rng = np.random.default_rng(0)
        redraw_ms = _zoom_redraws_ms(window, app, rng, zooms)
        points = window.waveform.trace_points()

        # A clipped recording's detections: ``spans`` one-sample runs over the whole file.
        runs = [(t, t + 1 / doc.sample_rate) for t in np.linspace(0, doc.duration_s, spans)]
        t0 = time.perf_counter()
        window.waveform.set_overlays(runs, [])
        app.processEvents()
        spans_show_ms = 1000 * (time.perf_counter() - t0)
        spans_redraw_ms = _zoom_redraws_ms(window, app, rng, zooms)
        window.waveform.set_overlays([], [])

        latencies: dict[str, list[float]] = {}
        for method in [m for m in ("lsar", "auto") if window.method.findText(m) >= 0]:
            window.method.setCurrentText(method)
            for i in range(repairs):
                centre = doc.duration_s * (i + 1) / (repairs + 1)
                window.waveform.select(centre, centre + 0.2)
                n = len(doc.patches)
                t0 = time.perf_counter()
                window.repair_selection()
                while len(doc.patches) == n or window.job is not None:
                    app.processEvents()
                    time.sleep(0.001)
                latencies.setdefault(method, []).append(1000 * (time.perf_counter() - t0))
        window.undo_stack.setClean()
        window.close()
    if saved_cache is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved_cache
    size_16bit_mib = doc.n_frames * doc.n_channels * 2 / 2**20
    return {
        "file": str(path),
        "duration_s": round(doc.duration_s, 1),
        "sample_rate": doc.sample_rate,
        "channels": doc.n_channels,
        "size_16bit_mib": round(size_16bit_mib, 1),
        "open_s": round(open_s, 3),
        "rss_before_open_mib": round(rss_before, 1),
        "rss_after_open_mib": round(rss_open, 1),
        "open_memory_mib": round(rss_open - rss_before, 1),
        "open_memory_x_16bit": round((rss_open - rss_before) / size_16bit_mib, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "redraw_ms_median": round(statistics.median(redraw_ms), 1),
        "redraw_ms_max": round(max(redraw_ms), 1),
        "trace_points_last": points,
        "spans_shown": spans,
        "spans_show_ms": round(spans_show_ms, 1),
        "spans_redraw_ms_median": round(statistics.median(spans_redraw_ms), 1),
        "spans_redraw_ms_max": round(max(spans_redraw_ms), 1),
        "repair_200ms_ui_latency_ms": {
            m: round(statistics.median(v), 1) for m, v in latencies.items()
        },
    }


def markdown(row: dict[str, object]) -> str:
    lat = row["repair_200ms_ui_latency_ms"]
    lines = [
        f"Editor on a {row['duration_s'] / 60:.0f}-minute {row['sample_rate'] / 1000:g} kHz "
        f"{row['channels']}-channel 16-bit file ({row['size_16bit_mib']} MiB of samples), "
        "offscreen Qt.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| open (read + peak pyramids + first draw) | {row['open_s']:.2f} s |",
        f"| memory added by opening | {row['open_memory_mib']} MiB "
        f"({row['open_memory_x_16bit']}x the 16-bit size) |",
        f"| peak RSS of the editor process | {row['peak_rss_mib']} MiB |",
        f"| zoom/scroll redraw, median / max | {row['redraw_ms_median']} / "
        f"{row['redraw_ms_max']} ms |",
        f"| {row['spans_shown']:,} detections shown (a clipped file's runs) | "
        f"{row['spans_show_ms']} ms |",
        f"| zoom/scroll redraw with them, median / max | {row['spans_redraw_ms_median']} / "
        f"{row['spans_redraw_ms_max']} ms |",
        *(
            f"| repair of a 200 ms selection as the UI sees it ({m}), median | {v} ms |"
            for m, v in lat.items()
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    result = measure(Path(sys.argv[1]))
    print(json.dumps({"row": result, "markdown": markdown(result)}))
