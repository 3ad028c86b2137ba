"""The ``voicemend`` command line. Its forms are a contract: keep them stable."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from voicemend.engine.audio import MAX_REPAIR_RATE_HZ, MIN_REPAIR_RATE_HZ
from voicemend.engine.detect import (
    Detection,
    DetectorSettings,
    DropoutDetector,
    channel_names,
    kinds_sought,
)
from voicemend.engine.errors import VoicemendError
from voicemend.engine.evaluation.quality import PAPER_GAPS_MS, QualityConfig
from voicemend.engine.inpaint import INPAINTERS, Cancelled, RegionReport
from voicemend.engine.io import (
    AudioInfo,
    coded_bitrate_kbps,
    info,
    measure_levels,
    write_text_atomic,
)
from voicemend.engine.lossy import CODEC_NAMES, LossyFormat, is_lossy
from voicemend.engine.models.shipped import STORAGES
from voicemend.engine.regions import format_time_s, parse_region_spec
from voicemend.plugin.bench_commands import PROG, cmd_bench
from voicemend.plugin.jobs import RepairJob, run_detect, run_repair
from voicemend.plugin.labels import Label, channel_tag, format_audacity_labels, format_reaper_csv
from voicemend.plugin.progress import progress_bar
from voicemend.plugin.render import FORMATS as RENDER_FORMATS

EXIT_ERROR = 1
EXIT_CANCELLED = 130
# `repair` lists up to this many repairs; past it, those under SHORT_REPAIR_MS are summed up.
LISTED_REPAIRS = 40
SHORT_REPAIR_MS = 5.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Repair dropouts, clicks and gaps in recorded speech."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = sub.add_parser(
        "repair", help="repair regions of a file (given, from labels, or detected)"
    )
    rep.add_argument("input", type=Path, metavar="IN")
    rep.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="output file (its extension picks the format); required unless --in-place",
    )
    rep.add_argument(
        "--region",
        action="append",
        default=[],
        type=_region_arg,
        metavar="START:END",
        help="region to repair, in seconds (12.5:12.7) or mm:ss.sss; repeatable",
    )
    rep.add_argument(
        "--labels", type=Path, metavar="FILE", help="regions from an Audacity label file"
    )
    rep.add_argument("--auto", action="store_true", help="detect dropouts and repair them")
    rep.add_argument(
        "--concealed",
        action="store_true",
        help="with --auto, also repair losses a call's decoder concealed, where they last 50 ms "
        "or more (shorter ones it conceals about as well as a repair would)",
    )
    rep.add_argument(
        "--clicks",
        action="store_true",
        help="with --auto, also repair clicks (a few samples the speech around them cannot have "
        "made: a bad edit, a digital glitch)",
    )
    rep.add_argument(
        "--no-snap",
        dest="snap",
        action="store_false",
        help="repair --region/--labels spans exactly as given; by default one that cuts into a "
        "dropout grows to its edges (by at most 50 ms a side), so no part of it is kept as "
        "context",
    )
    rep.add_argument(
        "--method",
        choices=sorted(INPAINTERS),
        default="auto",
        help="repair method (default: auto, which picks per region)",
    )
    rep.add_argument(
        "--device",
        default="auto",
        help="for neural methods: auto (cuda, then mps, then cpu), cpu, cuda or mps",
    )
    rep.add_argument("--in-place", action="store_true", help="allow writing over IN")
    rep.add_argument("--overwrite", action="store_true", help="allow replacing an existing OUT")
    rep.add_argument("--report", type=Path, metavar="JSON", help="write per-region details as JSON")
    rep.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    rep.add_argument(
        "--list-all",
        action="store_true",
        help=f"print every repair (by default, past {LISTED_REPAIRS} the short ones are summed up)",
    )
    rep.add_argument("--block-s", **BLOCK_ARG)
    rep.add_argument(
        "--bit-depth",
        choices=list(BIT_DEPTHS),
        help="the output's sample format (default: the input's, where the output format holds "
        "it); float keeps restored clipped peaks past full scale; for an .m4a output, 16 or 24 "
        "writes lossless ALAC instead of AAC",
    )

    det = sub.add_parser("detect", help="find dropouts, packet loss and clipping")
    det.add_argument("input", type=Path, metavar="IN")
    det.add_argument("--format", choices=["text", "json", "audacity", "reaper"], default="text")
    det.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    det.add_argument("--overwrite", action="store_true", help="allow replacing an existing FILE")
    det.add_argument("--plot", type=Path, metavar="PNG", help="also draw the detections")
    det.add_argument(
        "--min-confidence",
        type=_confidence,
        default=DetectorSettings().min_confidence,
        metavar="C",
        help="list detections this sure or surer, 0-1 (default: %(default)s; 0.2 also lists "
        "the pauses a noise gate or a fade left silent, at 0.25)",
    )
    det.add_argument(
        "--concealed",
        action="store_true",
        help="also look for losses a call's decoder concealed (a network; off by default: on "
        "speech that was never a call it finds one now and then)",
    )
    det.add_argument(
        "--clicks",
        action="store_true",
        help="also look for clicks (off by default: on clean speech it finds one now and then, "
        "29 in 2.8 h of read speech, which has mouth clicks of its own)",
    )
    det.add_argument("--block-s", **BLOCK_ARG)

    ren = sub.add_parser("render", help="render files, folders or globs through a chain preset")
    ren.add_argument(
        "inputs", nargs="+", metavar="IN", help="audio files, folders or glob patterns"
    )
    ren.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR")
    ren.add_argument(
        "--chain",
        required=True,
        metavar="PRESET",
        help="a preset JSON file or the name of a shipped preset (voicemend presets)",
    )
    ren.add_argument(
        "--regions",
        metavar="LABELS",
        help="regions to repair in every file (Audacity labels, REAPER CSV or JSON)",
    )
    ren.add_argument("--format", choices=list(RENDER_FORMATS), default="wav")
    ren.add_argument("--block-s", **BLOCK_ARG)
    ren.add_argument(
        "--bit-depth",
        choices=list(BIT_DEPTHS),
        help="the outputs' sample format (default: each input's, where the format holds it)",
    )
    ren.add_argument("--workers", type=int, default=1, help="local worker processes")
    ren.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run as Ray tasks: a local Ray instance, or join the cluster at ADDRESS",
    )

    sub.add_parser("presets", help="list the shipped chain presets")

    edit = sub.add_parser("edit", help="open FILE in the desktop editor (voicemend-editor)")
    edit.add_argument("input", type=Path, nargs="?", metavar="FILE")

    mod = sub.add_parser("models", help="the neural models shipped in the package")
    mod_sub = mod.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    mod_sub.add_parser("list", help="list shipped models and verify their files")
    ship = mod_sub.add_parser("ship", help="copy an exported model into the package (developers)")
    ship.add_argument("name", help="ift, mel, mel-decoder, decoder, ipt-encoder or ipt-decoder")
    ship.add_argument("--from", dest="source", type=Path, required=True, metavar="EXPORT_DIR")
    ship.add_argument(
        "--kind", required=True, help="mel_inpainter, mel_transformer, vocos or hubert"
    )
    ship.add_argument("--run", type=Path, metavar="RUN_DIR", help="the training run (for the card)")
    ship.add_argument(
        "--bench", type=Path, metavar="MARKDOWN", help="bench tables for the model card"
    )
    ship.add_argument(
        "--hardware",
        default="one CPU thread",
        help="what it trained on, for the card (default: one CPU thread)",
    )
    ship.add_argument(
        "--storage",
        choices=STORAGES,
        default="float16",
        help="how weights are written: float16 (default; half the size), int8 (large matrices "
        "as int8 with a scale per row, a quarter of the size) or float32",
    )

    inf = sub.add_parser("info", help="show format, rate, channels, length and levels of a file")
    inf.add_argument("input", type=Path, metavar="IN")

    demo = sub.add_parser("demo", help="damage the bundled example, detect, repair, plot")
    demo.add_argument("-o", "--output", type=Path, default=Path("out/demo"), metavar="DIR")

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    bdet = bench_sub.add_parser("detection", help="detection F1 and false alarms on a speech set")
    bdet.add_argument(
        "--data",
        type=Path,
        help="folder with manifest.csv or audio files (default: ../shared/data/speech)",
    )
    bdet.add_argument("--split", default="dev")
    bdet.add_argument("--per-file", type=int, default=3, help="corruptions per file and scenario")
    bdet.add_argument("--limit", type=int, help="use only the first N files")
    bdet.add_argument("--seed", type=int, default=0)
    bdet.add_argument(
        "--saved-at",
        type=_rate_arg,
        metavar="HZ",
        help="resample each damaged file to this rate before scanning it, as a call decoded "
        "at the data's rate (16 kHz) and saved at another: its comfort noise fills the call's "
        "band only",
    )
    bdet.add_argument(
        "--saved-as",
        type=_lossy_arg,
        metavar="CODEC[:KBPS]",
        help="then code and decode each file with a lossy codec (mp3, mp3:128, aac, aac:64, "
        "ogg, opus), as a podcast published as MP3 or a call saved as M4A: the codec smears "
        "every cut",
    )
    bdet.add_argument(
        "--concealed",
        action="store_true",
        help="seek concealed losses in every scan, as detect --concealed does (calls are "
        "always scanned for them)",
    )
    bdet.add_argument("--name", default="detection-dev", help="results go to bench/results/NAME")
    bdet.add_argument("--results", type=Path, default=Path("bench/results"))
    bq = bench_sub.add_parser("quality", help="repair quality: the paper's gap protocol")
    bq.add_argument(
        "--data",
        type=Path,
        help="folder with manifest.csv or audio files (default: ../shared/data/speech)",
    )
    bq.add_argument("--split", default="dev")
    bq.add_argument("--limit", type=int, help="use only the first N files")
    bq.add_argument("--gaps", default=",".join(map(str, PAPER_GAPS_MS)), help="gap lengths, ms")
    bq.add_argument(
        "--positions-short",
        type=int,
        default=QualityConfig.positions_short,
        help="positions per file, gaps <= 100 ms",
    )
    bq.add_argument(
        "--positions-long",
        type=int,
        default=QualityConfig.positions_long,
        help="positions per file, longer gaps",
    )
    bq.add_argument(
        "--heavy-positions",
        type=int,
        default=QualityConfig.heavy_positions,
        help="positions per file and gap that also get DNSMOS and WER (-1: all)",
    )
    bq.add_argument("--methods", default=",".join(QualityConfig.methods), help="registered methods")
    bq.add_argument("--modes", default="informed,blind")
    bq.add_argument(
        "--cmd",
        action="append",
        default=[],
        metavar="NAME=TEMPLATE",
        help="bench an external command, e.g. x='voicemend repair {input} -o {output} "
        "--region {start}:{end}'",
    )
    bq.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    bq.add_argument("--seed", type=int, default=0)
    bq.add_argument("--name", default="quality-dev", help="results go to bench/results/NAME")
    bq.add_argument("--results", type=Path, default=Path("bench/results"))
    bq.add_argument(
        "--rescore",
        default="",
        metavar="METHODS",
        help="drop these methods' cached scores and score them again (after new weights)",
    )
    bq.add_argument(
        "--rescore-gaps",
        default="",
        metavar="MS",
        help="with --rescore: only the scores at these gap lengths (e.g. after auto's table "
        "changed there)",
    )
    bq.add_argument(
        "--report-only",
        action="store_true",
        help="only rebuild the tables and plots from the scores cached so far",
    )
    bs = bench_sub.add_parser("speed", help="latency, throughput (real-time factor), peak memory")
    bs.add_argument("--data", type=Path, help="speech folder (default: ../shared/data/speech)")
    bs.add_argument("--split", default="dev")
    bs.add_argument("--methods", default="zero,lsar,pattern,auto")
    bs.add_argument("--repeats", type=int, default=7)
    bs.add_argument("--minutes", type=float, default=60.0, help="length of the podcast")
    bs.add_argument("--dropouts", type=int, default=200)
    bs.add_argument(
        "--devices",
        help="where to time the neural methods, e.g. cuda (default: the CPU and any GPU); "
        "the classical ones run on the CPU",
    )
    bs.add_argument(
        "--no-podcast",
        dest="podcast",
        action="store_false",
        help="latency rows only, without the podcast's throughput rows",
    )
    bs.add_argument("--name", default="speed", help="results go to bench/results/NAME")
    bs.add_argument("--results", type=Path, default=Path("bench/results"))
    br = bench_sub.add_parser("render", help="batch throughput: 1 vs 2 workers and Ray")
    br.add_argument("--data", type=Path, help="speech folder (default: ../shared/data/speech)")
    br.add_argument("--split", default="dev")
    br.add_argument("--minutes", type=float, default=30.0, help="total audio in the folder")
    br.add_argument("--chain", default="podcast-dropout-repair", metavar="PRESET")
    br.add_argument("--no-ray", action="store_true", help="skip the Ray configuration")
    br.add_argument("--name", default="render", help="results go to bench/results/NAME")
    br.add_argument("--results", type=Path, default=Path("bench/results"))
    be = bench_sub.add_parser("editor", help="editor open time, memory, UI repair latency")
    be.add_argument("--data", type=Path, help="speech folder (default: ../shared/data/speech)")
    be.add_argument("--minutes", type=float, default=60.0, help="length of the test file")
    be.add_argument("--name", default="editor", help="results go to bench/results/NAME")
    be.add_argument("--results", type=Path, default=Path("bench/results"))
    bc = bench_sub.add_parser("compare", help="differences between two result folders")
    bc.add_argument("a", type=Path)
    bc.add_argument("b", type=Path)
    bc.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if any difference lies beyond both 95%% CIs (for reproducing a run)",
    )
    aud = sub.add_parser("audacity", help="work inside a running Audacity (mod-script-pipe)")
    aud.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for Audacity")
    aud_sub = aud.add_subparsers(dest="audacity_command", required=True, metavar="ACTION")
    aud_sub.add_parser("status", help="connection, Audacity version, tracks")
    ars = aud_sub.add_parser("repair-selection", help="repair the selection of the selected tracks")
    arl = aud_sub.add_parser("repair-labels", help="repair every region on a label track")
    arl.add_argument("--track", help="the label track's name (default: voicemend's own)")
    for p in (ars, arl):
        p.add_argument("--method", default="auto", help="auto, lsar, pattern, ... (default auto)")
        p.add_argument("--context", type=float, default=2.0, help="seconds of context each side")
    adet = aud_sub.add_parser("detect", help="label the dropouts of the selected tracks")
    adet.add_argument("--min-confidence", type=_confidence, default=0.5, metavar="C")
    adet.add_argument(
        "--concealed",
        action="store_true",
        help="also label losses a call's decoder concealed (as detect --concealed)",
    )
    adet.add_argument(
        "--clicks", action="store_true", help="also label clicks (as detect --clicks)"
    )
    train = sub.add_parser("train", help="train models (resumable: run again to continue)")
    train_sub = train.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    tdec = train_sub.add_parser("decoder", help="the mel decoder (vocoder) that I_FT keeps frozen")
    tdec.add_argument("--gan-start", type=int, default=3000, help="step at which the GAN joins")
    tdec.add_argument(
        "--postfilter",
        action="store_true",
        help="with --predictor: its frames through the global-variance post-filter first (for "
        "a decoder that voices post-filtered predictions)",
    )
    tdec.add_argument(
        "--predictor",
        type=Path,
        metavar="DIR",
        help="fine-tune on this mel predictor's gap frames (e.g. engine/weights/mel) instead of "
        "the true mel",
    )
    tpre = train_sub.add_parser(
        "pretrain-encoder", help="HuBERT masked-prediction pre-training (MFCC k-means targets)"
    )
    tipt = train_sub.add_parser("ipt", help="I_PT: a decoder on the frozen pre-trained encoder")
    tipt.add_argument(
        "--encoder",
        type=Path,
        required=True,
        metavar="DIR",
        help="the pre-trained encoder (e.g. runs/pretrain/export)",
    )
    tipt.add_argument("--gan-start", type=int, default=3000, help="step at which the GAN joins")
    tift = train_sub.add_parser("ift", help="I_FT: the encoder fine-tuned to predict mel frames")
    tift.add_argument(
        "--init-encoder",
        type=Path,
        metavar="DIR",
        help="start from a pre-trained encoder (HF/fairseq/voicemend checkpoint)",
    )
    tmel = train_sub.add_parser(
        "mel", help="the mel-domain transformer inpainter (voicemend's own configuration)"
    )
    tmel.add_argument(
        "--adversarial",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="weight of a mel-patch critic's hinge loss beside L1 (0: L1 only)",
    )
    tmel.add_argument(
        "--adversarial-start",
        type=int,
        default=0,
        metavar="STEP",
        help="step from which the predictor heeds the critic (the critic trains from the start)",
    )
    tmel.add_argument(
        "--size",
        choices=("small", "base", "large"),
        help="model size: small (5.1 M parameters, for a CPU), base (14.9 M, the shipped one) "
        "or large (38.8 M, for a GPU); default: the checkpoint's when continuing one, else small",
    )
    tmel.add_argument(
        "--workers",
        type=_count_arg,
        default=0,
        metavar="N",
        help="processes that make batches beside training, so a GPU does not wait on the CPU "
        "(0: the training process makes them, as on a CPU)",
    )
    tmel.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast for the model's forward pass (for a GPU; the loss, mel features "
        "and weights stay float32)",
    )
    tmel.add_argument(
        "--learning-rate",
        type=float,
        help="peak learning rate (default: the recipe's; lower to fine-tune)",
    )
    tcon = train_sub.add_parser(
        "concealment",
        help="the detector of packet losses a call's decoder concealed (speech through Opus)",
    )
    tcon.add_argument(
        "--workers",
        type=_count_arg,
        default=1,
        metavar="N",
        help="processes that code and damage batches beside training (0: the training process)",
    )
    tcon.add_argument(
        "--silence-negatives",
        type=float,
        default=0.0,
        metavar="P",
        help="share of crops cut to digital silence, and of crops through a noise gate, as "
        "examples of what is not concealment (default 0, as the shipped network trained)",
    )
    for recipe, default_out in (
        (tcon, "runs/concealment"),
        (tdec, "runs/decoder"),
        (tift, "runs/ift"),
        (tmel, "runs/mel"),
        (tpre, "runs/pretrain"),
        (tipt, "runs/ipt"),
    ):
        recipe.add_argument("--out", type=Path, default=Path(default_out), help="run folder")
        recipe.add_argument(
            "--data", type=Path, help="speech folder (default: ../shared/data/speech)"
        )
        recipe.add_argument("--steps", type=int, default=200_000, help="stop after this many steps")
        recipe.add_argument(
            "--hours", type=float, help="stop after this many hours in this process"
        )
        recipe.add_argument("--batch-size", type=int, default=16 if recipe in (tmel, tcon) else 8)
        recipe.add_argument("--threads", type=int, help="CPU threads for torch")
        recipe.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
        recipe.add_argument(
            "--seed",
            type=int,
            default=0,
            help="seed of a new run's random crops and gaps (a resumed run keeps its own)",
        )
        recipe.add_argument(
            "--init",
            type=Path,
            metavar="DIR",
            help="continue from a weights-only checkpoint folder (when OUT has none)",
        )
    return parser


def _show_warning(message: Warning | str, *_args: object, **_kwargs: object) -> None:
    """A warning as one line, as errors are (a damaged stretch of an M4A read as silence)."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format=f"{PROG}: %(message)s"
    )
    warnings.showwarning = _show_warning
    handlers = {
        "repair": cmd_repair,
        "detect": cmd_detect,
        "info": cmd_info,
        "demo": cmd_demo,
        "bench": cmd_bench,
        "audacity": cmd_audacity,
        "train": cmd_train,
        "render": cmd_render,
        "presets": cmd_presets,
        "models": cmd_models,
        "edit": cmd_edit,
    }
    try:
        return handlers[args.command](args)
    except (VoicemendError, Cancelled) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: cancelled; nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader went away (`voicemend info x.wav | head -3`): stop quietly, as Unix tools
        # do. stdout is pointed at /dev/null so that Python's own flush at exit cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def _region_arg(text: str) -> tuple[float, float]:
    try:
        return parse_region_spec(text)
    except VoicemendError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count_arg(text: str) -> int:
    """A whole number of 0 or more (a count of processes, say)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def _confidence(text: str) -> float:
    """A detection confidence, 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is not within 0..1")
    return value


