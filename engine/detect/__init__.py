"""Dropout detection (blind mode): digital silence, packet-loss bursts, clipping, concealed
losses and clicks."""

from voicemend.engine.detect.clicks import ClickSettings
from voicemend.engine.detect.clipping import ClippingSettings
from voicemend.engine.detect.concealment import ConcealmentSettings
from voicemend.engine.detect.detector import DetectorSettings, DropoutDetector, merge_detections
from voicemend.engine.detect.packet_loss import PacketLossSettings
from voicemend.engine.detect.silence import SilenceSettings
from voicemend.engine.detect.types import (
    DEFAULT_KINDS,
    Detection,
    DropoutKind,
    by_channels,
    channel_names,
    clipped_regions,
    kinds_sought,
    some_channels,
)

__all__ = [
    "DEFAULT_KINDS",
    "ClickSettings",
    "ClippingSettings",
    "ConcealmentSettings",
    "Detection",
    "DetectorSettings",
    "DropoutDetector",
    "DropoutKind",
    "PacketLossSettings",
    "SilenceSettings",
    "by_channels",
    "channel_names",
    "clipped_regions",
    "kinds_sought",
    "merge_detections",
    "some_channels",
]
