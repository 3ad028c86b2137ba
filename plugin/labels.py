"""DAW interchange: Audacity label tracks, REAPER region/marker CSV and voicemend JSON regions.

Read regions that an editor marked in a DAW; write detections in a form the DAW imports.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from voicemend.engine.detect.types import channel_names
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
    text = _read_text(p)
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


# "[R]", "[L]" or "[1, 3]" at the end of a label's text: the dropout is in those channels only
# (voicemend's detect writes it; a repair from the label then leaves the other channels alone)
_CHANNELS_TAG = re.compile(r"\s*\[(L|R|\d+(?:[,;]\s*\d+)*)\]\s*$")  # ";": REAPER's CSV


def channel_tag(channels: Sequence[int], n_channels: int) -> str:
    """The tag a label's text ends with for a dropout in some channels only; "" for all."""
    names = channel_names(channels, n_channels)
    return "" if names == "all" else f" [{names}]"


def label_channels(text: str) -> tuple[int, ...] | None:
    """The channels (from 0) a label's text names with a trailing tag; None: every channel."""
    found = _CHANNELS_TAG.search(text)
    if found is None:
        return None
    tag = found.group(1)
    if tag in ("L", "R"):
        return ("LR".index(tag),)
    return tuple(sorted({int(v) - 1 for v in re.split(r"[,;]", tag) if int(v) > 0})) or None


def without_channel_tag(text: str) -> str:
    """The label's text with no channel tag: for a span that covers channels it did not name."""
    return _CHANNELS_TAG.sub("", text)


def format_audacity_labels(labels: Iterable[Label]) -> str:
    return "".join(f"{lb.start_s:.6f}\t{lb.end_s:.6f}\t{lb.text}\n" for lb in labels)


# --- REAPER: View > Region/Marker Manager, right-click > Export regions/markers to CSV ----------
REAPER_HEADER = "#,Name,Start,End,Length"


def read_reaper_csv(path: str | os.PathLike[str]) -> list[Label]:
    """Regions from REAPER's region/marker CSV (time display in seconds or (h:)m:ss.sss).

    Markers (ids ``M…``, no end) mark instants and are skipped; regions have ids ``R…``.
    """
    import csv

    p = Path(path)
    text = _read_text(p)
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0][:3]] != ["#", "Name", "Start"]:
        raise RegionError(
            f"{p}: not a REAPER region/marker CSV (its header must start '#,Name,Start')"
        )
    labels = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        ident = row[0].strip().upper()
        if ident.startswith("M") or len(row) < 4 or not row[3].strip():
            continue
        start, end = (_reaper_time(row[i], p, number) for i in (2, 3))
        if end <= start:
            raise RegionError(f"{p}:{number}: region ends before it starts")
        labels.append(Label(start, end, row[1].strip()))
    return labels


def _reaper_time(text: str, path: Path, number: int) -> float:
    from voicemend.engine.regions import parse_time_s

    value = text.strip()
    if value.count(".") >= 2:
        raise RegionError(
            f"{path}:{number}: time {value!r} is in measures.beats; set REAPER's time display to "
            "seconds or minutes:seconds before exporting"
        )
    try:
        return parse_time_s(value)
    except RegionError:
        raise RegionError(f"{path}:{number}: cannot read time {value!r}") from None


def format_reaper_csv(labels: Iterable[Label]) -> str:
    lines = [REAPER_HEADER]
    for i, lb in enumerate(labels, start=1):
        name = lb.text.replace(",", ";")
        lines.append(f"R{i},{name},{lb.start_s:.6f},{lb.end_s:.6f},{lb.end_s - lb.start_s:.6f}")
    return "\n".join(lines) + "\n"


# --- voicemend JSON regions ----------------------------------------------------------------------
JSON_FORMAT = "voicemend-regions"


def format_json_regions(labels: Iterable[Label]) -> str:
    import json

    data = {
        "format": JSON_FORMAT,
        "format_version": 1,
        "regions": [{"start_s": lb.start_s, "end_s": lb.end_s, "label": lb.text} for lb in labels],
    }
    return json.dumps(data, indent=2) + "\n"


def read_json_regions(path: str | os.PathLike[str]) -> list[Label]:
    """voicemend JSON regions, or the output of ``voicemend detect --format json``."""
    import json

    p = Path(path)
    try:
        data = json.loads(_read_text(p))
    except json.JSONDecodeError as exc:
        raise RegionError(f"{p}: not valid JSON ({exc})") from None
    items = data.get("regions", data.get("detections")) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RegionError(f"{p}: expected a 'regions' (or 'detections') list")
    labels = []
    for i, item in enumerate(items, start=1):
        try:
            start, end = float(item["start_s"]), float(item["end_s"])
        except (KeyError, TypeError, ValueError):
            raise RegionError(f"{p}: region {i} needs numeric start_s and end_s") from None
        if end <= start:
            raise RegionError(f"{p}: region {i} ends before it starts")
        text = str(item.get("label", item.get("kind", "")))
        channels = item.get("channels")  # detect's JSON: the channels (from 0) it was found in
        if isinstance(channels, list) and channels and all(isinstance(c, int) for c in channels):
            text += f" [{', '.join(str(c + 1) for c in sorted(channels))}]"
        labels.append(Label(start, end, text))
    return labels


def read_regions(path: str | os.PathLike[str]) -> list[Label]:
    """Any supported region file, recognised by its content."""
    p = Path(path)
    head = _read_text(p)[:200].lstrip()
    if head.startswith("{"):
        return read_json_regions(p)
    if head.startswith("#,"):
        return read_reaper_csv(p)
    return read_audacity_labels(p)


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise VoicemendError(f"{p}: no such label file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VoicemendError(f"cannot read label file {p}: {exc}") from None
