#!/usr/bin/env bash
# The checks that need a CUDA GPU: the GPU tests, the speed bench with GPU rows, CPU/GPU
# agreement, batched vs single-region repair, and a short measure of training speed.
#   bash scripts/gpu_check.sh [RESULTS_DIR] [SPEECH_DIR] [TRAIN_DIR]
# RESULTS_DIR defaults to bench/results, SPEECH_DIR to ../shared/data/speech (its dev split feeds
# the bench), TRAIN_DIR to SPEECH_DIR (its train split, or every file of a plain folder).
# METHODS (default lsar,neural,neural-ipt,neural-mel,hybrid) are the speed bench's, REPEATS (7) its
# timed calls per case; the tests and the agreement and batching checks take every neural method
# whose weights are present.
# TRAIN_SPEED=0 skips the training-speed measure (a training run reports its own).
# SPEED_ARGS are added to the speed bench's: "--devices cuda --no-podcast" times the neural
# methods on the GPU alone, without the podcast rows (on an H100 in 2026-11 the full bench with
# lsar, neural-mel and hybrid did not finish in 280 s: every row is a fresh process, and the
# podcast rows repair two minutes of 44.1 kHz stereo with each method on each device).
# CI has no GPU; run this by hand on a machine that has one.
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-bench/results}
speech=${2:-../shared/data/speech}
train=${3:-$speech}
py=${PYTHON:-python}
export PYTHONUNBUFFERED=1

"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print(torch.__version__, torch.cuda.get_device_name(0))"
status=0  # a failing test still lets the bench run; the script fails at the end
"$py" -m pytest -q -p no:cacheprovider -m gpu tests/engine/test_gpu.py || status=1
# The agreement and batching checks first: the speed bench takes longest, and a caller with a
# time limit (scripts/gpu_session.sh) would rather lose it.
mkdir -p "$results/speed-gpu"
"$py" scripts/gpu_agreement.py "$speech" | tee "$results/speed-gpu/agreement.txt"
"$py" scripts/gpu_batching.py "$speech" | tee "$results/speed-gpu/batching.txt"
"$py" -m voicemend.plugin.cli bench speed --data "$speech" \
    --methods "${METHODS:-lsar,neural,neural-ipt,neural-mel,hybrid}" --repeats "${REPEATS:-7}" \
    --minutes 2 --dropouts 20 --name speed-gpu --results "$results" ${SPEED_ARGS:-}

# Training speed: steps per second of the mel transformer recipe (DEVICES="cuda cpu" adds the
# CPU on one thread).
[ "${TRAIN_SPEED:-1}" = 0 ] && exit $status
runs=$(mktemp -d)
for device in ${DEVICES:-cuda}; do
    timeout 75 "$py" -m voicemend.plugin.cli train mel --data "$train" --out "$runs/$device" \
        --steps 100 --device "$device" --threads 1 >"$runs/$device.log" 2>&1 || true
    if "$py" - "$runs/$device/log.jsonl" "$device" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
if len(rows) >= 2:
    a, b = rows[0], rows[-1]
    rate = (b["step"] - a["step"]) / ((b["train_hours"] - a["train_hours"]) * 3600)
    print(f"train mel on {sys.argv[2]}: {rate:.2f} steps/s (steps {a['step']}..{b['step']})")
else:
    print(f"train mel on {sys.argv[2]}: too few logged steps to time; the end of its output:")
    sys.exit(1)
PY
    then :; else tail -n 5 "$runs/$device.log"; status=1; fi
done
exit $status