def _rate_arg(text: str) -> int:
    """A sample rate the engine repairs at, in Hz."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of Hz") from None
    if not MIN_REPAIR_RATE_HZ <= value <= MAX_REPAIR_RATE_HZ:
        raise argparse.ArgumentTypeError(
            f"{value} Hz is outside the {MIN_REPAIR_RATE_HZ}-{MAX_REPAIR_RATE_HZ} Hz the engine "
            "repairs at"
        )
    return value


def _lossy_arg(text: str) -> LossyFormat:
    """A lossy codec and bitrate, ``mp3:128``."""
    try:
        return LossyFormat.parse(text)
    except VoicemendError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _block_seconds_arg(text: str) -> float:
    """A block length: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a block length above 0 s")
    return value


BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "32": "PCM_32", "float": "FLOAT"}

BLOCK_ARG: dict = {
    "type": _block_seconds_arg,
    "default": None,
    "metavar": "SECONDS",
    "help": "work through the file in blocks of this many seconds, never holding all of it "
    "(default: only files that would take over 2 GiB, or over the free memory, whole; in "
    "120 s blocks)",
}


def cmd_repair(args: argparse.Namespace) -> int:
    output = args.output
    if output is None:
        if not args.in_place:
            raise VoicemendError("give an output file with -o OUT (or --in-place to write over IN)")
        output = args.input
    if not (args.region or args.labels or args.auto):
        raise VoicemendError("nothing to repair: give --region START:END, --labels FILE or --auto")
    for flag in ("concealed", "clicks"):
        if getattr(args, flag) and not args.auto:
            raise VoicemendError(f"--{flag} chooses what --auto looks for; add --auto")
    job = RepairJob(
        input=args.input,
        output=output,
        regions_s=args.region,
        labels=args.labels,
        auto=args.auto,
        method=args.method,
        in_place=args.in_place,
        overwrite=args.overwrite,
        device=args.device,
        block_s=args.block_s,
        subtype=BIT_DEPTHS.get(args.bit_depth or ""),
        snap=args.snap,
        concealed=args.concealed,
        clicks=args.clicks,
    )
    t0 = time.perf_counter()
    with (
        progress_bar("detecting", not args.quiet) as det_bar,
        progress_bar("repairing", not args.quiet) as bar,
    ):
        outcome = run_repair(job, progress=bar, detect_progress=det_bar)
    elapsed = time.perf_counter() - t0
    sr = outcome.sample_rate
    reports = outcome.reports
    if args.report:
        rows = [
            {
                "start_s": r.region.start / sr,
                "end_s": r.region.end / sr,
                "method": r.method,
                "elapsed_s": r.elapsed_s,
                "crossfade_frames": list(r.crossfade_frames),
                "kept_at_rail": r.kept_at_rail,
                "notes": r.notes,
            }
            for r in reports
        ]
        write_text_atomic(
            args.report,
            json.dumps(
                {
                    "input": str(args.input),
                    "output": str(output),
                    "regions": rows,
                    "snapped": [s.to_dict(sr) for s in outcome.snapped()],
                },
                indent=2,
            )
            + "\n",
            overwrite=True,
        )
    if not args.quiet:
        for snap in outcome.snapped():
            start_s, end_s = snap.given.seconds(sr)
            print(
                f"snapped {format_time_s(start_s)}-{format_time_s(end_s)} to a dropout's edges: "
                f"{snap.describe(sr)} (--no-snap keeps it as given)"
            )
        for line in repair_lines(reports, sr, None if args.list_all else LISTED_REPAIRS):
            print(line)
        if outcome.nonfinite.runs:
            print(outcome.nonfinite.outcome(sr))
        blocks = f" ({outcome.blocks} blocks)" if outcome.blocks else ""
        print(f"repaired {len(reports)} region(s) in {elapsed:.2f} s{blocks} -> {outcome.output}")
        written = info(Path(outcome.output))
        _warn_over_full_scale(reports, written)
        _note_lossy_output(written)
    return 0


