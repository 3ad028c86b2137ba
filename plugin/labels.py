"""Audacity label tracks: read regions marked in a DAW, write detections it can import."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voicemend.engine.errors import RegionError, VoicemendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Label:
    """A labelled span in seconds, as Audacity stores it."""

    start_s: float
    end_s: float
    text: str = ""


def read_audacity_labels(path: str | os.PathLike[str]) -> list[Label]:
    """Parse an Audacity label file (``start<TAB>end<TAB>text`` lines).

    Spectral-selection lines (starting with a backslash) are skipped, and so are point labels,
    which mark an instant rather than a span.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise VoicemendError(f"{p}: no such label file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VoicemendError(f"cannot read label file {p}: {exc}") from None
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise RegionError(f"{p}:{number}: expected 'start<TAB>end<TAB>label', got {line!r}")
        try:
            start, end = (float(f.strip().replace(",", ".")) for f in fields[:2])
        except ValueError:
            raise RegionError(f"{p}:{number}: cannot read times in {line!r}") from None
        if end < start:
            raise RegionError(f"{p}:{number}: label ends before it starts ({start:g} > {end:g})")
        if end == start:
            log.warning(
                "%s:%d: point label at %.3f s skipped (no span to repair)", p, number, start
            )
            continue
        labels.append(Label(start, end, fields[2].strip() if len(fields) > 2 else ""))
    return labels


def format_audacity_labels(labels: Iterable[Label]) -> str:
    return "".join(f"{lb.start_s:.6f}\t{lb.end_s:.6f}\t{lb.text}\n" for lb in labels)
