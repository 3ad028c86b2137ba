"""What every training recipe shares: resumable checkpoints, a JSONL loss log and a time budget.

A run folder holds ``checkpoint/`` (weights as safetensors, optimiser and RNG state loaded with
``weights_only=True``, and ``state.json``) and ``log.jsonl``. Starting a recipe again on the same
folder resumes where it stopped. Ctrl-C or SIGTERM stops a run at the end of the step under way
and checkpoints it there, so nothing trained is lost.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from voicemend.engine.models.checkpoint import CheckpointError, load_weights
from voicemend.engine.training.data import AugmentConfig

log = logging.getLogger(__name__)

# What a training step returns: floats, or 0-d tensors read only when they are logged.
Metrics = Mapping[str, float | torch.Tensor]
Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class RecipeConfig:
    """The optimiser schedule and loop settings every recipe shares; recipes extend it."""

    batch_size: int = 8
    learning_rate: float = 5e-4
    warmup_steps: int = 500  # linear warm-up; 0 for none
    lr_decay_per_1k: float = 0.98
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.01
    max_steps: int = 200_000
    checkpoint_every_s: float = 300.0
    log_every: int = 25
    seed: int = 0
    augment: bool = True

    def learning_rate_at(self, step: int, warm_from: int = 0) -> float:
        """The schedule's rate at ``step``; the warm-up counts from ``warm_from``, the step at
        which the optimiser started (0, or where a weights-only checkpoint left off)."""
        ramp = (step - warm_from + 1) / self.warmup_steps if self.warmup_steps > 0 else 1.0
        warm = min(1.0, max(ramp, 0.0))
        return self.learning_rate * warm * self.lr_decay_per_1k ** (step / 1000)

    def optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.AdamW:
        return torch.optim.AdamW(
            params, self.learning_rate, betas=self.betas, weight_decay=self.weight_decay
        )

    def augmentation(self) -> AugmentConfig | None:
        return AugmentConfig() if self.augment else None


@dataclass
class Budget:
    """Stop at ``max_steps`` or after ``max_hours`` of wall time in this process."""

    max_steps: int
    max_hours: float | None = None

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def done(self, step: int) -> bool:
        if step >= self.max_steps:
            return True
        return (
            self.max_hours is not None and time.monotonic() - self.started > self.max_hours * 3600
        )


class TrainingRun:
    """Checkpointing and logging for one run folder."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
        config: dict[str, Any],
        seed: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.modules = modules
        self.optimizers = optimizers
        self.config = config
        self.step = 0
        # The step at which the optimiser started from nothing: a run continued from weights
        # alone warms its learning rate up again from there, as a fresh AdamW's first updates
        # at the full rate can throw trained weights far off.
        self.warm_from = 0
        self.train_seconds = 0.0
        # The recipe's own seed (its config dict nests it, so it comes on its own). A resumed run
        # keeps the seed it was started with, whatever the new process was given.
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._last_save = time.monotonic()

    @property
    def checkpoint_dir(self) -> Path:
        return self.folder / "checkpoint"

    def seed_from(self, folder: str | os.PathLike[str]) -> bool:
        """Copy a weights-only checkpoint (e.g. one committed to the repository) into an empty
        run folder, so that training continues from it; False if the run already has one."""
        if self.checkpoint_dir.exists():
            return False
        shutil.copytree(folder, self.checkpoint_dir)
        # Weights that also ship as a model are kept once in the repository: ``links.json``
        # maps a module name to that file, relative to the checkpoint folder.
        links = self.checkpoint_dir / "links.json"
        if links.exists():
            for name, relative in json.loads(links.read_text(encoding="utf-8")).items():
                source = Path(folder) / relative
                if not source.exists():
                    raise CheckpointError(f"{folder}: linked weights {source} are missing")
                shutil.copyfile(source, self.checkpoint_dir / f"{name}.safetensors")
            links.unlink()
        return True

    def start(self, init_from: str | os.PathLike[str] | None = None) -> TrainingRun:
        """What every recipe does first: seed an empty run from a weights-only checkpoint (if
        given), then resume from the run's own last checkpoint (if any)."""
        self._recover_interrupted_save()
        if init_from is not None and self.seed_from(init_from):
            log.info("seeded the run from %s", init_from)
        if self.resume():
            log.info("resumed at step %d", self.step)
        return self

    def _recover_interrupted_save(self) -> None:
        """A save stopped between moving the last checkpoint aside and moving the new one in
        leaves only ``checkpoint.old``: that is the last complete checkpoint, so put it back
        (otherwise the run would start again from nothing)."""
        old = self.folder / "checkpoint.old"
        if not self.checkpoint_dir.exists() and (old / "state.json").exists():
            old.rename(self.checkpoint_dir)
            log.warning("restored %s from an interrupted save", self.checkpoint_dir)

    def resume(self) -> bool:
        """Load the last checkpoint if there is one; True when resumed."""
        state_path = self.checkpoint_dir / "state.json"
        if not state_path.exists():
            return False
        state = json.loads(state_path.read_text(encoding="utf-8"))
        optim_path = self.checkpoint_dir / "optim.pt"
        for name, module in self.modules.items():
            path = self.checkpoint_dir / f"{name}.safetensors"
            if not path.exists() and not optim_path.exists():
                # A weights-only checkpoint seeds what it has: a module it lacks (a critic that
                # fine-tuning adds, say) starts from its initialisation.
                log.warning(
                    "%s has no %s weights; %s starts fresh", self.checkpoint_dir, name, name
                )
                continue
            try:
                # load_weights also reads shipped weights stored as float16 or int8 (a link).
                module.load_state_dict(load_weights(path))
            except Exception as exc:
                raise CheckpointError(f"cannot resume from {path}: {exc}") from None
        if optim_path.exists():
            extra = torch.load(str(optim_path), map_location="cpu", weights_only=True)
            for name, opt in self.optimizers.items():
                opt.load_state_dict(extra["optimizers"][name])
            torch.set_rng_state(extra["torch_rng"])
        else:
            # A committed checkpoint carries weights only: the optimiser starts afresh.
            log.warning("%s has no optimiser state; continuing with a fresh optimiser", optim_path)
        self.seed = int(state.get("seed", self.seed))
        self.rng.bit_generator.state = state["numpy_rng"]
        self.step = int(state["step"])
        # A fresh optimiser warms up from here; a resumed one keeps its run's starting point.
        self.warm_from = int(state.get("warm_from", 0)) if optim_path.exists() else self.step
        self.train_seconds = float(state.get("train_seconds", 0.0))
        return True

    def save(self) -> None:
        """Write a complete checkpoint to a temporary folder, then swap it in."""
        tmp = self.folder / "checkpoint.part"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for name, module in self.modules.items():
            tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
            save_file(tensors, str(tmp / f"{name}.safetensors"))
        torch.save(
            {
                "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
                "torch_rng": torch.get_rng_state(),
            },
            str(tmp / "optim.pt"),
        )
        state = {
            "step": self.step,
            "warm_from": self.warm_from,
            "train_seconds": self.train_seconds,
            "seed": self.seed,
            "numpy_rng": self.rng.bit_generator.state,
            "config": self.config,
        }
        (tmp / "state.json").write_text(
            json.dumps(state, indent=1, default=str) + "\n", encoding="utf-8"
        )
        old = self.folder / "checkpoint.old"
        if self.checkpoint_dir.exists():
            if old.exists():
                shutil.rmtree(old)
            self.checkpoint_dir.rename(old)
        tmp.rename(self.checkpoint_dir)
        if old.exists():
            shutil.rmtree(old)
        self._last_save = time.monotonic()

    def maybe_save(self, every_s: float) -> bool:
        if time.monotonic() - self._last_save >= every_s:
            self.save()
            return True
        return False

    def log(self, metrics: Mapping[str, float]) -> None:
        row = {
            "step": self.step,
            "train_hours": round(self.train_seconds / 3600, 4),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **{k: round(float(v), 5) for k, v in metrics.items()},
        }
        with (self.folder / "log.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


class TrainingStopped(KeyboardInterrupt):
    """Training was asked to stop (Ctrl-C or SIGTERM) and was checkpointed at ``step`` in
    ``folder`` first: the same command continues it. A KeyboardInterrupt, so callers that
    handle cancelling already handle it."""

    def __init__(self, step: int, folder: Path, signal_name: str) -> None:
        super().__init__(f"{signal_name} at step {step}; checkpoint in {folder / 'checkpoint'}")
        self.step = step
        self.folder = folder
        self.signal_name = signal_name


class _StopOnSignal:
    """While active, SIGINT and SIGTERM only ask the loop to stop at the next step boundary, so
    the checkpoint written on the way out is of whole steps (an interrupted optimiser update
    would leave some weights moved and others not). A second signal stops at once. Handlers can
    only be set from the main thread; elsewhere the signals keep their own handling."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> _StopOnSignal:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested is not None:
            self._restore()
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        log.warning("%s: stopping after this step (again to stop at once)", self.requested)

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def __exit__(self, *exc: object) -> None:
        self._restore()


def train_steps(
    run: TrainingRun,
    budget: Budget,
    step: Callable[[], Metrics],
    *,
    log_every: int,
    checkpoint_every_s: float,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> None:
    """Call ``step`` until the budget is spent, logging, reporting and checkpointing as it goes.

    ``step`` may return its metrics as 0-d tensors: they are read (which waits for a GPU to
    finish its queued work) only on the steps that log them; ``progress`` gets the last logged
    values."""
    logged: dict[str, float] = {}
    with _StopOnSignal() as stop:
        while not budget.done(run.step) and stop.requested is None:
            t0 = time.perf_counter()
            metrics = step()
            run.step += 1
            run.train_seconds += time.perf_counter() - t0
            if run.step % log_every == 0:
                logged = {k: float(v) for k, v in metrics.items()}
                run.log(logged)
            if progress is not None:
                progress(run.step, budget.max_steps, logged)
            if stop.requested is None:
                run.maybe_save(checkpoint_every_s)
        run.save()
    if stop.requested is not None:
        raise TrainingStopped(run.step, run.folder, stop.requested)


def start_run(
    out_dir: str | os.PathLike[str],
    recipe: str,
    config: RecipeConfig,
    modules: Mapping[str, nn.Module],
    model_config: dict[str, Any],
    init_from: str | os.PathLike[str] | None = None,
) -> tuple[torch.optim.Optimizer, TrainingRun]:
    """One optimiser over every module's parameters, in a run folder seeded from ``init_from``
    and resumed from its own last checkpoint (the set-up of every single-optimiser recipe)."""
    opt = config.optimizer([p for module in modules.values() for p in module.parameters()])
    run = TrainingRun(
        out_dir,
        modules,
        {"model": opt},
        {"recipe": recipe, "train": asdict(config), "model": model_config},
        seed=config.seed,
    )
    return opt, run.start(init_from)


def run_recipe(
    run: TrainingRun,
    config: RecipeConfig,
    step: Callable[[], Metrics],
    max_hours: float | None = None,
    progress: Progress | None = None,
) -> None:
    """Train until ``config.max_steps`` or ``max_hours``, setting every optimiser's learning
    rate from the schedule before each step."""

    def scheduled() -> Metrics:
        set_learning_rate(run.optimizers.values(), config.learning_rate_at(run.step, run.warm_from))
        return step()

    train_steps(
        run,
        Budget(config.max_steps, max_hours),
        scheduled,
        log_every=config.log_every,
        checkpoint_every_s=config.checkpoint_every_s,
        progress=progress,
    )


def optimise(
    opt: torch.optim.Optimizer,
    loss: torch.Tensor,
    params: Iterable[torch.Tensor] | None = None,
    max_norm: float = 10.0,
) -> None:
    """One update: gradients of ``loss``, clipped to ``max_norm`` over ``params`` (if given)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if params is not None:
        torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()


def set_learning_rate(optimizers: Iterable[torch.optim.Optimizer], lr: float) -> None:
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = lr