def repair_lines(reports: Sequence[RegionReport], sr: int, limit: int | None) -> list[str]:
    """One line per repair, or, past ``limit`` of them, the first ``limit`` of at least
    SHORT_REPAIR_MS (the dropouts) and a summary of the rest: a clipped file has thousands of
    repairs of one or two samples, which would bury the few that a listener hears."""

    def line(r: RegionReport) -> str:
        start_s, end_s = r.region.seconds(sr)
        return (
            f"{format_time_s(start_s)}-{format_time_s(end_s)}  {1000 * (end_s - start_s):7.2f} ms"
            f"  {r.method:8s} {1000 * r.elapsed_s:7.1f} ms  {r.notes}"
        )

    if limit is None or len(reports) <= limit:
        return [line(r) for r in reports]
    short = int(SHORT_REPAIR_MS / 1000 * sr)
    long_ = [r for r in reports if r.region.n_frames >= short]
    lines = [line(r) for r in long_[:limit]]
    if len(long_) > limit:
        lines.append(f"… and {len(long_) - limit} more of {SHORT_REPAIR_MS:g} ms or longer")
    brief = [r for r in reports if r.region.n_frames < short]
    if brief:
        methods = Counter(r.method for r in brief)
        kept = sum(r.kept_at_rail for r in brief)
        lines.append(
            f"{len(brief)} repair(s) under {SHORT_REPAIR_MS:g} ms (clipped peaks, clicks) by "
            + ", ".join(f"{m} {n}" for m, n in methods.most_common())
            + f", {sum(r.elapsed_s for r in brief):.2f} s in all"
            + (f", {kept} sample(s) kept at the clipping rail" if kept else "")
        )
    lines.append("(--list-all prints every repair; --report FILE writes them as JSON)")
    return lines


