#!/usr/bin/env bash
# The main job: set up if needed, then damage the bundled example, detect, repair and plot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/voicemend demo -o out/demo "$@"
