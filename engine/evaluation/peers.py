"""Published peer models, benched beside voicemend's own methods (never used to repair files).

``tplcnet``: tPLCnet-s (Westhausen & Meyer, Interspeech 2022, MIT), a causal time-domain
packet-loss concealer, from ``../shared/peers/tplcnet``. It runs at 16 kHz on 10 ms frames with
20 ms Hann windows: each window that touches a lost frame is predicted from the four most recent
output frames and the window's own (zeroed) input; every other window is the input itself, so
overlap-adding reproduces the known audio exactly. Its fill goes through the same paste-back as
every voicemend method, so the comparison is about the gap only.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from voicemend.engine.data import DEFAULT_SPEECH_ROOT
from voicemend.engine.errors import VoicemendError
from voicemend.engine.inpaint.base import GapContext, Inpainter

FRAME = 160  # 10 ms at 16 kHz
RATE = 16_000


def peers_root() -> Path:
    """``$VOICEMEND_PEERS`` if set, else ``../shared/peers`` beside the repository."""
    if "VOICEMEND_PEERS" in os.environ:
        return Path(os.environ["VOICEMEND_PEERS"])
    return DEFAULT_SPEECH_ROOT.parent.parent / "peers"


class Tplcnet(Inpainter):
    name = "tplcnet"

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or peers_root() / "tplcnet" / "tPLCnet_s.tflite"
        if not path.exists():
            raise VoicemendError(f"tPLCnet model not found at {path}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise VoicemendError(
                "the tPLCnet peer needs a TFLite runtime: pip install ai-edge-litert"
            ) from None
        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]
        self.window = np.hanning(2 * FRAME + 1)[:-1].astype(np.float32)  # periodic Hann

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        return int(0.2 * sample_rate) + gap_frames  # causal: it only needs the recent past

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        if ctx.sample_rate != RATE:
            raise VoicemendError("the tPLCnet peer runs on 16 kHz audio only")
        out = np.stack([self.conceal(ch, ~ctx.known) for ch in ctx.window])
        return out[:, ctx.span], "tPLCnet-s (peer)"

    def conceal(self, x: np.ndarray, lost: np.ndarray) -> np.ndarray:
        """One channel with ``lost`` samples concealed; known windows pass through exactly."""
        n = x.size
        n_frames = -(-n // FRAME) + 2
        padded = np.zeros(n_frames * FRAME, np.float32)
        padded[FRAME : FRAME + n] = np.where(lost, 0.0, x)  # one frame of zeros in front
        lost_frames = np.zeros(n_frames, bool)
        lost_idx = np.flatnonzero(lost) + FRAME
        lost_frames[np.unique(lost_idx // FRAME)] = True
        out = np.zeros_like(padded)
        for k in range(n_frames - 1):
            a, b = k * FRAME, (k + 2) * FRAME
            if lost_frames[k] or lost_frames[k + 1]:
                history = np.zeros(4 * FRAME, np.float32)
                lo = max(0, a - 4 * FRAME)
                history[4 * FRAME - (a - lo) :] = out[lo:a]
                inp = np.concatenate([history, padded[a:b]]).reshape(1, 6, FRAME)
                self.interpreter.set_tensor(self._in, inp.astype(np.float32))
                self.interpreter.invoke()
                out[a:b] += self.interpreter.get_tensor(self._out)[0]
            else:
                out[a:b] += self.window * padded[a:b]
        return out[FRAME : FRAME + n].astype(np.float64)


PEERS: dict[str, type[Inpainter]] = {"tplcnet": Tplcnet}


def get_method(name: str) -> Inpainter:
    """A registered inpainter or a peer, by name (the bench's lookup)."""
    if name in PEERS:
        return PEERS[name]()
    from voicemend.engine.inpaint import get_inpainter

    return get_inpainter(name)