def _warn_over_full_scale(reports: list, written: AudioInfo) -> None:
    """Restored clipped peaks can pass 0 dBFS; an integer file clips them again."""
    over = [r for r in reports if r.peak > 1.0]
    subtype = written.subtype
    if over and subtype not in ("FLOAT", "DOUBLE"):
        top_db = 20 * math.log10(max(r.peak for r in over))
        print(
            f"{PROG}: note: {len(over)} repair(s) reach past full scale (up to +{top_db:.1f} dB) "
            f"and were clipped again in the {subtype} output; to keep those peaks, write "
            "float (--bit-depth float) or lower the level first (a render chain with Gain "
            "before Inpaint)",
            file=sys.stderr,
        )


def _note_lossy_output(written: AudioInfo) -> None:
    """A lossy codec codes the whole file again: the audio outside the repairs is not kept
    bit for bit, as it is in WAV, FLAC or AIFF."""
    if is_lossy(written.subtype):
        kbps = coded_bitrate_kbps(written)
        codec = CODEC_NAMES[written.subtype] + (f" at {kbps:.0f} kb/s" if kbps else "")
        print(
            f"{PROG}: note: {Path(written.path).name} is {codec}, a lossy codec: the whole "
            "file was coded again, so the audio outside the repairs changed a little too; "
            "write .wav or .flac to keep it bit for bit",
            file=sys.stderr,
        )


