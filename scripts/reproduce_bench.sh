#!/usr/bin/env bash
# Re-run a committed quality bench from scratch and check it against the committed tables.
#   bash scripts/reproduce_bench.sh [NAME]     (default: quality-dev-quick)
# It runs the exact command recorded in bench/results/NAME/summary.json into NAME-repro (its own
# cache, so nothing is reused), then `voicemend bench compare --check`: the exit status is 1 if any
# mean differs from the committed one by more than their 95% confidence intervals.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
name=${1:-quality-dev-quick}
committed=bench/results/$name
[[ -f $committed/summary.json ]] || { echo "reproduce: $committed/summary.json not found" >&2; exit 2; }
read -r -a cmd < <(.venv/bin/python -c '
import json, sys
print(json.load(open(sys.argv[1]))["meta"]["command"])' "$committed/summary.json")
[[ ${cmd[0]} == voicemend && ${cmd[1]} == bench && ${cmd[2]} == quality ]] || {
  echo "reproduce: $committed was not made by voicemend bench quality" >&2; exit 2; }
rm -rf "bench/results/$name-repro"
.venv/bin/voicemend "${cmd[@]:1}" --name "$name-repro" --workers 2
.venv/bin/voicemend bench compare "$committed" "bench/results/$name-repro" --check
