"""Training batches made in worker processes, so a GPU is not left waiting on the CPU.

Cropping and augmenting 3 s of speech takes about a millisecond per example on one core; at the
batch sizes a GPU wants, that is most of a step. With ``data_workers`` above zero, batch number
``step`` is drawn from its own generator (seeded by the run's seed and ``step``), so any worker
can make any batch, the order is the same whatever the number of workers, and a resumed run picks
up the same batches it would have drawn. With no workers the recipe draws from the run's one
generator in the training process, as the models trained on a CPU were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from voicemend.engine.training.data import AugmentConfig, SpeechPool, random_batch

Batch = tuple[np.ndarray, ...]


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator that draws batch number ``step`` of a run seeded with ``seed``."""
    return np.random.default_rng([seed, step])


@dataclass
class CropBatches:
    """Augmented crops of the training pool with one mask each, as ``(waves, masks)``.

    ``masks(batch, n_samples, rng)`` draws the recipe's masks (its gaps, say); a plain dataclass
    rather than a closure so that it also reaches workers started by spawning (macOS)."""

    pool: SpeechPool
    n_samples: int
    batch_size: int
    augment: AugmentConfig | None
    masks: Callable[[int, int, np.random.Generator], np.ndarray]

    def __call__(self, rng: np.random.Generator) -> Batch:
        waves = random_batch(self.pool, self.n_samples, self.batch_size, rng, self.augment)
        return waves, self.masks(self.batch_size, self.n_samples, rng)


class _StepBatches(Dataset):
    def __init__(self, make: Callable[[np.random.Generator], Batch], seed: int) -> None:
        self.make = make
        self.seed = seed

    def __getitem__(self, step: int) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(a) for a in self.make(step_rng(self.seed, step)))


def worker_batches(
    make: Callable[[np.random.Generator], Batch],
    seed: int,
    first_step: int,
    workers: int,
    pin_memory: bool = False,
    prefetch: int = 4,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches ``first_step, first_step + 1, ...`` made by ``workers`` processes, in order."""
    if workers < 1:
        raise ValueError(f"data workers must be at least 1, not {workers}")
    loader = DataLoader(
        _StepBatches(make, seed),
        batch_size=None,  # each item already is a batch
        sampler=_CountFrom(first_step),
        num_workers=workers,
        prefetch_factor=prefetch,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
    return iter(loader)


class _CountFrom:
    """Step numbers from ``first`` on, without end (the loader's sampler)."""

    def __init__(self, first: int) -> None:
        self.first = first

    def __iter__(self) -> Iterator[int]:
        step = self.first
        while True:
            yield step
            step += 1


def batch_source(
    make: Callable[[np.random.Generator], Batch],
    run_rng: np.random.Generator,
    seed: int,
    first_step: int,
    workers: int,
    pin_memory: bool = False,
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """A function that returns the next batch: from worker processes when ``workers`` > 0, else
    drawn here from ``run_rng`` (the run's generator, which its checkpoints save)."""
    if workers > 0:
        stream = worker_batches(make, seed, first_step, workers, pin_memory)
        return lambda: next(stream)
    return lambda: tuple(torch.from_numpy(a) for a in make(run_rng))