def cmd_detect(args: argparse.Namespace) -> int:
    if args.output is not None and args.output.exists() and not args.overwrite:
        raise VoicemendError(f"{args.output} exists; pass --overwrite to replace it")
    kinds = kinds_sought(args.concealed, args.clicks)
    detector = DropoutDetector(DetectorSettings(kinds=kinds, min_confidence=args.min_confidence))
    with progress_bar("detecting") as bar:
        found = run_detect(args.input, detector, progress=bar, block_s=args.block_s)
    sr, detections = found.sample_rate, found.detections
    if args.format == "json":
        text = (
            json.dumps(
                {
                    "input": str(args.input),
                    "sample_rate": sr,
                    "detections": [d.to_dict(sr) for d in detections],
                },
                indent=2,
            )
            + "\n"
        )
    elif args.format == "audacity":
        text = format_audacity_labels(_labels(detections, sr, found.n_channels))
    elif args.format == "reaper":
        text = format_reaper_csv(_labels(detections, sr, found.n_channels))
    else:
        text = "".join(_text_line(d, sr, found.n_channels) + "\n" for d in detections)
        kinds = Counter(d.kind.value for d in detections)
        by_kind = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
        text += f"{len(detections)} detection(s) in {found.duration_s:.2f} s"
        text += f" ({by_kind})\n" if by_kind else "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.output, text, overwrite=args.overwrite)
    if args.plot is not None:
        from voicemend.plugin.plots import plot_detections, plot_file_detections

        if found.audio is not None:
            plot_detections(found.audio, detections, args.plot)
        else:
            plot_file_detections(args.input, detections, args.plot)
    return 0


