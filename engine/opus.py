"""A VoIP call's codec, lost packets and all: libopus through ctypes.

A call's decoder does not leave a lost packet silent: it extrapolates the speech before it
(Opus's packet-loss concealment, PLC) and fades. The concealment detector learns what that
sounds like from speech sent through this, and the Opus bench scores repairs against it.
libopus is Debian's ``libopus0`` (a dependency of libsndfile); nothing else is installed for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Collection

import numpy as np

from voicemend.engine.errors import VoicemendError

OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE = 4002
OPUS_SET_COMPLEXITY = 4010
OPUS_GET_LOOKAHEAD = 4027
MAX_PACKET_BYTES = 4000
RATES_HZ = (8000, 12000, 16000, 24000, 48000)
PACKET_MS = (10, 20, 40, 60)


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise VoicemendError(f"libopus not found ({name}): install libopus0") from exc
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_void_p]
    lib.opus_encode_float.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_float),
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int32,
    ]
    lib.opus_decode_float.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int32,
        ctypes.POINTER(ctypes.c_float),
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


def opus_available() -> bool:
    try:
        _library()
    except VoicemendError:
        return False
    return True


class OpusCodec:
    """Mono Opus in VoIP mode: encode every packet, decode all but the lost ones, which the
    decoder conceals."""

    def __init__(
        self,
        bitrate: int = 24000,
        sample_rate: int = 16000,
        packet_ms: int = 20,
        complexity: int = 10,
    ) -> None:
        if sample_rate not in RATES_HZ:
            raise VoicemendError(f"Opus runs at {RATES_HZ} Hz, not {sample_rate}")
        if packet_ms not in PACKET_MS:
            raise VoicemendError(f"Opus packets last {PACKET_MS} ms, not {packet_ms} ms")
        if not 6000 <= bitrate <= 510000:
            raise VoicemendError(f"Opus bit rates run from 6 to 510 kb/s, not {bitrate} b/s")
        self.lib = _library()
        self.bitrate = bitrate
        self.sample_rate = sample_rate
        self.packet_ms = packet_ms
        self.complexity = complexity
        self.packet = sample_rate * packet_ms // 1000

    def roundtrip(self, x: np.ndarray, lost: Collection[int] = frozenset()) -> np.ndarray:
        """``x`` through a fresh encoder and decoder, as long as the whole packets in it;
        packets in ``lost`` (by index) never reach the decoder, which conceals them. Packet
        ``k``'s audio, concealed or not, is output samples ``k * packet`` onwards: the output
        runs :meth:`delay` samples behind the input."""
        lib, n = self.lib, self.packet
        err = ctypes.c_int()
        enc = lib.opus_encoder_create(self.sample_rate, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
        if err.value:
            raise VoicemendError(f"opus_encoder_create failed ({err.value})")
        dec = lib.opus_decoder_create(self.sample_rate, 1, ctypes.byref(err))
        if err.value:
            lib.opus_encoder_destroy(enc)
            raise VoicemendError(f"opus_decoder_create failed ({err.value})")
        try:
            lib.opus_encoder_ctl(ctypes.c_void_p(enc), OPUS_SET_BITRATE, ctypes.c_int(self.bitrate))
            lib.opus_encoder_ctl(
                ctypes.c_void_p(enc), OPUS_SET_COMPLEXITY, ctypes.c_int(self.complexity)
            )
            frames = x.size // n
            out = np.zeros(frames * n, np.float32)
            data = ctypes.create_string_buffer(MAX_PACKET_BYTES)
            pcm = np.zeros(n, np.float32)
            pcm_ptr = pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            source = np.ascontiguousarray(x[: frames * n], dtype=np.float32)
            for k in range(frames):
                seg = source[k * n : (k + 1) * n]
                size = lib.opus_encode_float(
                    ctypes.c_void_p(enc),
                    seg.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                    n,
                    data,
                    MAX_PACKET_BYTES,
                )
                if size <= 0:
                    raise VoicemendError(f"opus_encode_float failed ({size})")
                packet = None if k in lost else data.raw[:size]
                got = lib.opus_decode_float(
                    ctypes.c_void_p(dec), packet, 0 if packet is None else size, pcm_ptr, n, 0
                )
                if got != n:
                    raise VoicemendError(f"opus_decode_float returned {got}")
                out[k * n : (k + 1) * n] = pcm
            return out
        finally:
            lib.opus_encoder_destroy(enc)
            lib.opus_decoder_destroy(dec)

    @functools.cached_property
    def delay(self) -> int:
        """How many samples the output runs behind the input: the encoder's look-ahead
        (6.5 ms at every rate), which the decoder adds nothing to."""
        err = ctypes.c_int()
        enc = self.lib.opus_encoder_create(
            self.sample_rate, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err)
        )
        if err.value:
            raise VoicemendError(f"opus_encoder_create failed ({err.value})")
        try:
            lookahead = ctypes.c_int32()
            self.lib.opus_encoder_ctl(
                ctypes.c_void_p(enc), OPUS_GET_LOOKAHEAD, ctypes.byref(lookahead)
            )
        finally:
            self.lib.opus_encoder_destroy(enc)
        return int(lookahead.value)

    def lost_mask(self, n_samples: int, lost: Collection[int]) -> np.ndarray:
        """(n_samples,) bool: the output samples the decoder concealed."""
        mask = np.zeros(n_samples, bool)
        for k in lost:
            mask[k * self.packet : (k + 1) * self.packet] = True
        return mask


def burst_losses(
    n_packets: int,
    rng: np.random.Generator,
    bursts_per_packet: float = 0.02,
    max_burst: int = 8,
) -> set[int]:
    """Bursty packet loss: bursts start at random packets (``bursts_per_packet`` on average)
    and last 1..``max_burst`` packets, shorter ones likelier (as Gilbert-Elliott loss is)."""
    lost: set[int] = set()
    starts = np.flatnonzero(rng.random(n_packets) < bursts_per_packet)
    lengths = np.minimum(rng.geometric(0.45, starts.size), max_burst)
    for start, length in zip(starts, lengths, strict=True):
        lost.update(range(int(start), min(n_packets, int(start + length))))
    return lost
