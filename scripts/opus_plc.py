"""Lost packets as a VoIP call really conceals them: Opus's own packet-loss concealment (PLC).

A call's decoder does not leave a lost packet silent: it extrapolates the speech before it and
fades, so the dropout sounds like a buzz or a smear rather than a hole. This encodes dev speech
with libopus (16 kHz, VoIP mode, 20 ms packets), drops bursts of 1, 3 and 5 packets inside active
speech, decodes with the codec's concealment, and asks two things:

- does ``DropoutDetector`` see the concealed bursts (it looks for zeros, comfort noise and
  clipping, not for concealment);
- told where they are (informed), do voicemend's methods beat the concealment? Each is scored
  against the same speech decoded without loss, 1 s either side of the burst (PESQ-WB, PLCMOS).

    python scripts/opus_plc.py --files 60 --out bench/results/opus-plc

libopus is loaded with ctypes (Debian's ``libopus0``); nothing is installed for it.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE = 4002
RATE = 16000
PACKET_MS = 20
MAX_PACKET_BYTES = 4000


class OpusCodec:
    """Mono Opus at 16 kHz: encode every packet, decode all but the lost ones, conceal those."""

    def __init__(self, bitrate: int = 24000) -> None:
        name = ctypes.util.find_library("opus") or "libopus.so.0"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as exc:
            raise RuntimeError(f"libopus not found ({name}): install libopus0") from exc
        lib = self.lib
        lib.opus_encoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.restype = ctypes.c_void_p
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
        self.bitrate = bitrate
        self.packet = RATE * PACKET_MS // 1000

    def roundtrip(self, x: np.ndarray, lost: set[int] = frozenset()) -> np.ndarray:
        """``x`` (16 kHz) through a fresh encoder and decoder; packets in ``lost`` (by index)
        never reach the decoder, which conceals them. Whole packets only; delayed by the
        codec's look-ahead (:meth:`delay`)."""
        lib, n = self.lib, self.packet
        err = ctypes.c_int()
        enc = lib.opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
        if err.value:
            raise RuntimeError(f"opus_encoder_create failed ({err.value})")
        dec = lib.opus_decoder_create(RATE, 1, ctypes.byref(err))
        if err.value:
            lib.opus_encoder_destroy(enc)
            raise RuntimeError(f"opus_decoder_create failed ({err.value})")
        try:
            lib.opus_encoder_ctl(ctypes.c_void_p(enc), OPUS_SET_BITRATE, ctypes.c_int(self.bitrate))
            frames = x.size // n
            out = np.zeros(frames * n, np.float32)
            data = ctypes.create_string_buffer(MAX_PACKET_BYTES)
            pcm = np.zeros(n, np.float32)
            pcm_ptr = pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            for k in range(frames):
                seg = np.ascontiguousarray(x[k * n : (k + 1) * n], dtype=np.float32)
                size = lib.opus_encode_float(
                    ctypes.c_void_p(enc),
                    seg.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                    n,
                    data,
                    MAX_PACKET_BYTES,
                )
                if size <= 0:
                    raise RuntimeError(f"opus_encode_float failed ({size})")
                packet = None if k in lost else data.raw[:size]
                got = lib.opus_decode_float(
                    ctypes.c_void_p(dec), packet, 0 if packet is None else size, pcm_ptr, n, 0
                )
                if got != n:
                    raise RuntimeError(f"opus_decode_float returned {got}")
                out[k * n : (k + 1) * n] = pcm
            return out
        finally:
            lib.opus_encoder_destroy(enc)
            lib.opus_decoder_destroy(dec)

    def delay(self, x: np.ndarray) -> int:
        """The decoder's delay in samples, from a lossless round trip of ``x`` (≥ 1 s)."""
        y = self.roundtrip(x[:RATE])
        lags = np.correlate(y, x[: RATE - 400], "valid")
        return int(np.argmax(lags))