def _labels(detections: Sequence[Detection], sr: int, n_channels: int) -> list[Label]:
    """A label per detection: kind, confidence, and ``[R]`` where it is in some channels only
    (``repair --labels`` then repairs it there only)."""
    return [
        Label(
            *d.seconds(sr),
            f"{d.kind.value} {d.confidence:.2f}{channel_tag(d.channels, n_channels)}",
        )
        for d in detections
    ]


def _text_line(d: Detection, sr: int, n_channels: int) -> str:
    start_s, end_s = d.seconds(sr)
    return (
        f"{format_time_s(start_s)}-{format_time_s(end_s)}  {1000 * (end_s - start_s):7.1f} ms  "
        f"{d.kind.value:15s}  confidence {d.confidence:.2f}  "
        f"channels {channel_names(d.channels, n_channels)}"
    )


def cmd_render(args: argparse.Namespace) -> int:
    from voicemend.plugin.presets import load_preset
    from voicemend.plugin.render import render

    if args.workers < 1:
        raise VoicemendError("--workers must be at least 1")
    preset = load_preset(args.chain).to_dict()
    with progress_bar("files") as bar, progress_bar("within file") as inner:
        summary = render(
            args.inputs,
            args.output,
            preset,
            labels=args.regions,
            fmt=args.format,
            workers=args.workers,
            use_ray=args.ray is not None,
            ray_address=args.ray or None,
            progress=bar,
            within_file=lambda stage, done, total: inner(done, total),
            block_s=args.block_s,
            subtype=BIT_DEPTHS.get(args.bit_depth or ""),
        )
    for item in summary.failed:
        print(f"{PROG}: failed: {item.input}: {item.error}", file=sys.stderr)
    print(
        f"rendered {len(summary.done)} of {len(summary.items)} file(s) into {args.output} "
        f"(manifest: {summary.manifest})"
    )
    return EXIT_ERROR if summary.failed else 0


