"""voicemend inside a running Audacity: repair the selection, detect dropouts into labels,
repair labelled regions.

Audio leaves Audacity by ``Export2`` of a selection and comes back by importing the repaired
piece, copying it, undoing the import (the clipboard keeps the audio) and pasting it over the
region: each repaired region is one "Paste" step in Audacity's history, and only the region
plus its crossfades is replaced, so everything else in the track is untouched. Temporary files
live in a temporary folder that is removed afterwards; the user's project files are never
written.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from voicemend.engine.audio import Audio
from voicemend.engine.crossfade import MAX_CROSSFADE_MS
from voicemend.engine.detect import (
    DetectorSettings,
    DropoutDetector,
    kinds_sought,
    some_channels,
)
from voicemend.engine.detect.snap import snap_regions
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import load, save
from voicemend.engine.regions import Region
from voicemend.plugin.audacity import AudacityError, AudacityPipe, Track
from voicemend.plugin.labels import channel_tag, label_channels, without_channel_tag

log = logging.getLogger(__name__)
LABEL_TRACK_NAME = "voicemend dropouts"
Echo = Callable[[str], object]


@dataclass(frozen=True)
class Repaired:
    track: str
    start_s: float
    end_s: float
    method: str


def wave_tracks(tracks: Sequence[Track], selected_only: bool) -> list[Track]:
    waves = [t for t in tracks if t.kind == "wave"]
    return [t for t in waves if t.selected] if selected_only else waves


def current_selection(pipe: AudacityPipe) -> tuple[float, float]:
    """The selected time range. The pipe cannot report it, so a label is added at the
    selection, read back, and undone at once (the history is left as it was)."""
    before = pipe.labels()
    pipe.command("AddLabel")
    after = pipe.labels()
    pipe.command("Undo")
    for index, rows in after.items():
        old = list(before.get(index, []))
        for row in rows:
            if row in old:
                old.remove(row)
            else:
                return row[0], row[1]
    raise AudacityError("could not read Audacity's selection")


def export_range(pipe: AudacityPipe, track: Track, start_s: float, end_s: float, path: Path):
    """Frames of ``track`` between the times, as Audacity renders them (project rate)."""
    pipe.command(
        "Select", Start=start_s, End=end_s, Track=float(track.index), TrackCount=1.0, Mode="Set"
    )
    pipe.command("Export2", Filename=str(path), NumChannels=max(1, track.channels))
    return load(path)


def paste_over(pipe: AudacityPipe, track: Track, start_s: float, piece: Audio, path: Path) -> None:
    """Replace ``piece.duration_s`` of ``track`` from ``start_s`` with ``piece`` (one undo step)."""
    save(piece, path, subtype="FLOAT", overwrite=True)
    n_tracks = len(pipe.tracks())
    pipe.command("Import2", Filename=str(path))
    pipe.command(
        "Select",
        Start=0.0,
        End=piece.n_frames / piece.sample_rate,
        Track=float(n_tracks),
        TrackCount=1.0,
        Mode="Set",
    )
    pipe.command("Copy")
    pipe.command("Undo")  # drops the imported track from the history; the clipboard stays
    pipe.command(
        "Select",
        Start=start_s,
        End=start_s + piece.n_frames / piece.sample_rate,
        Track=float(track.index),
        TrackCount=1.0,
        Mode="Set",
    )
    pipe.command("Paste")


def _restore_selection(pipe: AudacityPipe, start_s: float, end_s: float, tracks: list[Track]):
    if not tracks:
        pipe.command("SelectNone")
        return
    for i, t in enumerate(tracks):
        pipe.command(
            "Select",
            Start=start_s,
            End=end_s,
            Track=float(t.index),
            TrackCount=1.0,
            Mode="Set" if i == 0 else "Add",
        )


def repair_track_regions(
    pipe: AudacityPipe,
    track: Track,
    regions_s: Sequence[tuple[float, float] | tuple[float, float, tuple[int, ...] | None]],
    method: str,
    context_s: float,
    workdir: Path,
    echo: Echo,
) -> list[Repaired]:
    """Repair each region of one track from its exported surroundings, then paste it back; a
    region that names channels (a third item, from a label's ``[R]`` tag) in those only."""
    inpainter = get_inpainter(method)
    done: list[Repaired] = []
    for n, span in enumerate(sorted(regions_s, key=lambda s: (s[0], s[1]))):
        t0, t1 = span[0], span[1]
        channels = span[2] if len(span) > 2 else None
        if t1 <= track.start_s or t0 >= track.end_s:
            continue
        a, b = max(track.start_s, t0 - context_s), min(track.end_s, t1 + context_s)
        audio = export_range(pipe, track, a, b, workdir / f"context-{track.index}-{n}.wav")
        sr = audio.sample_rate
        first = round(a * sr)  # the exported audio starts on this sample of the timeline
        r0 = max(0, round(t0 * sr) - first)
        r1 = min(audio.n_frames, round(t1 * sr) - first)
        if r1 <= r0:
            continue
        named = some_channels(channels, audio.n_channels)
        if named is not None:  # a detector's span: its edges stand
            result = inpainter.inpaint(audio, [], partial=[(Region(r0, r1), named)])
        else:
            # a selection dragged a little short of a dropout must not keep its edge as context
            snap = snap_regions(audio, [Region(r0, r1)])[0]
            if snap.moved:
                echo(f"snapped to a dropout's edges: {snap.describe(sr)}")
            r0, r1 = snap.snapped.start, snap.snapped.end
            result = inpainter.inpaint(audio, [Region(r0, r1)])
        xf = round(MAX_CROSSFADE_MS / 1000 * sr)
        p0, p1 = max(0, r0 - xf), min(audio.n_frames, r1 + xf)
        piece = result.audio.slice_frames(p0, p1)
        paste_over(pipe, track, (first + p0) / sr, piece, workdir / f"piece-{track.index}-{n}.wav")
        report = result.reports[0]
        done.append(Repaired(track.name, (first + r0) / sr, (first + r1) / sr, report.method))
        echo(
            f"repaired {track.name!r} {(first + r0) / sr:.3f}-{(first + r1) / sr:.3f} s "
            f"({1000 * (r1 - r0) / sr:.0f} ms, {report.method})"
        )
    return done


def repair_selection(
    pipe: AudacityPipe, method: str = "auto", context_s: float = 2.0, echo: Echo = log.info
) -> list[Repaired]:
    tracks = pipe.tracks()
    targets = wave_tracks(tracks, selected_only=True)
    if not targets:
        raise AudacityError(
            "select the audio to repair in Audacity first (no audio track selected)"
        )
    t0, t1 = current_selection(pipe)
    if t1 - t0 <= 0:
        raise AudacityError("the selection in Audacity is empty: drag over the dropout first")
    echo(f"selection {t0:.3f}-{t1:.3f} s on {len(targets)} track(s)")
    done: list[Repaired] = []
    with tempfile.TemporaryDirectory(prefix="voicemend-audacity-") as tmp:
        for track in targets:
            done += repair_track_regions(
                pipe, track, [(t0, t1)], method, context_s, Path(tmp), echo
            )
    _restore_selection(pipe, t0, t1, targets)
    return done


def detect(
    pipe: AudacityPipe,
    min_confidence: float = 0.5,
    echo: Echo = log.info,
    concealed: bool = False,
    clicks: bool = False,
):
    """Detect dropouts (and, with ``concealed``, losses a call's decoder concealed; with
    ``clicks``, clicks) on the selected audio tracks (all, if none is selected) and mark each
    with a label (kind and confidence) on a new label track."""
    detector = DropoutDetector(
        DetectorSettings(kinds=kinds_sought(concealed, clicks), min_confidence=min_confidence)
    )
    tracks = pipe.tracks()
    targets = wave_tracks(tracks, selected_only=True) or wave_tracks(tracks, selected_only=False)
    if not targets:
        raise AudacityError("the Audacity project has no audio tracks")
    t0, t1 = current_selection(pipe)  # put back afterwards
    found: list[tuple[float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="voicemend-audacity-") as tmp:
        for track in targets:
            audio = export_range(
                pipe, track, track.start_s, track.end_s, Path(tmp) / f"track-{track.index}.wav"
            )
            first = round(track.start_s * audio.sample_rate)
            for d in detector(audio):
                a, b = d.seconds(audio.sample_rate)
                offset = first / audio.sample_rate
                tag = channel_tag(d.channels, audio.n_channels)
                found.append((a + offset, b + offset, f"{d.kind.value} {d.confidence:.2f}{tag}"))
            echo(f"{track.name!r}: scanned {track.end_s - track.start_s:.1f} s")
    merged = _merge_spans(found)
    _add_label_track(pipe, merged, LABEL_TRACK_NAME)
    _restore_selection(pipe, t0, t1, wave_tracks(tracks, selected_only=True))
    echo(f"{len(merged)} dropout(s) labelled on the track {LABEL_TRACK_NAME!r}")
    return merged


def _merge_spans(spans: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Overlapping detections from several tracks become one label (the first one's text,
    without its channel tag unless the others name the same channels)."""
    merged: list[tuple[float, float, str]] = []
    for a, b, text in sorted(spans):
        if merged and a <= merged[-1][1]:
            pa, pb, ptext = merged[-1]
            # a tag names one track's channels: joined with another find, the span is all
            same = label_channels(ptext) == label_channels(text)
            merged[-1] = (pa, max(pb, b), ptext if same else without_channel_tag(ptext))
        else:
            merged.append((a, b, text))
    return merged


def _add_label_track(pipe: AudacityPipe, labels: list[tuple[float, float, str]], name: str):
    pipe.command("NewLabelTrack")
    index = len(pipe.tracks()) - 1
    pipe.command("SetTrack", Track=float(index), Name=name)
    existing = pipe.labels()
    before = sum(len(rows) for i, rows in existing.items() if i < index)
    for n, (a, b, text) in enumerate(labels):
        pipe.command("Select", Start=a, End=b, Track=float(index), TrackCount=1.0, Mode="Set")
        pipe.command("AddLabel")
        pipe.command("SetLabel", Label=before + n, Text=text)


def repair_labels(
    pipe: AudacityPipe,
    track_name: str | None = None,
    method: str = "auto",
    context_s: float = 2.0,
    echo: Echo = log.info,
) -> list[Repaired]:
    """Repair every region marked on a label track (by default the one ``detect`` made, or
    the only one) on the selected audio tracks, or on all of them if none is selected."""
    tracks = pipe.tracks()
    label_tracks = [t for t in tracks if t.kind == "label"]
    if not label_tracks:
        raise AudacityError("the project has no label track; run `voicemend audacity detect`")
    if track_name is not None:
        chosen = [t for t in label_tracks if t.name == track_name]
        if not chosen:
            names = ", ".join(repr(t.name) for t in label_tracks)
            raise AudacityError(f"no label track named {track_name!r}; there are: {names}")
    else:
        chosen = [t for t in label_tracks if t.name == LABEL_TRACK_NAME] or label_tracks
        if len(chosen) > 1:
            names = ", ".join(repr(t.name) for t in chosen)
            raise AudacityError(f"several label tracks ({names}); pick one with --track")
    label_track = chosen[0]
    regions = [
        (a, b, label_channels(text))
        for a, b, text in pipe.labels().get(label_track.index, [])
        if b > a
    ]
    if not regions:
        raise AudacityError(f"the label track {label_track.name!r} marks no regions")
    targets = wave_tracks(tracks, selected_only=True) or wave_tracks(tracks, selected_only=False)
    echo(f"{len(regions)} region(s) from {label_track.name!r} on {len(targets)} track(s)")
    done: list[Repaired] = []
    with tempfile.TemporaryDirectory(prefix="voicemend-audacity-") as tmp:
        for track in targets:
            done += repair_track_regions(pipe, track, regions, method, context_s, Path(tmp), echo)
    return done


def status(pipe: AudacityPipe) -> dict[str, object]:
    from voicemend.plugin.audacity import installed_version

    tracks = pipe.tracks()
    rate = None
    waves = wave_tracks(tracks, selected_only=False)
    if waves:  # the pipe cannot report rates: render 10 ms and read it, then put back the selection
        t0, t1 = current_selection(pipe)
        selected = wave_tracks(tracks, selected_only=True)
        with tempfile.TemporaryDirectory(prefix="voicemend-audacity-") as tmp:
            w = waves[0]
            probe = export_range(
                pipe, w, w.start_s, min(w.end_s, w.start_s + 0.01), Path(tmp) / "p.wav"
            )
            rate = probe.sample_rate
        if selected:
            _restore_selection(pipe, t0, t1, selected)
        else:
            pipe.command("SelectNone")
    return {
        "connected": True,
        "project_rate_hz": rate,
        "pipe": str(pipe.to_path),
        "audacity_version": installed_version() or "unknown (not in its settings file)",
        "tracks": [
            {
                "index": t.index,
                "name": t.name,
                "kind": t.kind,
                "selected": t.selected,
                **(
                    {"channels": t.channels, "start_s": t.start_s, "end_s": t.end_s}
                    if t.kind == "wave"
                    else {}
                ),
            }
            for t in tracks
        ],
    }
