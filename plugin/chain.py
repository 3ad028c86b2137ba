"""A chain of pedalboard plugins and voicemend stages, run in order on whole buffers or files.

A ``pedalboard.Pedalboard`` cannot hold Python plugins, so consecutive pedalboard plugins run as
one native ``Pedalboard`` segment (which compensates their reported latency) and voicemend stages
run between the segments. ``tail_s`` appends silence first so reverb and delay tails ring out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pedalboard

from voicemend.engine.audio import SourceFormat
from voicemend.engine.blockwise import BLOCK_S
from voicemend.engine.errors import VoicemendError
from voicemend.engine.io import write_text_atomic
from voicemend.plugin.presets import ExternalPlugin
from voicemend.plugin.processors import ChainContext, Processor, to_audio
from voicemend.plugin.streaming import process_file_in_blocks

Stage = pedalboard.Plugin | Processor | ExternalPlugin


class Chain:
    """``Chain([HighpassFilter(80), Inpaint(auto=True), Compressor(-18, 3)])(audio, sr)``."""

    def __init__(
        self,
        stages: Iterable[Stage] = (),
        tail_s: float = 0.0,
        name: str = "",
        description: str = "",
    ) -> None:
        self.stages: list[Stage] = list(stages)
        for stage in self.stages:
            if not isinstance(stage, (pedalboard.Plugin, Processor, ExternalPlugin)):
                raise VoicemendError(
                    "a chain holds pedalboard plugins and voicemend stages, "
                    f"not {type(stage).__name__}"
                )
        if tail_s < 0:
            raise VoicemendError(f"tail_s must not be negative, got {tail_s}")
        self.tail_s = float(tail_s)
        self.name = name
        self.description = description
        self.last_context = ChainContext()

    def __len__(self) -> int:
        return len(self.stages)

    def __iter__(self):
        return iter(self.stages)

    def __repr__(self) -> str:
        return f"Chain({self.stages!r}, tail_s={self.tail_s})"

    def segments(self) -> list[pedalboard.Pedalboard | Processor]:
        """Consecutive pedalboard plugins grouped into one native Pedalboard each."""
        out: list[pedalboard.Pedalboard | Processor] = []
        run: list[pedalboard.Plugin] = []
        for stage in self.stages:
            if isinstance(stage, Processor):
                if run:
                    out.append(pedalboard.Pedalboard(run))
                    run = []
                out.append(stage)
            else:
                run.append(stage.plugin if isinstance(stage, ExternalPlugin) else stage)
        if run:
            out.append(pedalboard.Pedalboard(run))
        return out

    def __call__(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        return self.process(audio, sample_rate)

    def process(
        self, audio: np.ndarray, sample_rate: float, context: ChainContext | None = None
    ) -> np.ndarray:
        """Run every stage over the whole buffer (float32; 1-D mono or (channels, samples))."""
        context = context or ChainContext()
        self.last_context = context
        _, mono_1d = to_audio(audio, sample_rate)  # validates layout and rate
        x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        if self.tail_s:
            x = np.pad(x, ((0, 0), (0, round(self.tail_s * sample_rate))))
        for segment in self.segments():
            if x.shape[1] == 0:
                break
            if isinstance(segment, Processor):
                x = np.atleast_2d(segment.process(x, sample_rate, context))
            else:
                x = np.atleast_2d(segment.process(x, sample_rate, reset=True))
            x = np.ascontiguousarray(x, dtype=np.float32)
        return x[0] if mono_1d and x.shape[0] == 1 else x

    def process_file(
        self,
        source: str | Path,
        output: str | Path,
        context: ChainContext | None = None,
        *,
        block_s: float = BLOCK_S,
        overwrite: bool = False,
        like: SourceFormat | None = None,
    ) -> ChainContext:
        """:meth:`process` for a file too large to hold: stage by stage, each block by block
        (:mod:`voicemend.plugin.streaming`); the output keeps the source's sample format, or
        takes that of ``like``."""
        context = context or ChainContext()
        self.last_context = context
        return process_file_in_blocks(
            self.segments(),
            source,
            output,
            tail_s=self.tail_s,
            context=context,
            block_s=block_s,
            overwrite=overwrite,
            like=like,
        )

    # --- presets ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        from voicemend.plugin.presets import chain_to_preset

        return chain_to_preset(self)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        return write_text_atomic(
            path, json.dumps(self.to_dict(), indent=2) + "\n", overwrite=overwrite
        )

    @classmethod
    def load(cls, path: str | Path) -> Chain:
        from voicemend.plugin.presets import load_preset

        return load_preset(path)
