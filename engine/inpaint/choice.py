"""``choice``: per gap, a learned pick among ``hybrid``'s fill and others that suit some gaps.

``hybrid`` (LSAR under 700 Hz, ``neural-mel`` above) keeps LSAR's PLCMOS from 80 ms with some to
spare but trails pitch repetition's PESQ-WB by about 0.02 at 300-400 ms; ``neural-mel`` alone has
the better PESQ there and the worse PLCMOS, most of all where the context is voiced, and
``exemplar`` (the context's own audio) has real speech's PLCMOS where the context holds a stretch
that fits. Which suits a gap shows in the context and in how the fills come out. This method
makes ``hybrid``'s two fills (LSAR, ``neural-mel``), ``pattern``'s and, for a model that reads
it, ``exemplar``'s (the same mel predictor, run on its own window), builds the candidates from
them (``hybrid``, other crossovers, ``neural-mel``, ...), measures
:func:`~voicemend.engine.inpaint.gap_features.gap_features`, and takes the candidate whose
predicted PESQ change over ``hybrid`` plus ``lambda`` times its predicted PLCMOS change is highest
(``hybrid`` itself scoring 0). The predictions are linear models fitted by
``scripts/selector_fit.py`` on train-split cases (``scripts/selector_data.py``); they ship as
data in ``engine/weights/choice/config.json`` (``LinearChoice``), never as code. Each fill is
made as its method makes it alone (crossfades included), as in the cases the models were
fitted on.

Stereo gaps get one choice for all channels (from the channels' mean), so the image does not
split. The features are measured at 16 kHz, where the models were fitted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from voicemend.engine.errors import CheckpointError
from voicemend.engine.inpaint.base import GapContext, Inpainter, crossfade_cap
from voicemend.engine.inpaint.crossover import (
    CROSSOVER_HZ,
    Crossover,
    band_split,
    crossover_filter,
    either_side,
    pasted,
)
from voicemend.engine.inpaint.gap_features import RATE, gap_features
from voicemend.engine.inpaint.pattern import Pattern
from voicemend.engine.rates import mask_to_rate, to_rate

BASE = "hybrid"
# The fills whose features a model reads: these four always (``hybrid`` makes two of them,
# ``pattern``'s is cheap), a model may name more (it lists them in ``measured``)
MEASURED = ("lsar", "pattern", "neural-mel", BASE)
# exemplar's pick keeps its own audio up to here and hybrid's above (see _in_band): under the
# 8 kHz the models see, by the crossover's width, so the band at 8 kHz is all hybrid's
IN_BAND_HZ = 7000.0
EDGE_MS = 20.0  # neural-mel-edges: LSAR's whole band for the gap's first and last 20 ms
EDGE_FADE_MS = 20.0


@dataclass(frozen=True)
class LinearChoice:
    """Standardised features times weights: a predicted PESQ and PLCMOS change over ``hybrid``
    per alternative. Loaded from JSON data (``from_json``)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    alternatives: tuple[str, ...]
    pesq: np.ndarray  # (alternatives, features + 1): weights, then the intercept
    plcmos: np.ndarray
    weight_points: tuple[tuple[float, float], ...]  # (gap ms, lambda), interpolated between
    gap_range_ms: tuple[float, float]  # gaps outside it take hybrid without a choice
    measured: tuple[str, ...] = MEASURED  # the fills whose features it reads

    @classmethod
    def from_json(cls, path: str | Path) -> LinearChoice:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            features = tuple(str(f) for f in data["features"])
            alternatives = tuple(str(a) for a in data["alternatives"])
            model = cls(
                features,
                np.asarray(data["mean"], float),
                np.asarray(data["scale"], float),
                alternatives,
                np.asarray([data["pesq"][a] for a in alternatives], float),
                np.asarray([data["plcmos"][a] for a in alternatives], float),
                tuple((float(g), float(w)) for g, w in data["lambda_by_gap_ms"]),
                (float(data["gap_range_ms"][0]), float(data["gap_range_ms"][1])),
                tuple(str(m) for m in data.get("measured", MEASURED)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot read the choice model {path}: {exc}") from None
        n = len(features)
        shapes_ok = model.mean.shape == model.scale.shape == (n,) and model.pesq.shape == (
            len(alternatives),
            n + 1,
        )
        if not model.weight_points or model.gap_range_ms[0] > model.gap_range_ms[1]:
            raise CheckpointError(f"the choice model {path} has no weights for any gap length")
        if not shapes_ok or model.plcmos.shape != model.pesq.shape:
            raise CheckpointError(f"the choice model {path} has weights of the wrong shape")
        unknown = set(alternatives) - set(CANDIDATES)
        if unknown:
            raise CheckpointError(f"the choice model {path} names unknown fills: {unknown}")
        if not set(MEASURED) <= set(model.measured) or not set(model.measured) <= set(CANDIDATES):
            raise CheckpointError(
                f"the choice model {path} measures fills {list(model.measured)}: it must measure"
                f" {', '.join(MEASURED)}, and others only among {', '.join(sorted(CANDIDATES))}"
            )
        return model

    def needs(self, fill: str) -> bool:
        """Whether a choice by this model makes ``fill`` (to measure or to pick)."""
        return fill in self.measured or fill in self.alternatives

    def covers(self, gap_ms: float) -> bool:
        return self.gap_range_ms[0] <= gap_ms <= self.gap_range_ms[1]

    def weight(self, gap_ms: float) -> float:
        """lambda for a gap of ``gap_ms``: PLCMOS's weight against PESQ's."""
        gaps, weights = zip(*self.weight_points, strict=True)
        return float(np.interp(gap_ms, gaps, weights))

    def scores(self, features: Mapping[str, float]) -> dict[str, float]:
        """``hybrid``: 0; each alternative: predicted PESQ change + lambda × PLCMOS change."""
        x = np.array([features[f] for f in self.features], float)
        z = np.append(np.nan_to_num((x - self.mean) / self.scale), 1.0)
        gain = self.pesq @ z + self.weight(features["gap_ms"]) * (self.plcmos @ z)
        return {BASE: 0.0, **{a: float(g) for a, g in zip(self.alternatives, gain, strict=True)}}


def _edges_from(edge: np.ndarray, middle: np.ndarray, ctx: GapContext) -> np.ndarray:
    """``edge`` for the gap's first and last :data:`EDGE_MS`, ``middle`` between."""
    t = np.arange(ctx.gap_frames) * 1000.0 / ctx.sample_rate
    ramp = np.clip((np.minimum(t, t[::-1]) - EDGE_MS) / EDGE_FADE_MS, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * ramp)
    out = middle.copy()
    gap = slice(ctx.gap_start, ctx.gap_end)
    out[:, gap] = (1 - w) * edge[:, gap] + w * middle[:, gap]
    # outside the gap (the crossfades) the edge fill, which continues the context
    out[:, : ctx.gap_start] = edge[:, : ctx.gap_start]
    out[:, ctx.gap_end :] = edge[:, ctx.gap_end :]
    return out


def _split(hz: float):
    return lambda f, ctx: band_split(
        f["lsar"], f["neural-mel"], crossover_filter(hz, ctx.sample_rate)
    )


# Every fill a model may name, from the windows with lsar's, neural-mel's and pattern's fills.
CANDIDATES = {
    BASE: _split(CROSSOVER_HZ),
    "lsar": lambda f, ctx: f["lsar"],
    "neural-mel": lambda f, ctx: f["neural-mel"],
    "pattern": lambda f, ctx: f["pattern"],
    "exemplar": lambda f, ctx: f["exemplar"],  # made by Choice's exemplar where a model needs it
    "neural-mel-edges": lambda f, ctx: _edges_from(f["lsar"], f["neural-mel"], ctx),
    **{f"split-{hz}": _split(float(hz)) for hz in (300, 500, 1000)},
}


class Choice(Crossover):
    """:class:`Crossover` of ``low`` and ``high`` whose fill, per gap, is the candidate ``model``
    rates best (see the module's notes). ``exemplar`` makes the ``exemplar`` fill, for a model
    that measures or names it."""

    name = "choice"

    def __init__(
        self,
        low: Inpainter,
        high: Inpainter,
        model: LinearChoice,
        exemplar: Inpainter | None = None,
    ) -> None:
        super().__init__(low, high)
        if model.needs("exemplar") and exemplar is None:
            raise ValueError("this choice model reads the exemplar fill: give an exemplar method")
        self.model = model
        self.pattern = Pattern()
        self.exemplar = exemplar if model.needs("exemplar") else None

    def context_frames(self, gap_frames: int, sample_rate: int) -> tuple[int, int]:
        before, after = super().context_frames(gap_frames, sample_rate)
        extra = [self.pattern] + ([self.exemplar] if self.exemplar is not None else [])
        for method in extra:
            want_before, want_after = either_side(method.context_frames(gap_frames, sample_rate))
            before, after = max(before, want_before), max(after, want_after)
        return before, after

    def same_as(self, gap_ms: float) -> str:
        return self.name if self.model.covers(gap_ms) else BASE

    def fill_many(self, contexts: Sequence[GapContext]) -> list[tuple[np.ndarray, str]]:
        out = []
        for ctx, (low_full, high_full, low_note, high_note) in zip(
            contexts, self.component_windows(contexts), strict=True
        ):
            fills = {"lsar": low_full, "neural-mel": high_full}
            fills[BASE] = CANDIDATES[BASE](fills, ctx)
            extra_notes: dict[str, str] = {}  # the notes of pattern's and exemplar's fills
            name = BASE
            if self.model.covers(1000.0 * ctx.gap_frames / ctx.sample_rate):
                for fill, method in (("pattern", self.pattern), ("exemplar", self.exemplar)):
                    if method is not None:
                        sub = _as_alone(self._crop(ctx, method, keep_fades=True), method)
                        made, extra_notes[fill] = method.fill(sub)
                        fills[fill] = pasted(ctx, sub, made)
                name = self.pick(ctx, fills)
            chosen = fills[name] if name in fills else CANDIDATES[name](fills, ctx)
            if name == "exemplar":  # over the models' band, hybrid's fill (see _in_band)
                chosen = _in_band(chosen, fills[BASE], ctx.sample_rate)
            note = f"chose {name} (lsar: {low_note}; neural-mel: {high_note}"
            note += f"; {extra_notes[name]})" if name in extra_notes else ")"
            out.append((chosen[:, ctx.span], note))
        return out

    def pick(self, ctx: GapContext, fills: Mapping[str, np.ndarray]) -> str:
        """The candidate the model rates best for this gap, from the windows with ``lsar``'s,
        ``pattern``'s, ``neural-mel``'s and ``hybrid``'s fills (and those it also measures)."""
        rate = ctx.sample_rate
        n16 = round(ctx.window.shape[1] * RATE / rate)
        mono = {k: to_rate(v.mean(axis=0), rate, RATE, n16) for k, v in fills.items()}
        unknown = mask_to_rate(~ctx.known, rate, RATE, n16)
        start = int(np.floor(ctx.gap_start * RATE / rate))
        end = int(np.ceil(ctx.gap_end * RATE / rate))
        damaged = to_rate(ctx.window.mean(axis=0), rate, RATE, n16)
        damaged[unknown] = 0.0
        measured = {k: mono[k] for k in self.model.measured}
        features = gap_features(damaged, (start, end), measured, ~unknown)
        scores = self.model.scores(features)
        return max(scores, key=lambda k: (scores[k], k == BASE))


def _in_band(fill: np.ndarray, hybrid: np.ndarray, sample_rate: int) -> np.ndarray:
    """``fill`` up to :data:`IN_BAND_HZ`, in the band the models and features see, and
    ``hybrid``'s fill above. A stretch the context copies in brings its own high band, which
    may be a fricative's where a vowel was lost: on 48 kHz speech ``exemplar``'s band above
    8 kHz landed over 6 dB off the 200 ms around the gap in 19 of 25 gaps of 300-400 ms (14-25
    dB in 9); ``hybrid``'s follows the context's."""
    if sample_rate <= RATE:  # no band beyond the models'
        return fill
    return band_split(fill, hybrid, crossover_filter(IN_BAND_HZ, sample_rate))


def _as_alone(sub: GapContext, method: Inpainter) -> GapContext:
    """``sub`` (cropped with the choice's crossfades) with those ``method`` takes when it
    repairs the gap alone, up to the choice's (the room there was, and ``high``'s crossfades:
    the shipped ``neural-mel``'s are the longest allowed, so no shorter than any method's).
    Pitch repetition continues the audio from where its fade starts, so its fill, and the
    features read from it, depend on them (the model was fitted on fills made that way)."""
    cap = crossfade_cap(method, sub.gap_frames, sub.sample_rate)
    return replace(sub, fade_left=min(cap, sub.fade_left), fade_right=min(cap, sub.fade_right))


class ShippedChoice(Choice):
    """The shipped pair (as ``hybrid``) with the shipped choice model."""

    uses_torch_device = True

    def __init__(self, device: str = "auto") -> None:
        from voicemend.engine.inpaint.crossover import ShippedHybrid
        from voicemend.engine.models.shipped import verified_folder

        hybrid = ShippedHybrid(device=device)
        model = LinearChoice.from_json(verified_folder("choice") / "config.json")
        exemplar = None
        if model.needs("exemplar"):
            from voicemend.engine.inpaint.exemplar import Exemplar

            exemplar = Exemplar(hybrid.high.predictor, device=device)  # the same predictor
        super().__init__(hybrid.low, hybrid.high, model, exemplar)
