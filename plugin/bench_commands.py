"""``voicemend bench ...``: the benchmarks' command-line side (running them, writing results)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from voicemend.engine.errors import VoicemendError
from voicemend.engine.evaluation.quality import QualityConfig
from voicemend.engine.inpaint import INPAINTERS
from voicemend.engine.io import info, save, write_text_atomic
from voicemend.plugin.progress import progress_bar

PROG = "voicemend"  # the command line's name, as plugin.cli shows it


def cmd_bench(args: argparse.Namespace) -> int:
    if args.bench_command == "quality":
        return cmd_bench_quality(args)
    if args.bench_command == "compare":
        return cmd_bench_compare(args)
    if args.bench_command == "editor":
        return cmd_bench_editor(args)
    if args.bench_command == "speed":
        return cmd_bench_speed(args)
    if args.bench_command == "render":
        return cmd_bench_render(args)
    return cmd_bench_detection(args)


def cmd_bench_quality(args: argparse.Namespace) -> int:
    from voicemend.engine.data import list_speech
    from voicemend.engine.evaluation.peers import PEERS
    from voicemend.engine.evaluation.quality import ExternalMethod, run_quality
    from voicemend.engine.evaluation.report import write_results

    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = [m for m in methods if m not in INPAINTERS and m not in PEERS]
    if unknown:
        raise VoicemendError(
            f"unknown method(s) {', '.join(unknown)}; known: {', '.join([*INPAINTERS, *PEERS])}"
        )
    for peer in [m for m in methods if m in PEERS]:
        PEERS[peer]()  # a missing model or runtime is reported now, not in every worker
    external = []
    for spec in args.cmd:
        name, sep, template = spec.partition("=")
        if not sep or not name or "{input}" not in template or "{output}" not in template:
            raise VoicemendError(
                f"--cmd needs NAME='TEMPLATE' with {{input}} and {{output}}: {spec!r}"
            )
        external.append(ExternalMethod(name, template))
    try:
        gaps = tuple(int(g) for g in args.gaps.split(",") if g)
    except ValueError:
        raise VoicemendError(
            f"--gaps must be whole milliseconds separated by commas: {args.gaps!r}"
        ) from None
    names = {*methods, *(e.name for e in external)}
    rescore = {m for m in args.rescore.split(",") if m}
    if not rescore <= names:
        raise VoicemendError(
            f"--rescore names methods this run does not bench: {', '.join(sorted(rescore - names))}"
        )
    try:
        rescore_gaps = {int(g) for g in args.rescore_gaps.split(",") if g}
    except ValueError:
        raise VoicemendError(
            f"--rescore-gaps must be whole milliseconds separated by commas: {args.rescore_gaps!r}"
        ) from None
    if rescore_gaps and not rescore:
        raise VoicemendError("--rescore-gaps needs --rescore to name the methods")
    if not rescore_gaps <= set(gaps):
        raise VoicemendError(
            "--rescore-gaps names lengths this run does not bench: "
            + ", ".join(str(g) for g in sorted(rescore_gaps - set(gaps)))
        )
    modes = tuple(m for m in args.modes.split(",") if m)
    if not set(modes) <= {"informed", "blind"}:
        raise VoicemendError("--modes takes informed and/or blind")
    config = QualityConfig(
        gaps_ms=gaps,
        positions_short=args.positions_short,
        positions_long=args.positions_long,
        modes=modes,
        methods=methods,
        external=tuple(external),
        heavy_positions=args.heavy_positions,
        seed=args.seed,
    )
    files = list_speech(args.data, split=args.split)[: args.limit]
    if not files:
        raise VoicemendError("no audio files found for the benchmark")
    folder = args.results / args.name
    t0 = time.perf_counter()
    if args.report_only:
        from voicemend.engine.evaluation.quality import read_cache

        rows = list(read_cache(folder / "scores.jsonl"))
    else:
        with progress_bar("files") as bar:
            rows = run_quality(
                files,
                config,
                folder,
                workers=args.workers,
                progress=bar,
                rescore=rescore,
                rescore_gaps_ms=rescore_gaps,
            )
    stems = {f.path.stem for f in files}
    rows = [
        r
        for r in rows
        if r["method"] in names
        and r["mode"] in modes
        and int(r["gap_ms"]) in gaps
        and r["file"] in stems
    ]
    meta = _run_meta(sys.argv)
    meta.update(
        name=args.name,
        n_files=len({r["file"] for r in rows}),
        elapsed_s=round(time.perf_counter() - t0, 1),
        config=config.to_dict(),
    )
    paths = write_results(rows, folder, meta)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from voicemend.engine.data import list_speech
    from voicemend.engine.evaluation.speed import SpeedConfig, run_speed, speed_markdown

    methods = tuple(m for m in args.methods.split(",") if m)
    if "lsar" not in methods or any(m not in INPAINTERS for m in methods):
        raise VoicemendError(
            f"--methods must be registered methods and include lsar (the "
            f"reference for ratios); known: {', '.join(INPAINTERS)}"
        )
    devices = None if args.devices is None else tuple(d for d in args.devices.split(",") if d)
    if devices is not None and not set(devices) <= {"cpu", "cuda"}:
        raise VoicemendError(f"--devices takes cpu and/or cuda, not {args.devices!r}")
    config = SpeedConfig(
        methods=methods,
        repeats=args.repeats,
        podcast_minutes=args.minutes,
        dropouts=args.dropouts,
        devices=devices,
        podcast=args.podcast,
    )
    files = list_speech(args.data, split=args.split)
    if not files:
        raise VoicemendError("no audio files found for the benchmark")
    with progress_bar("runs") as bar:
        rows = run_speed(files, config, progress=bar)
    meta = {**_run_meta(sys.argv), "config": config.to_dict()}
    import torch

    if torch.cuda.is_available():
        meta["machine"] = f"{meta['machine']}, GPU: {torch.cuda.get_device_name(0)}"
    _write_bench(args.results / args.name, "speed", meta, rows, speed_markdown(rows))
    return 0


def cmd_bench_render(args: argparse.Namespace) -> int:
    from voicemend.engine.data import list_speech
    from voicemend.plugin.bench_render import render_markdown, run_render_bench
    from voicemend.plugin.presets import load_preset

    preset = load_preset(args.chain).to_dict()
    files = list_speech(args.data, split=args.split)
    if not files:
        raise VoicemendError("no audio files found for the benchmark")
    rows = run_render_bench(
        files,
        preset,
        minutes=args.minutes,
        with_ray=not args.no_ray,
        progress=lambda label: print(f"rendering with {label}", file=sys.stderr),
    )
    meta = {**_run_meta(sys.argv), "chain": args.chain}
    _write_bench(args.results / args.name, "render", meta, rows, render_markdown(rows))
    return 0


def _write_bench(folder: Path, stem: str, meta: dict, rows: list, table: str) -> None:
    """``STEM.json`` (every row and the run's facts) and ``STEM.md`` (the table) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n"
    write_text_atomic(folder / f"{stem}.json", payload, overwrite=True)
    header = (
        f"# {stem.capitalize()} bench: {folder.name}\n\n- command: `{meta['command']}`\n"
        f"- git commit: {meta['git_commit']}\n- machine: {meta['machine']}\n"
        f"- date: {meta['date']}\n\n"
    )
    write_text_atomic(folder / f"{stem}.md", header + table, overwrite=True)
    print(table, end="")
    print(f"wrote {folder / (stem + '.json')}, {folder / (stem + '.md')}")


def cmd_bench_editor(args: argparse.Namespace) -> int:
    """Write a long 44.1 kHz stereo 16-bit file, then time the editor on it in its own process."""
    from voicemend.engine.data import list_speech
    from voicemend.engine.evaluation.speed import build_podcast, concatenated_speech

    files = list_speech(args.data, split="dev")
    if not files:
        raise VoicemendError("no audio files found for the benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        audio, _ = build_podcast(concatenated_speech(files, 120.0), args.minutes, 50, seed=0)
        path = save(audio, Path(tmp) / "podcast.wav", subtype="PCM_16")
        del audio
        print(f"measuring the editor on {path.name} ({args.minutes:g} min)…")
        done = subprocess.run(
            [sys.executable, "-m", "voicemend.gui.bench", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise VoicemendError(f"the editor benchmark failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    meta = _run_meta(sys.argv)
    _write_bench(args.results / args.name, "editor", meta, [result["row"]], result["markdown"])
    return 0


def cmd_bench_compare(args: argparse.Namespace) -> int:
    from voicemend.engine.evaluation.report import compare, load_summary

    for path in (args.a, args.b):
        if not path.exists():
            raise VoicemendError(f"{path}: no such results folder or summary file")
    lines = compare(load_summary(args.a), load_summary(args.b))
    if not lines:
        print("no common results to compare")
        return 1 if args.check else 0
    print("\n".join(lines))
    beyond = sum(line.endswith(" *") for line in lines)
    print(f"{beyond} of {len(lines)} results differ by more than their 95% CIs (marked *)")
    return 1 if args.check and beyond else 0


def cmd_bench_detection(args: argparse.Namespace) -> int:
    from voicemend.engine.data import list_speech
    from voicemend.engine.evaluation.detection import evaluate_detection, write_report

    files = list_speech(args.data, split=args.split)
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise VoicemendError("no audio files found for the benchmark")
    from voicemend.engine.detect import DetectorSettings, DropoutDetector, kinds_sought

    detector = DropoutDetector(DetectorSettings(kinds=kinds_sought(args.concealed)))
    if args.saved_as is not None:
        args.saved_as.check_rate(args.saved_at or info(files[0].path).sample_rate)
    t0 = time.perf_counter()
    with progress_bar("files") as bar:
        report = evaluate_detection(
            files,
            detector,
            per_file=args.per_file,
            seed=args.seed,
            progress=bar,
            saved_at=args.saved_at,
            saved_as=args.saved_as,
        )
    meta = _run_meta(sys.argv if sys.argv[0].endswith(PROG) else [PROG, "bench", "detection"])
    meta["elapsed_s"] = round(time.perf_counter() - t0, 2)
    paths = write_report(report, args.results / args.name, meta)
    print(paths[1].read_text(encoding="utf-8"), end="")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _run_meta(argv: Sequence[str]) -> dict[str, object]:
    return {
        "command": " ".join(["voicemend", *argv[1:]]),
        "git_commit": git_commit(),
        "machine": _machine(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


RESULTS_SPEC = ":(exclude)bench/results"


def git_commit() -> str:
    """The checkout's commit, with ``-dirty`` where tracked files differ from it (a result
    measured on uncommitted code names no commit that made it). Results under
    ``bench/results`` do not count: benches run one after another rewrite them."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, timeout=5
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", RESULTS_SPEC)
        if commit and changed:
            commit += "-dirty"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return commit or "unknown"


def _machine() -> str:
    """CPU model and core count, for reading timings later."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"
