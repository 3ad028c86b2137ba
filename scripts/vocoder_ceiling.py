"""How good can a neural repair get with this decoder? Decode the CLEAN mel, paste only the gap.

    .venv/bin/python scripts/vocoder_ceiling.py DECODER_DIR [N_FILES]

Same cases as `voicemend bench quality --positions-short 1 --positions-long 1` on the first
N dev files (default 12), 40/100/200/400 ms gaps. The decoder gets the true mel of the whole
excerpt; its output is level-matched and pasted over the gap (± 10 ms crossfade) exactly as the
neural inpainter does. PLCMOS and PESQ of that are the ceiling that a perfect mel predictor would
reach with this decoder; `full_resynth_pesq` is the decoder's resynthesis of the whole excerpt.
"""

from __future__ import annotations

import collections
import sys

import numpy as np
import torch

from voicemend.engine.crossfade import paste
from voicemend.engine.data import list_speech
from voicemend.engine.evaluation import scores as S
from voicemend.engine.evaluation.quality import QualityConfig, plan_cases
from voicemend.engine.inpaint.neural import _level_match
from voicemend.engine.io import load
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.vocos import VocosDecoder

GAPS_MS = (40, 100, 200, 400)
SR = 16_000
CROSSFADE = SR // 100


def main(decoder_dir: str, n_files: int = 12) -> None:
    decoder = VocosDecoder.from_pretrained(decoder_dir).eval()
    mel = LogMel(decoder.config.mel)
    config = QualityConfig(gaps_ms=GAPS_MS, positions_short=1, positions_long=1)
    scores = collections.defaultdict(list)
    for i, f in enumerate(list_speech(split="dev")[:n_files]):
        x = load(f.path).to_mono().resampled(SR).samples[0]
        for case in plan_cases(x, SR, f.path.stem, i, config):
            s0, s1 = max(0, case.start - SR), min(x.size, case.end + SR)
            clean = x[s0:s1].astype(np.float64)
            g0, g1 = case.start - s0, case.end - s0
            damaged = clean.copy()
            damaged[g0:g1] = 0.0
            with torch.no_grad():
                y = decoder(mel(torch.from_numpy(clean)[None].float()))[0].double().numpy()
            y = np.pad(y, (0, max(0, clean.size - y.size)))[: clean.size]
            unknown = np.zeros(clean.size, bool)
            unknown[g0:g1] = True
            y = _level_match(y[None], damaged[None], unknown, (g0, g1))[0]
            out = damaged[None].copy()
            paste(out, y[None, g0 - CROSSFADE : g1 + CROSSFADE], g0, g1, CROSSFADE, CROSSFADE)
            scores[("plcmos", case.gap_ms)].append(S.plcmos(out[0]))
            scores[("pesq", case.gap_ms)].append(S.pesq_score(clean, out[0], SR))
            scores[("full_resynth_pesq", case.gap_ms)].append(S.pesq_score(clean, y, SR))
    print("| measure | " + " | ".join(f"{g} ms" for g in GAPS_MS) + " |")
    print("|---|" + "---|" * len(GAPS_MS))
    for key in ("plcmos", "pesq", "full_resynth_pesq"):
        cells = " | ".join(f"{np.mean(scores[(key, g)]):.2f}" for g in GAPS_MS)
        print(f"| {key} | {cells} |")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12)