def score_file(
    codec: OpusCodec, x: np.ndarray, index: int, args, delay: int, inpainters: dict
) -> list[dict]:
    from voicemend.engine import Audio, Region
    from voicemend.engine.corrupt import speech_positions
    from voicemend.engine.detect import DropoutDetector
    from voicemend.engine.evaluation import scores as S

    rng = np.random.default_rng(index)
    n = codec.packet
    reference = codec.roundtrip(x)
    rows = []
    for n_packets in args.packets:
        places = speech_positions(x, RATE, (n_packets + 1) * n, 1, rng)
        if not places:  # too short, or no active speech long enough
            continue
        first = int(np.ceil(places[0].start / n))
        concealed = codec.roundtrip(x, set(range(first, first + n_packets)))
        gap = Region(first * n + delay, (first + n_packets) * n + delay)
        a0, a1 = max(0, gap.start - RATE), min(concealed.size, gap.end + RATE)
        clean, local = reference[a0:a1], gap.shifted(-a0)
        found = DropoutDetector()(Audio.from_array(concealed, RATE))
        seen = any(d.region.overlaps_or_touches(gap) for d in found)
        outs = {"opus-plc": concealed[a0:a1]}
        for name, inpainter in inpainters.items():
            damaged = Audio.from_array(concealed[a0:a1].copy(), RATE)
            outs[name] = inpainter.inpaint(damaged, [local]).audio.samples[0]
        for name, out in outs.items():
            rows.append(
                {
                    "file": index,
                    "loss_ms": n_packets * PACKET_MS,
                    "method": name,
                    "detected": seen,
                    "pesq": float(S.pesq_score(clean, out, RATE)),
                    "plcmos": float(S.plcmos(out)),
                }
            )
    return rows


def table(rows: list[dict], methods: list[str]) -> str:
    """Means (± 95 % intervals) per loss length, and each method minus the concealment, paired."""
    by = defaultdict(dict)
    for r in rows:
        by[(r["loss_ms"], r["file"])][r["method"]] = r
    lengths = sorted({r["loss_ms"] for r in rows})
    lines = [
        "| loss | method | PESQ-WB | PLCMOS | Δ PESQ vs opus-plc | Δ PLCMOS vs opus-plc |",
        "|---|---|---|---|---|---|",
    ]
    for ms in lengths:
        cases = [v for (length, _), v in by.items() if length == ms]
        for name in ["opus-plc", *methods]:
            pesq = np.array([c[name]["pesq"] for c in cases])
            plcmos = np.array([c[name]["plcmos"] for c in cases])
            d_pesq = pesq - np.array([c["opus-plc"]["pesq"] for c in cases])
            d_plcmos = plcmos - np.array([c["opus-plc"]["plcmos"] for c in cases])
            diff = (
                ("–", "–")
                if name == "opus-plc"
                else (_mean_ci(d_pesq, signed=True), _mean_ci(d_plcmos, signed=True))
            )
            lines.append(
                f"| {ms} ms | {name} | {_mean_ci(pesq)} | {_mean_ci(plcmos)} | "
                f"{diff[0]} | {diff[1]} |"
            )
    detected = sum(1 for r in rows if r["method"] == "opus-plc" and r["detected"])
    total = sum(1 for r in rows if r["method"] == "opus-plc")
    lines += ["", f"Concealed bursts the detector found: {detected} of {total}."]
    return "\n".join(lines) + "\n"


def _mean_ci(v: np.ndarray, signed: bool = False) -> str:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "–"
    half = 1.96 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan")
    return f"{v.mean():{'+' if signed else ''}.3f} ± {half:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=60, help="the first N dev files")
    p.add_argument("--packets", default="1,3,5", help="lost packets per burst (20 ms each)")
    p.add_argument("--methods", default="lsar,auto", help="informed repairs to score")
    p.add_argument("--bitrate", type=int, default=24000)
    p.add_argument("--data", type=Path, help="speech data (default: ../shared/data/speech)")
    p.add_argument("--out", type=Path, help="write results.json and results.md here")
    args = p.parse_args(argv)
    args.packets = [int(v) for v in args.packets.split(",")]
    args.methods = [m for m in args.methods.split(",") if m]

    from voicemend.engine.data import list_speech, speech_root
    from voicemend.engine.io import load, write_text_atomic

    files = list_speech(args.data or speech_root(), split="dev")[: args.files]
    if not files:
        print("no dev files found", file=sys.stderr)
        return 1
    from voicemend.engine.inpaint import get_inpainter

    codec = OpusCodec(args.bitrate)
    inpainters = {name: get_inpainter(name) for name in args.methods}
    signals = (load(f.path).to_mono().resampled(RATE).samples[0] for f in files)
    rows: list[dict] = []
    delay = None
    for index, x in enumerate(signals):
        delay = codec.delay(x) if delay is None else delay
        rows += score_file(codec, x, index, args, delay, inpainters)
    text = (
        f"Opus {args.bitrate // 1000} kb/s, 16 kHz, {PACKET_MS} ms packets, {len(files)} dev "
        f"files, decoder delay {delay} samples\n\n" + table(rows, args.methods)
    )
    print(text, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out / "results.json", json.dumps(rows) + "\n", overwrite=True)
        write_text_atomic(args.out / "results.md", text, overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
