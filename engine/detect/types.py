"""What a detector reports: a region, its kind and how sure it is."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from voicemend.engine.regions import Region


class DropoutKind(str, Enum):
    DIGITAL_SILENCE = "digital_silence"  # a run of exact or near zeros inside active audio
    PACKET_LOSS = "packet_loss"  # a burst replaced by a low comfort-noise floor, with hard edges
    CLIPPING = "clipping"  # samples stuck at the converter's rail
    CONCEALED = "concealed"  # a lost packet a call's decoder filled by extrapolation
    CLICK = "click"  # a few samples the speech around them cannot have made
    NON_FINITE = "non_finite"  # NaN or ±Inf samples in a float file, read as silence
    HELD = "held"  # one value repeated, not zero: a converter or driver that stalled and held

    def __str__(self) -> str:
        return self.value


# What blind mode looks for unless asked: concealment is opt-in, since on clean speech that was
# never a call its network still finds a loss now and then (dev: 2 in 12.5 min, where the level
# rules find none), and most recordings were never calls; clicks too, since on clean read speech
# the search finds one now and then (train: 29 in 2.8 h; engine.detect.clicks)
OPT_IN_KINDS = (DropoutKind.CONCEALED, DropoutKind.CLICK)
# Found while the file is read, not sought in its samples (engine.nonfinite): always repaired
READ_KINDS = (DropoutKind.NON_FINITE,)
DEFAULT_KINDS = tuple(k for k in DropoutKind if k not in OPT_IN_KINDS + READ_KINDS)


def kinds_sought(concealed: bool = False, clicks: bool = False) -> tuple[DropoutKind, ...]:
    """The default kinds, and concealed losses (``--concealed``) and clicks (``--clicks``) too
    where asked for."""
    return (
        *DEFAULT_KINDS,
        *((DropoutKind.CONCEALED,) if concealed else ()),
        *((DropoutKind.CLICK,) if clicks else ()),
    )


@dataclass(frozen=True)
class Detection:
    """One damaged span; ``confidence`` is 0..1, ``channels`` lists where it was seen.

    ``clipped`` holds the clipped runs inside a span that another kind names (a clipped peak
    touching a packet loss, merged under the surer kind), so that their repair still keeps
    beyond the rail; a CLIPPING detection is a clipped run in its whole region."""

    region: Region
    kind: DropoutKind
    confidence: float
    channels: tuple[int, ...] = (0,)
    clipped: tuple[Region, ...] = ()

    def clipped_runs(self) -> tuple[Region, ...]:
        """Where in this span the samples were clipped."""
        return (self.region,) if self.kind is DropoutKind.CLIPPING else self.clipped

    def seconds(self, sample_rate: int) -> tuple[float, float]:
        return self.region.seconds(sample_rate)

    def to_dict(self, sample_rate: int) -> dict[str, object]:
        start_s, end_s = self.seconds(sample_rate)
        out: dict[str, object] = {
            "start_s": round(start_s, 6),
            "end_s": round(end_s, 6),
            "start_frame": self.region.start,
            "end_frame": self.region.end,
            "kind": self.kind.value,
            "confidence": round(self.confidence, 3),
            "channels": list(self.channels),
        }
        if self.clipped:
            out["clipped_frames"] = [[r.start, r.end] for r in self.clipped]
        return out


def clipped_regions(detections: Iterable[Detection]) -> list[Region]:
    """The regions of clipped runs among ``detections``: ``Inpainter.inpaint(clipped=...)``
    keeps their fills beyond the rail."""
    return [r for d in detections for r in d.clipped_runs()]


def by_channels(
    detections: Iterable[Detection], n_channels: int
) -> tuple[list[Region], list[tuple[Region, tuple[int, ...]]]]:
    """``detections`` as ``Inpainter.inpaint`` takes them: the regions seen in every channel,
    and the ones seen in some only, with those channels (``partial``), so that a dropout on
    one side of a two-person call leaves the other side as it was."""
    whole: list[Region] = []
    partial: list[tuple[Region, tuple[int, ...]]] = []
    for d in detections:
        some = some_channels(d.channels, n_channels)
        if some is None:
            whole.append(d.region)
        else:
            partial.append((d.region, some))
    return whole, partial


def some_channels(channels: Iterable[int] | None, n_channels: int) -> tuple[int, ...] | None:
    """Of the channels a dropout was found in (or a label names), those an ``n_channels``
    audio has, sorted; None where that is every channel, or none of them (a tag on a mono
    file): the dropout is then repaired in every channel."""
    named = tuple(sorted({c for c in channels or () if 0 <= c < n_channels}))
    return named if 0 < len(named) < n_channels else None


def channel_names(channels: Sequence[int], n_channels: int) -> str:
    """Where a dropout was found, for people: "all", "L"/"R" in a stereo file, else channel
    numbers from 1 (a repair changes only these)."""
    some = some_channels(channels, n_channels)
    if some is None:
        return "all"
    if n_channels == 2:
        return " ".join("LR"[c] for c in some)
    return ", ".join(str(c + 1) for c in some)
