"""How good can a neural repair get with this decoder? Decode the CLEAN mel, paste only the gap.

    .venv/bin/python scripts/vocoder_ceiling.py DECODER_DIR [N_FILES] [BLUR_MS,...]

Same cases as `voicemend bench quality --positions-short 1 --positions-long 1` on the first
N dev files (default 12), 40/100/200/400 ms gaps. The decoder gets the true mel of the whole
excerpt; its output is level-matched and pasted over the gap (± 10 ms crossfade) exactly as the
neural inpainter does. PLCMOS and PESQ of that are the ceiling that a perfect mel predictor would
reach with this decoder; `full_resynth_pesq` is the decoder's resynthesis of the whole excerpt.

With BLUR_MS (e.g. 50,100,200) the gap's true mel frames are also smoothed in time by a moving
average that wide, as an over-smooth predictor would give them, and ``line`` replaces them by the
straight line across the gap that the mel transformer starts from: how sharp a predictor must be.
"""

from __future__ import annotations

import collections
import sys

import numpy as np
import torch

from voicemend.engine.crossfade import paste
from voicemend.engine.data import list_speech
from voicemend.engine.evaluation import scores as S
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.inpaint.neural import level_match
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import heard_frames
from voicemend.engine.models.mel_transformer import interpolate_gaps
from voicemend.engine.models.vocos import VocosDecoder

GAPS_MS = (40, 100, 200, 400)
SR = 16_000
CROSSFADE = SR // 100


def gap_variants(
    log_mel: torch.Tensor, hidden: torch.Tensor, blur_ms: tuple[int, ...], hop: int
) -> dict[str, torch.Tensor]:
    """The true mel, and copies whose ``hidden`` frames are smoothed or a straight line."""
    variants = {"": log_mel}
    hop_ms = 1000 * hop // SR
    for ms in blur_ms:
        w = max(1, ms // (2 * hop_ms))  # frames each side
        kernel = torch.ones(1, 1, 2 * w + 1) / (2 * w + 1)
        padded = torch.nn.functional.pad(log_mel.transpose(0, 1), (w, w), mode="replicate")
        smooth = torch.nn.functional.conv1d(padded, kernel).transpose(0, 1)
        variants[f" (gap blurred {ms} ms)"] = torch.where(hidden[:, None, :], smooth, log_mel)
    if blur_ms:
        variants[" (gap a straight line)"] = interpolate_gaps(log_mel, hidden)
    return variants


def main(decoder_dir: str, n_files: int = 12, blur_ms: tuple[int, ...] = ()) -> None:
    decoder = VocosDecoder.from_pretrained(decoder_dir).eval()
    mel = LogMel(decoder.config.mel)
    config = QualityConfig(gaps_ms=GAPS_MS, positions_short=1, positions_long=1)
    scores = collections.defaultdict(list)
    for case, clean, region in iter_excerpts(list_speech(split="dev")[:n_files], SR, config):
        clean = clean.astype(np.float64)
        g0, g1 = region.start, region.end
        damaged = clean.copy()
        damaged[g0:g1] = 0.0
        unknown = np.zeros(clean.size, bool)
        unknown[g0:g1] = True
        with torch.no_grad():
            true_mel = mel(torch.from_numpy(clean)[None].float())
            gap = torch.from_numpy(unknown)[None]
            hidden = heard_frames(gap, true_mel.shape[-1], mel.config)
            variants = gap_variants(true_mel, hidden, blur_ms, mel.config.hop_length)
            decoded = {k: decoder(m)[0].double().numpy() for k, m in variants.items()}
        for label, y in decoded.items():
            y = np.pad(y, (0, max(0, clean.size - y.size)))[: clean.size]
            y = level_match(y[None], damaged[None], unknown, (g0, g1))[0]
            out = damaged[None].copy()
            paste(out, y[None, g0 - CROSSFADE : g1 + CROSSFADE], g0, g1, CROSSFADE, CROSSFADE)
            scores[("plcmos" + label, case.gap_ms)].append(S.plcmos(out[0]))
            scores[("pesq" + label, case.gap_ms)].append(S.pesq_score(clean, out[0], SR))
            if not label:
                scores[("full_resynth_pesq", case.gap_ms)].append(S.pesq_score(clean, y, SR))
    print("| measure | " + " | ".join(f"{g} ms" for g in GAPS_MS) + " |")
    print("|---|" + "---|" * len(GAPS_MS))
    for key in dict.fromkeys(k for k, _ in scores):  # in the order first scored
        cells = " | ".join(f"{np.mean(scores[(key, g)]):.2f}" for g in GAPS_MS)
        print(f"| {key} | {cells} |")


if __name__ == "__main__":
    blur = tuple(int(v) for v in sys.argv[3].split(",")) if len(sys.argv) > 3 else ()
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12, blur)
