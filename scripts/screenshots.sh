#!/usr/bin/env bash
# Render the editor's README screenshots into docs/screenshots under a virtual X display (Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v xvfb-run >/dev/null 2>&1; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "screenshots: installing xvfb"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb xauth >/dev/null
fi
# The settings written by this run stay out of the user's own editor settings.
XDG_CONFIG_HOME=$(mktemp -d) XDG_CACHE_HOME=$(mktemp -d) QT_QPA_PLATFORM=xcb \
  xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py "${1:-docs/screenshots}"
