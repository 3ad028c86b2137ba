"""Concealed packet loss: stretches a call's decoder made up when packets did not arrive.

Nothing drops to silence there, so the level rules of :mod:`.silence` and :mod:`.packet_loss`
cannot see it; :class:`~voicemend.engine.models.concealment.ConcealmentNet` hears it (a repeated
pitch period through a frozen envelope, fading). Its frame probabilities become regions: runs of
frames over ``threshold``, joined across short dips, widened by the frames the network's 10 ms
grid may have cut off, and a little after the end, where the decoder is still finding its way
back to the sent signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.models.concealment import ConcealmentNet
from voicemend.engine.rates import to_rate
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs

log = logging.getLogger(__name__)

SHIPPED_NAME = "concealment"


@dataclass(frozen=True)
class ConcealmentSettings:
    """``model``: a folder with ``config.json`` and ``model.safetensors``; ``None`` for the
    shipped detector."""

    model: Path | None = None
    threshold: float = 0.3  # frame probability that starts a run
    # the mean frame probability of a run that gets confidence 0.5 (the detector's default
    # cut): on 30 train files through Opus (294 bursts), the shipped network's runs at least
    # this sure were 198 on a burst and 3 false
    sure_probability: float = 0.7
    min_ms: float = 15.0  # shorter runs are dropped
    join_ms: float = 20.0  # runs closer than this are one
    pad_before_ms: float = 5.0
    pad_after_ms: float = 10.0
    # runs shorter than this are listed at half confidence, under the repair cut: a lost
    # packet or two is concealed about as well as a repair does it (on 120 train files
    # through Opus, blind repair of 20 ms losses cost 0.038 PESQ-WB at 30 ms, 0.003 at 50)
    short_ms: float = 50.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(
                f"concealment threshold must lie between 0 and 1, not {self.threshold}"
            )


def load_concealment_net(settings: ConcealmentSettings) -> ConcealmentNet | None:
    """The settings' network, or the shipped one; ``None`` when none ships (the detector
    then looks for everything else)."""
    if settings.model is not None:
        return ConcealmentNet.from_pretrained(settings.model)
    from voicemend.engine.models import shipped

    if not shipped.available(SHIPPED_NAME):
        log.warning(
            "no concealment detector ships in this install; concealed losses are not sought"
        )
        return None
    return ConcealmentNet.from_pretrained(shipped.verified_folder(SHIPPED_NAME))


def concealed_probability(net: ConcealmentNet, x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per ``hop`` frame of the network's rate, the probability that ``x`` was concealed."""
    rate = net.config.mel.sample_rate
    y = to_rate(x, sample_rate, rate).astype(np.float32) if sample_rate != rate else x
    if y.size < net.config.mel.hop_length:
        return np.zeros(0, np.float32)
    with torch.inference_mode():
        wave = torch.tensor(y, dtype=torch.float32)[None]
        return torch.sigmoid(net(wave))[0].numpy()


def find_concealment(
    x: np.ndarray, sample_rate: int, net: ConcealmentNet, settings: ConcealmentSettings
) -> list[Detection]:
    """Concealed stretches of one channel, on ``sample_rate``'s samples."""
    prob = concealed_probability(net, x, sample_rate)
    hop_s = net.config.mel.hop_length / net.config.mel.sample_rate
    join = round(settings.join_ms / 1000 / hop_s)
    runs = _joined(true_runs(prob > settings.threshold), join)
    out = []
    for lo, hi in runs:
        if (hi - lo) * hop_s * 1000 < settings.min_ms:
            continue
        start_s = lo * hop_s - settings.pad_before_ms / 1000
        end_s = hi * hop_s + settings.pad_after_ms / 1000
        start = max(0, int(np.floor(start_s * sample_rate)))
        end = min(x.size, int(np.ceil(end_s * sample_rate)))
        if end <= start:
            continue
        sure = settings.sure_probability
        confidence = float(np.interp(np.mean(prob[lo:hi]), [0.0, sure, 1.0], [0.0, 0.5, 1.0]))
        if (hi - lo) * hop_s * 1000 < settings.short_ms:
            confidence /= 2
        out.append(Detection(Region(start, end), DropoutKind.CONCEALED, confidence))
    return out


def _joined(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in runs:
        if out and lo - out[-1][1] <= gap:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out
