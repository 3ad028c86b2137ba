"""Inpainters: fill regions of audio. ``INPAINTERS`` maps method names to classes."""

from __future__ import annotations

from voicemend.engine.errors import VoicemendError
from voicemend.engine.inpaint.auto import Auto
from voicemend.engine.inpaint.base import (
    Cancelled,
    GapContext,
    Inpainter,
    InpaintResult,
    RegionReport,
)
from voicemend.engine.inpaint.lsar import Lsar, LsarSettings, lsar_interpolate
from voicemend.engine.inpaint.pattern import Pattern
from voicemend.engine.inpaint.zero import ZeroFill
from voicemend.engine.models import shipped

INPAINTERS: dict[str, type[Inpainter]] = {
    "auto": Auto,
    "lsar": Lsar,
    "pattern": Pattern,
    "zero": ZeroFill,
}
# The neural method is offered when its weights ship with the package (torch loads only then).
if shipped.available("ift", "decoder"):
    from voicemend.engine.inpaint.neural import ShippedNeural

    INPAINTERS["neural"] = ShippedNeural
if shipped.available("mel", "mel-decoder"):
    from voicemend.engine.inpaint.neural import ShippedNeuralMel

    INPAINTERS["neural-mel"] = ShippedNeuralMel
    from voicemend.engine.inpaint.crossover import ShippedHybrid

    INPAINTERS["hybrid"] = ShippedHybrid
if shipped.available("mel", "mel-decoder", "choice"):
    from voicemend.engine.inpaint.choice import ShippedChoice

    INPAINTERS["choice"] = ShippedChoice
if shipped.available("mel"):
    from voicemend.engine.inpaint.exemplar import ShippedExemplar

    INPAINTERS["exemplar"] = ShippedExemplar
if shipped.available("ipt-encoder", "ipt-decoder"):
    from voicemend.engine.inpaint.neural import ShippedNeuralIpt

    INPAINTERS["neural-ipt"] = ShippedNeuralIpt


def get_inpainter(name: str, device: str = "auto") -> Inpainter:
    """A fresh inpainter by registry name; ``device`` applies to the neural methods."""
    try:
        cls = INPAINTERS[name]
    except KeyError:
        known = ", ".join(sorted(INPAINTERS))
        raise VoicemendError(f"unknown repair method {name!r}; choose one of {known}") from None
    return cls(device=device) if cls.uses_torch_device else cls()  # type: ignore[call-arg]


__all__ = [
    "INPAINTERS",
    "Auto",
    "Cancelled",
    "GapContext",
    "InpaintResult",
    "Inpainter",
    "Lsar",
    "LsarSettings",
    "Pattern",
    "RegionReport",
    "ZeroFill",
    "get_inpainter",
    "lsar_interpolate",
]
