"""Offline and batch rendering through a chain, resumable from a run manifest.

The manifest (``voicemend-render.json`` in the output folder) records each input, its output,
status, error and timings, plus a fingerprint of the input file and of the chain. Running the
same command again skips outputs that are complete and still match, so an interrupted batch
resumes with nothing lost or rendered twice. Outputs are written atomically and never over inputs.
Work runs in local processes, or as Ray tasks on a local or remote cluster.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from voicemend.engine.audio import SourceFormat
from voicemend.engine.blockwise import BLOCK_S, needs_blocks
from voicemend.engine.errors import VoicemendError
from voicemend.engine.io import READ_EXTENSIONS, check_subtype, info, load, save, write_text_atomic
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.plugin.labels import label_channels, read_regions

MANIFEST_NAME = "voicemend-render.json"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MANIFEST_VERSION = 1
FORMATS = {"wav": ".wav", "flac": ".flac", "m4a": ".m4a"}


@dataclass
class RenderItem:
    input: str
    output: str
    status: str = "pending"  # pending | done | failed
    error: str = ""
    input_fingerprint: str = ""
    seconds: float = 0.0
    audio_s: float = 0.0
    regions_repaired: int = 0
    regions_snapped: int = 0  # label spans grown to the edges of a dropout they cut into


@dataclass
class RenderJob:
    """Everything a worker needs for one file (plain data, so it pickles to any process)."""

    input: str
    output: str
    preset: dict
    labels: str | None
    fmt: str
    fault_marker: str | None = None  # tests: crash the worker once, to prove retries work
    # Seconds per block for a file rendered block by block; None renders block by block only
    # the files too large to hold (see engine.blockwise.needs_blocks).
    block_s: float | None = None
    subtype: str | None = None  # the outputs' sample format; None keeps each input's


@dataclass
class RenderSummary:
    manifest: Path
    items: list[RenderItem] = field(default_factory=list)

    @property
    def failed(self) -> list[RenderItem]:
        return [i for i in self.items if i.status == "failed"]

    @property
    def done(self) -> list[RenderItem]:
        return [i for i in self.items if i.status == "done"]


def expand_inputs(specs: Iterable[str]) -> list[Path]:
    """Files, folders (searched recursively for audio) and glob patterns, in a stable order."""
    found: list[Path] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            found += sorted(
                q for q in p.rglob("*") if q.suffix.lower() in READ_EXTENSIONS and q.is_file()
            )
        elif p.is_file():
            found.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise VoicemendError(f"{spec}: no such file, folder or matching pattern")
            found += files
    unique: dict[str, Path] = {}
    for f in found:
        unique.setdefault(str(f.resolve()), f)
    return list(unique.values())


def plan_outputs(inputs: Sequence[Path], out_dir: Path, fmt: str) -> list[tuple[Path, Path]]:
    """Output paths that keep the inputs' folder structure below their common folder."""
    if fmt not in FORMATS:
        raise VoicemendError(f"unsupported render format {fmt!r}; use {' or '.join(FORMATS)}")
    resolved = [p.resolve() for p in inputs]
    root = Path(os.path.commonpath([str(p.parent) for p in resolved])) if resolved else Path()
    pairs = []
    for p in resolved:
        out = (out_dir / p.relative_to(root)).with_suffix(FORMATS[fmt])
        if out.resolve() in set(resolved):
            raise VoicemendError(f"the output {out} would replace an input; choose another folder")
        pairs.append((p, out))
    return pairs