def cmd_presets(args: argparse.Namespace) -> int:
    from voicemend.plugin.presets import load_preset, shipped_presets

    for name in shipped_presets():
        chain = load_preset(name)
        print(f"{name:28s} {chain.description}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    """Start the editor as its own process: the CLI (plugin layer) never imports the GUI."""
    if args.input is not None and not args.input.exists():
        raise VoicemendError(f"{args.input}: no such file")
    files = [str(args.input)] if args.input else []
    if getattr(sys, "frozen", False):  # the desktop bundle: the editor is a sibling program
        editor = Path(sys.executable).with_name("voicemend-editor" + Path(sys.executable).suffix)
        return subprocess.call([str(editor), *files])
    return subprocess.call([sys.executable, "-m", "voicemend.gui.app", *files])


def cmd_audacity(args: argparse.Namespace) -> int:
    from voicemend.plugin import audacity_ops as ops
    from voicemend.plugin.audacity import AudacityPipe

    # Every exchange with Audacity is logged (stderr), so a user can see what was done.
    logging.getLogger("voicemend.plugin.audacity").setLevel(logging.INFO)
    if args.audacity_command in ("repair-selection", "repair-labels") and (
        args.method not in INPAINTERS
    ):
        raise VoicemendError(f"unknown method {args.method!r}; known: {', '.join(INPAINTERS)}")
    echo = lambda text: print(text, flush=True)  # noqa: E731
    with AudacityPipe(timeout_s=args.timeout) as pipe:
        if args.audacity_command == "status":
            info = ops.status(pipe)
            print(f"connected to Audacity {info['audacity_version']} through {info['pipe']}")
            print(f"project rate: {info['project_rate_hz'] or '-'} Hz")
            for t in info["tracks"]:
                extra = (
                    f", {t['channels']} channel(s), {t['start_s']:.3f}-{t['end_s']:.3f} s"
                    if t["kind"] == "wave"
                    else ""
                )
                mark = "*" if t["selected"] else " "
                print(f" {mark} {t['index']}: {t['name']!r} ({t['kind']}{extra})")
        elif args.audacity_command == "repair-selection":
            done = ops.repair_selection(pipe, args.method, args.context, echo=echo)
            print(f"{len(done)} repair(s); Audacity's Edit > Undo takes back each one")
        elif args.audacity_command == "repair-labels":
            done = ops.repair_labels(pipe, args.track, args.method, args.context, echo=echo)
            print(f"{len(done)} repair(s); Audacity's Edit > Undo takes back each one")
        elif args.audacity_command == "detect":
            ops.detect(
                pipe, args.min_confidence, echo=echo, concealed=args.concealed, clicks=args.clicks
            )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from voicemend.engine.models import shipped

    if args.models_command == "ship":
        bench = ""
        if args.bench is not None:
            if not args.bench.exists():
                raise VoicemendError(f"{args.bench}: no such file")
            bench = args.bench.read_text(encoding="utf-8")
        target = shipped.ship(
            args.name,
            args.source,
            args.kind,
            args.run,
            bench_markdown=bench,
            storage=args.storage,
            hardware=args.hardware,
        )
        print(f"shipped {args.name} into {target}")
        return 0
    models = shipped.manifest()
    if not models:
        print("no neural models are shipped in this installation")
    for name, model in models.items():
        shipped.verified_folder(name)
        print(f"{name:12s} {model.kind:14s} {model.sample_rate} Hz  {model.folder}  (sha256 ok)")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    i = info(args.input)
    print(f"file:        {i.path}")
    print(f"format:      {i.format} / {i.subtype}")
    print(f"sample rate: {i.sample_rate} Hz")
    print(f"channels:    {i.n_channels}")
    print(f"frames:      {i.n_frames}")
    print(f"duration:    {format_time_s(i.duration_s)} ({i.duration_s:.3f} s)")
    if is_lossy(i.subtype) and (kbps := coded_bitrate_kbps(i)):
        over = "stated by the file" if i.bitrate_kbps else "mean over the file"
        print(f"bitrate:     {kbps:.0f} kb/s ({CODEC_NAMES[i.subtype]}, {over})")
    if i.n_frames == 0:
        print("note:        the file holds no audio frames")
        return 0
    levels = measure_levels(args.input)
    print("peak:        " + ", ".join(f"{v:.1f} dBFS" for v in levels.peak_dbfs))
    print("rms:         " + ", ".join(f"{v:.1f} dBFS" for v in levels.rms_dbfs))
    if levels.first_nonfinite_frame is not None:
        at = format_time_s(levels.first_nonfinite_frame / i.sample_rate)
        print(
            f"damage:      {levels.n_nonfinite} NaN/Inf sample(s), the first at {at} "
            "(levels without them; `voicemend repair` fills them)"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from voicemend.plugin.demo import run_demo

    run_demo(args.output, echo=print)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from voicemend.engine.models.device import resolve_device
    from voicemend.engine.training.run import TrainingStopped

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        # TF32 matrix products: several times the fp32 speed on Ampere and later GPUs, and
        # training does not need the last bits of fp32. This process only trains.
        torch.set_float32_matmul_precision("high")
    common = {
        "max_hours": args.hours,
        "data_root": args.data,
        "device": device,
        "init_from": args.init,
    }
    try:
        export = _train_recipe(args, common)
    except TrainingStopped as stop:
        print(
            f"{PROG}: {stop.signal_name}: stopped at step {stop.step}, checkpointed in "
            f"{stop.folder / 'checkpoint'}. Run the same command to continue, or add "
            f"--steps {stop.step} to it to export the model as it is now.",
            file=sys.stderr,
        )
        return EXIT_CANCELLED
    print(f"exported {export}")
    return 0


def _train_recipe(args: argparse.Namespace, common: dict) -> Path:
    """Run the recipe ``args.recipe`` names; returns the folder it exported."""
    with progress_bar(f"train {args.recipe}") as bar:
        common["progress"] = lambda s, t, m: bar(s, t)
        if args.recipe == "decoder":
            from voicemend.engine.models.postfilter import GlobalVarianceConfig
            from voicemend.engine.training.decoder import DecoderTrainConfig, train_decoder

            if args.postfilter and args.predictor is None:
                raise VoicemendError("--postfilter works on a predictor's frames: add --predictor")
            config = DecoderTrainConfig(
                max_steps=args.steps,
                batch_size=args.batch_size,
                gan_start_step=args.gan_start,
                seed=args.seed,
                gta_postfilter=GlobalVarianceConfig() if args.postfilter else None,
            )
            export = train_decoder(args.out, config, predictor_dir=args.predictor, **common)
        elif args.recipe == "ipt":
            from voicemend.engine.training.decoder import DecoderTrainConfig
            from voicemend.engine.training.ipt import IptTrainConfig, train_ipt

            decoder = DecoderTrainConfig(
                max_steps=args.steps, gan_start_step=args.gan_start, seed=args.seed
            )
            config = IptTrainConfig(decoder=decoder, batch_size=args.batch_size)
            export = train_ipt(args.out, config, encoder_dir=args.encoder, **common)
        elif args.recipe == "pretrain-encoder":
            from voicemend.engine.training.pretrain import PretrainConfig, train_pretrain

            config = PretrainConfig(
                max_steps=args.steps, batch_size=args.batch_size, seed=args.seed
            )
            export = train_pretrain(args.out, config, **common)
        elif args.recipe == "mel":
            from voicemend.engine.training.mel import MelTrainConfig, train_mel

            rate = {} if args.learning_rate is None else {"learning_rate": args.learning_rate}
            config = MelTrainConfig(
                max_steps=args.steps,
                batch_size=args.batch_size,
                adversarial_weight=args.adversarial,
                adversarial_start_step=args.adversarial_start,
                data_workers=args.workers,
                bf16=args.bf16,
                seed=args.seed,
                **rate,
            )
            export = train_mel(args.out, config, size=args.size, **common)
        elif args.recipe == "concealment":
            from voicemend.engine.training.concealment import (
                ConcealmentTrainConfig,
                train_concealment,
            )

            config = ConcealmentTrainConfig(
                max_steps=args.steps,
                batch_size=args.batch_size,
                data_workers=args.workers,
                seed=args.seed,
                cut_prob=args.silence_negatives,
                gate_prob=args.silence_negatives,
            )
            export = train_concealment(args.out, config, **common)
        else:
            from voicemend.engine.training.ift import IftTrainConfig, train_ift

            config = IftTrainConfig(
                max_steps=args.steps, batch_size=args.batch_size, seed=args.seed
            )
            export = train_ift(args.out, config, init_encoder=args.init_encoder, **common)
    return export


if __name__ == "__main__":
    sys.exit(main())
