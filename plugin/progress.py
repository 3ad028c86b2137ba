"""The command line's progress bars: tqdm on stderr, driven by (done, total) callbacks."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(desc: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr (shown only on a terminal) driven by (done, total) callbacks."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=total,
                desc=desc,
                unit="step",
                disable=None if enabled else True,
                leave=False,
                file=sys.stderr,
            )
        if total != bar.total or done < bar.n:  # a new stage or file: start the bar again
            bar.reset(total=total)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
