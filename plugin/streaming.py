"""Run a chain over a file too large to decode at once: stage by stage, each block by block.

Each stage reads the previous stage's output from disk and writes its own. Pedalboard segments
stream (``reset=False``); what their latency holds back is flushed with silence and the output
cut to the input's length, which lines it up as a whole-buffer ``process`` does. voicemend stages
run their own block-wise forms (:meth:`Processor.process_file`). Between stages the audio is kept
as 32-bit float W64 (exact, and without WAV's 4 GB limit) in a hidden folder beside the output
that is removed when the render ends; only the last stage writes the output's sample format, and
the output appears only when it is complete.

For pedalboard's built-in effects this gives the whole-buffer result exactly (the tests check
it). Two things can differ: a plugin whose streamed output depends on where blocks fall (the
GSM codec emulation does), and, as in :mod:`voicemend.engine.blockwise`, an ``Inpaint`` whose
fill overshoots near a block's start.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pedalboard

from voicemend.engine.audio import SourceFormat
from voicemend.engine.blockwise import BLOCK_S
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.engine.io import AudioReader, check_writable, open_writer
from voicemend.plugin.processors import ChainContext, Processor

STREAM_FRAMES = 1 << 16  # frames per pedalboard call (1.4 s at 48 kHz)
MAX_FLUSH_S = 60.0  # silence fed after the input at most, waiting for a plugin's held-back tail

Step = pedalboard.Pedalboard | Processor


def process_file_in_blocks(
    segments: Sequence[Step],
    source: str | Path,
    output: str | Path,
    *,
    tail_s: float = 0.0,
    context: ChainContext | None = None,
    block_s: float = BLOCK_S,
    overwrite: bool = False,
    like: SourceFormat | None = None,
) -> ChainContext:
    """Run ``segments`` (a chain's :meth:`~voicemend.plugin.chain.Chain.segments`) over
    ``source`` into ``output``, holding a few blocks in memory instead of the file; ``tail_s``
    of silence is appended first, as :meth:`Chain.process` does. The output takes the sample
    format of ``like`` (default: the source's) where its container can hold it. Returns the
    context the stages filled."""
    context = context or ChainContext()
    if not block_s > 0:
        raise ValueError(f"block length must be above 0 s, got {block_s}")
    out = check_writable(output, overwrite=overwrite)
    with AudioReader(source) as head:
        sr, like = head.sample_rate, like or head.source
        if head.n_frames == 0:
            raise AudioFileError(f"{head.path} holds no audio frames (empty file)")
    steps = list(segments)
    pad = round(tail_s * sr)
    if pad and (not steps or isinstance(steps[0], Processor)):
        steps.insert(0, pedalboard.Pedalboard([]))  # a copy that appends the tail
    writers = [i for i, s in enumerate(steps) if not isinstance(s, Processor) or s.writes_audio]
    if not writers:  # only stages that read: the output is a copy
        steps.append(pedalboard.Pedalboard([]))
        writers = [len(steps) - 1]
    current = Path(source)
    with tempfile.TemporaryDirectory(prefix=".voicemend-render-", dir=out.parent) as work:
        for i, step in enumerate(steps):
            writes = i in writers
            final = i == writers[-1]
            dst = out if final else Path(work) / f"stage-{i}.w64"
            if isinstance(step, Processor):
                step.process_file(
                    current,
                    dst if writes else None,
                    context,
                    block_s=block_s,
                    like=like if final else _FLOAT,
                    overwrite=overwrite or not final,
                )
            else:
                stream_board(
                    step,
                    current,
                    dst,
                    pad_frames=pad if i == 0 else 0,
                    like=like if final else _FLOAT,
                    overwrite=overwrite or not final,
                    progress=context.stage_progress("effects"),
                )
            if writes:
                if current.parent == Path(work):
                    current.unlink()  # the stage before's output, read in full now
                current = dst
    return context


_FLOAT = SourceFormat("W64", "FLOAT", "")


def stream_board(
    board: pedalboard.Pedalboard,
    source: Path,
    output: Path,
    *,
    pad_frames: int = 0,
    like: SourceFormat | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Stream ``source`` (plus ``pad_frames`` of silence) through ``board`` into ``output``,
    the same length as what went in, in the sample format of ``like`` where given (else the
    source's); returns the frames written."""
    board.reset()
    with AudioReader(source) as reader, contextlib.ExitStack() as stack:
        sr, channels = reader.sample_rate, reader.n_channels
        total = reader.n_frames + pad_frames  # the header's word until the file ends
        write: Callable[[np.ndarray], None] | None = None
        written = 0

        def emit(block: np.ndarray, *, even_empty: bool = False) -> None:
            nonlocal write, written
            if block.shape[1] == 0 and not even_empty:
                return
            if write is None:  # opened on the first output: a plugin may change the channels
                write = stack.enter_context(
                    open_writer(
                        output,
                        sr,
                        block.shape[0],
                        like or reader.source,
                        overwrite=overwrite,
                        expected_frames=total,
                    )
                )
            write(np.ascontiguousarray(block, dtype=np.float32))
            written += block.shape[1]
            if progress is not None:
                progress(min(written, total), total)

        fed = 0
        while (block := reader.read(STREAM_FRAMES)).shape[1]:
            emit(np.atleast_2d(board.process(block, sr, reset=False)))
            fed += block.shape[1]
        total = fed + pad_frames
        silence = np.zeros((channels, STREAM_FRAMES), np.float32)
        for start in range(0, pad_frames, STREAM_FRAMES):
            emit(np.atleast_2d(board.process(silence[:, : pad_frames - start], sr, reset=False)))
        flushed = 0
        while written < total:
            if flushed > MAX_FLUSH_S * sr:
                raise VoicemendError(
                    f"the effects held back more than {MAX_FLUSH_S:.0f} s of audio; "
                    "render this chain without blocks"
                )
            emit(np.atleast_2d(board.process(silence, sr, reset=False))[:, : total - written])
            flushed += STREAM_FRAMES
        if write is None:  # nothing went in: an empty file
            emit(np.zeros((channels, 0), np.float32), even_empty=True)
    return written
