#!/usr/bin/env bash
# Train a mel predictor on a CUDA GPU for a fixed time and leave what is worth keeping in a
# folder small enough to copy back from a lent machine.
#   bash scripts/gpu_train_mel.sh TRAIN_DIR RESULT_DIR [MINUTES] [SIZE] [BATCH] [WORKERS]
# TRAIN_DIR: a plain folder of training audio in any format soundfile reads (the train split
# compressed to Opus by scripts/pack_train_audio.py fits a 64 MB transfer). It is decoded to WAV
# on every core first, since the training pool reads its files one by one.
# RESULT_DIR gets the run's log.jsonl and training log, the model's config.json, and its weights
# as float16 safetensors cut into 15 MB pieces (join them with cat, in name order).
# INIT=checkpoints/mel continues the shipped predictor (its size; SIZE is then ignored) instead
# of starting one from scratch; BF16=1 trains with bfloat16 autocast; RUN_DIR keeps the run
# folder (default: a temporary one) for a later step to use, its decoded audio in RUN_DIR/audio.
set -euo pipefail
cd "$(dirname "$0")/.."
train=$1
result=$2
minutes=${3:-7}
size=${4:-base}
batch=${5:-64}
workers=${6:-$(($(nproc) - 4 > 1 ? $(nproc) - 4 : 1))}
py=${PYTHON:-python}
device=${DEVICE:-cuda}
run=${RUN_DIR:-$(mktemp -d)}
export PYTHONUNBUFFERED=1
mkdir -p "$result" "$run/audio"

"$py" - "$train" "$run/audio" <<'PY'
import sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

from voicemend.engine.data import list_speech

src, dst = sys.argv[1], Path(sys.argv[2])
files = [f.path for f in list_speech(src, split=None)]

def decode(item):
    i, path = item
    x, sr = sf.read(path, dtype="float32")
    sf.write(dst / f"{i:05d}.wav", x, sr, subtype="FLOAT")
    return x.shape[0] / sr

t = time.monotonic()
with ProcessPoolExecutor() as pool:
    seconds = sum(pool.map(decode, enumerate(files), chunksize=8))
print(f"decoded {len(files)} files, {seconds / 3600:.2f} h, in {time.monotonic() - t:.1f} s")
PY

hours=$("$py" -c "print($minutes / 60)")
model=(--size "$size")
[ -n "${INIT:-}" ] && model=(--init "$INIT")
[ "${BF16:-0}" = 1 ] && model+=(--bf16)
status=0
"$py" -m voicemend.plugin.cli train mel "${model[@]}" --device "$device" --batch-size "$batch" \
    --workers "$workers" --hours "$hours" --data "$run/audio" --out "$run/mel" \
    >"$result/train.log" 2>&1 || status=$?
tail -c 2000 "$result/train.log" | tr '\r' '\n' | tail -n 5
cp "$run/mel/log.jsonl" "$result/" 2>/dev/null || true
if [ -f "$run/mel/export/model.safetensors" ]; then
    cp "$run/mel/export/config.json" "$result/"
    "$py" -c "import sys, pathlib; from voicemend.engine.models.shipped import copy_weights; \
copy_weights(*map(pathlib.Path, sys.argv[1:3]), 'float16')" \
        "$run/mel/export/model.safetensors" "$result/model-fp16.safetensors"
    split -b 15000000 "$result/model-fp16.safetensors" "$result/model-fp16.safetensors.part-"
    rm "$result/model-fp16.safetensors"
fi
"$py" - "$result/log.jsonl" <<'PY' || true
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
a, b = rows[0], rows[-1]
rate = (b["step"] - a["step"]) / max(1e-9, (b["train_hours"] - a["train_hours"]) * 3600)
print(f"steps {b['step']}, {rate:.1f} steps/s; l1_gap first {a['l1_gap']:.3f} last {b['l1_gap']:.3f}")
PY
ls -la "$result"
exit $status
