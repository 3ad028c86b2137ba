#!/usr/bin/env bash
# Everything a lent GPU machine is wanted for, in one call that fits its ten minutes:
#   1. the GPU checks (scripts/gpu_check.sh: tests, speed bench, CPU/GPU agreement, batching)
#      for the neural methods whose weights travelled;
#   2. the shipped mel predictor trained on (scripts/gpu_train_mel.sh from checkpoints/mel, with
#      bfloat16 autocast) for whatever time is left;
#   3. its decoder fine-tuned on the new predictor's output (as mel-decoder was, on the GPU);
#   4. the lot packed into at most three files: session.tar.gz (logs, bench results, the
#      decoder in float16) and the predictor in float16 as 15 MB pieces.
#
#   bash scripts/gpu_session.sh TRAIN_DIR DEV_DIR RESULT_DIR [TOTAL_S] [DECODER_S]
#
# TRAIN_DIR: the train split packed by scripts/pack_train_audio.py (--level 0.9 leaves room for
# the mel models in a 64 MiB tree); DEV_DIR: the dev files the speed bench reads (--split dev
# --limit 20). TOTAL_S (default 540) is the time from start to the end of packing; the
# predictor gets what the checks and DECODER_S (default 75) leave. A stage that fails or runs
# out of time is reported and the next one still runs; the exit status is the first failure.
# CHECKS=0 skips stage 1; DEVICE=cpu (with CHECKS=0) tries the rest on a machine without a GPU.
# MEL_INIT and DECODER_INIT (default checkpoints/mel, checkpoints/mel-decoder) are where the two
# runs start; RESERVE_S (default 110) is what the predictor leaves for decoding the audio, two
# start-ups and packing, and a stage with under MIN_STAGE_S (default 60) left is skipped.
# The tree that travels: scripts/device_tree.sh shows how to keep it under 64 MiB.
set -uo pipefail
cd "$(dirname "$0")/.."
train=$1
dev=$2
result=$3
total_s=${4:-540}
decoder_s=${5:-75}
py=${PYTHON:-python}
export PYTHONUNBUFFERED=1 PYTHON=$py
start=$(date +%s)
site=""
# A bare lent machine has PyTorch but neither voicemend nor soundfile: the carried wheels
# (WHEELS, default .devcarry/whl) go to a scratch folder, the package is linked in beside them.
if ! "$py" -c "import voicemend.engine" 2>/dev/null; then
    site=$(mktemp -d)
    wheels=${WHEELS:-.devcarry/whl}
    if compgen -G "$wheels/*.whl" >/dev/null; then
        "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target "$site" "$wheels"/*.whl
    fi
    mkdir -p "$site/voicemend"
    for part in engine plugin gui; do ln -s "$PWD/$part" "$site/voicemend/$part"; done
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
stage=$(mktemp -d)
run=$(mktemp -d)
mkdir -p "$result" "$stage/bench"
trap 'rm -rf "$stage" "$run" ${site:+"$site"}' EXIT
status=0
failed() { [ "$status" = 0 ] && status=$1; }  # the first failure is the exit status
left() { echo $((start + total_s - $(date +%s))); }
note() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$stage/session.log"; }

if [ "${CHECKS:-1}" = 1 ]; then
    note "checks: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null)"
    METHODS=${METHODS:-lsar,neural-mel,hybrid} TRAIN_SPEED=0 timeout "${CHECK_S:-200}" \
        bash scripts/gpu_check.sh "$stage/bench" "$dev" >"$stage/checks.log" 2>&1 \
        || { s=$?; note "checks ended with status $s (see checks.log)"; failed $s; }
    grep -E "passed|failed|error" "$stage/checks.log" | tail -n 3 | tee -a "$stage/session.log"
fi

# The predictor gets what is left after the decoder, decoding the audio (about 20 s), the
# start-up of two training processes (about 30 s each) and packing (about 30 s).
min_s=${MIN_STAGE_S:-60}
mel_s=$(($(left) - decoder_s - ${RESERVE_S:-110}))
if [ "$mel_s" -lt "$min_s" ]; then
    note "only $mel_s s left for the predictor: not trained"
    failed 1
else
    note "predictor: $mel_s s"
    RUN_DIR=$run INIT=${MEL_INIT:-checkpoints/mel} BF16=${BF16:-1} bash scripts/gpu_train_mel.sh \
        "$train" "$stage/mel" "$("$py" -c "print($mel_s / 60)")" base "${BATCH:-64}" \
        >"$stage/mel.log" 2>&1 || { s=$?; note "predictor ended with status $s"; failed $s; }
    tail -n 3 "$stage/mel.log" | tee -a "$stage/session.log"
fi

if [ -f "$run/mel/export/model.safetensors" ] && [ "$(left)" -gt "$min_s" ]; then
    dec_s=$(($(left) - ${RESERVE_S:-110} / 2))
    note "decoder: $dec_s s"
    "$py" -m voicemend.plugin.cli train decoder --init "${DECODER_INIT:-checkpoints/mel-decoder}" \
        --predictor "$run/mel/export" --gan-start 0 --device "${DEVICE:-cuda}" --batch-size "${DECODER_BATCH:-16}" \
        --hours "$("$py" -c "print($dec_s / 3600)")" --data "$run/audio" --out "$run/mel-decoder" \
        >"$stage/decoder.log" 2>&1 || { s=$?; note "decoder ended with status $s"; failed $s; }
    cp "$run/mel-decoder/log.jsonl" "$stage/decoder-log.jsonl" 2>/dev/null || true
    if [ -f "$run/mel-decoder/export/model.safetensors" ]; then
        mkdir -p "$stage/mel-decoder"
        cp "$run/mel-decoder/export/config.json" "$stage/mel-decoder/"
        "$py" -c "import sys, pathlib; from voicemend.engine.models.shipped import copy_weights; \
copy_weights(*map(pathlib.Path, sys.argv[1:3]), 'float16')" \
            "$run/mel-decoder/export/model.safetensors" "$stage/mel-decoder/model.safetensors"
    fi
else
    note "decoder: skipped (no new predictor, or under $min_s s left)"
fi

# The predictor's pieces travel on their own; everything else in one archive.
for part in "$stage"/mel/model-fp16.safetensors.part-*; do
    [ -e "$part" ] && mv "$part" "$result/predictor-$(basename "$part")"
done
note "packing; $(left) s left"
tar -czf "$result/session.tar.gz" -C "$stage" .
ls -la "$result"
exit "$status"