def fingerprint_file(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{int(stat.st_mtime_ns)}"


def fingerprint_preset(preset: dict) -> str:
    return hashlib.sha256(json.dumps(preset, sort_keys=True).encode()).hexdigest()[:16]


def render_one(
    job: RenderJob, within: Callable[[str, int, int], None] | None = None
) -> dict[str, object]:
    """Load, run the chain, save atomically (block by block for a file too large to hold, or
    with ``job.block_s``). Returns the manifest fields to update."""
    from voicemend.plugin.presets import chain_from_preset
    from voicemend.plugin.processors import ChainContext, Inpaint

    if job.fault_marker and not Path(job.fault_marker).exists():
        Path(job.fault_marker).write_text("crashed once\n")
        os._exit(3)  # a hard worker death, as a killed or OOM-ed process would be
    t0 = time.perf_counter()
    chain = chain_from_preset(job.preset)
    context = ChainContext(progress=within)
    if job.labels:
        for label in read_regions(job.labels):
            span = (label.start_s, label.end_s)
            context.regions_s.append(span)
            channels = label_channels(label.text)
            if channels is not None:  # tagged by voicemend's detect: a detector's span
                context.detected_s.append(span)
                context.detected_channels.append(channels)
    Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    head = info(job.input)
    tail_frames = round(chain.tail_s * head.sample_rate)
    if job.block_s is not None or needs_blocks(head.n_channels, head.n_frames + tail_frames):
        like = None if job.subtype is None else SourceFormat("", job.subtype, "")
        chain.process_file(
            job.input,
            job.output,
            context,
            block_s=job.block_s or BLOCK_S,
            overwrite=True,
            like=like,
        )
        audio_s = head.duration_s
    else:
        log = NonfiniteLog()
        audio = load(job.input, nonfinite=log)
        if log.runs:
            if not any(isinstance(stage, Inpaint) for stage in chain):
                raise VoicemendError(
                    f"{job.input}: {log.describe(audio.sample_rate)}, and no Inpaint stage in "
                    "the chain to repair them; `voicemend repair` fills them"
                )
            context.known = log.detections(audio.sample_rate, audio.n_frames)
        out = chain.process(audio.samples, audio.sample_rate, context)
        result = audio.with_samples(out if out.ndim == 2 else out[None, :])
        # keeps the input's bit depth where it can, unless told otherwise
        save(result, job.output, overwrite=True, subtype=job.subtype)
        audio_s = audio.duration_s
    return {
        "seconds": time.perf_counter() - t0,
        "audio_s": audio_s,
        "regions_repaired": len(context.reports),
        "regions_snapped": len(context.snaps),
    }


class Manifest:
    """The run's record on disk; rewritten atomically after every file."""

    def __init__(self, path: Path, preset: dict) -> None:
        self.path = path
        self.preset_id = fingerprint_preset(preset)
        self.items: dict[str, RenderItem] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise VoicemendError(f"cannot read the run manifest {path}: {exc}") from None
            if data.get("format_version") != MANIFEST_VERSION:
                raise VoicemendError(f"{path} has an unsupported format_version")
            if data.get("preset_id") == self.preset_id:
                self.items = {i["input"]: RenderItem(**i) for i in data.get("items", [])}

    def is_complete(self, src: Path, dst: Path) -> bool:
        item = self.items.get(str(src))
        return (
            item is not None
            and item.status == "done"
            and item.output == str(dst)
            and dst.exists()
            and item.input_fingerprint == fingerprint_file(src)
        )

    def update(self, item: RenderItem) -> None:
        self.items[item.input] = item
        data = {
            "format": "voicemend-render",
            "format_version": MANIFEST_VERSION,
            "preset_id": self.preset_id,
            "items": [asdict(i) for i in self.items.values()],
        }
        write_text_atomic(self.path, json.dumps(data, indent=1) + "\n", overwrite=True)


def render(
    inputs: Sequence[str],
    out_dir: Path,
    preset: dict,
    *,
    labels: str | None = None,
    fmt: str = "wav",
    workers: int = 1,
    ray_address: str | None = None,
    use_ray: bool = False,
    progress: Callable[[int, int], None] | None = None,
    within_file: Callable[[str, int, int], None] | None = None,
    fault_marker: str | None = None,
    block_s: float | None = None,
    subtype: str | None = None,
) -> RenderSummary:
    """Render every input through the chain described by ``preset`` into ``out_dir``.

    ``within_file`` reports (stage, done, total) inside each file; it is called only when files
    are rendered in this process (one worker), since other processes cannot report back live.
    ``block_s`` renders every file block by block (files too large to hold always are);
    ``subtype`` sets the outputs' sample format (default: each input's, where it fits).
    """
    from voicemend.plugin.presets import chain_from_preset

    chain_from_preset(preset)  # validate before any work starts
    files = expand_inputs(inputs)
    if not files:
        raise VoicemendError("no input files")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Outputs rendered at another bit depth are not complete for this run.
    run_id = preset if subtype is None else {**preset, "output_subtype": subtype}
    manifest = Manifest(out_dir / MANIFEST_NAME, run_id)
    todo: list[RenderJob] = []
    pairs = plan_outputs(files, out_dir, fmt)
    if subtype is not None:
        check_subtype(pairs[0][1], subtype)
    for src, dst in pairs:
        if manifest.is_complete(src, dst):
            continue
        manifest.update(RenderItem(str(src), str(dst), input_fingerprint=fingerprint_file(src)))
        todo.append(
            RenderJob(str(src), str(dst), preset, labels, fmt, fault_marker, block_s, subtype)
        )
    total = len(files)
    done_before = total - len(todo)
    if progress is not None:
        progress(done_before, total)

    def record(job: RenderJob, result: dict[str, object] | None, error: str) -> None:
        item = manifest.items[job.input]
        if result is not None:
            item.status, item.error = "done", ""
            item.seconds = float(result["seconds"])  # type: ignore[arg-type]
            item.audio_s = float(result["audio_s"])  # type: ignore[arg-type]
            item.regions_repaired = int(result["regions_repaired"])  # type: ignore[arg-type]
            item.regions_snapped = int(result.get("regions_snapped", 0))  # type: ignore[arg-type]
        else:
            item.status, item.error = "failed", error
        manifest.update(item)

    if use_ray:
        _run_ray(todo, record, workers, ray_address, progress, done_before, total)
    elif workers <= 1:
        for n, job in enumerate(todo, start=1):
            try:
                record(job, render_one(job, within_file), "")
            except Exception as exc:  # a failure in one file must not stop the batch
                record(
                    job,
                    None,
                    str(exc) if isinstance(exc, VoicemendError) else f"{type(exc).__name__}: {exc}",
                )
            if progress is not None:
                progress(done_before + n, total)
    else:
        # Fresh (spawned) workers with one BLAS/OpenMP thread each: with two cores, several
        # multi-threaded workers fight over them and run several times slower than one.
        with (
            _single_threaded_children(),
            ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            ) as pool,
        ):
            futures = {pool.submit(render_one, job): job for job in todo}
            for n, fut in enumerate(as_completed(futures), start=1):
                job = futures[fut]
                try:
                    record(job, fut.result(), "")
                except Exception as exc:  # a failure in one file must not stop the batch
                    record(job, None, f"{type(exc).__name__}: {exc}")
                if progress is not None:
                    progress(done_before + n, total)
    return RenderSummary(manifest.path, list(manifest.items.values()))


@contextlib.contextmanager
def _single_threaded_children():
    """Environment for child processes started inside the block: one math-library thread."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_ray(
    todo: list[RenderJob],
    record: Callable,
    workers: int,
    address: str | None,
    progress: Callable[[int, int], None] | None,
    done_before: int,
    total: int,
) -> None:
    try:
        import ray
    except ImportError:
        raise VoicemendError("--ray needs Ray: pip install 'voicemend[ray]'") from None
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(max_retries=3, retry_exceptions=False)(render_one)
        pending = {task.remote(job): job for job in todo}
        n = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            job = pending.pop(ref)
            try:
                record(job, ray.get(ref), "")
            except Exception as exc:  # the task's own error, after Ray's retries for crashes
                cause = getattr(exc, "cause", None) or exc
                record(job, None, f"{type(cause).__name__}: {str(cause).splitlines()[-1]}")
            n += 1
            if progress is not None:
                progress(done_before + n, total)
    finally:
        if started_here:
            ray.shutdown()
