#!/usr/bin/env bash
# The README's picture of Audacity after `voicemend audacity detect`: runs the end-to-end test
# against a real, headless Audacity and keeps a screenshot of it (needs: apt-get install audacity xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VOICEMEND_REQUIRE_AUDACITY=1 VOICEMEND_AUDACITY_SCREENSHOT=$PWD/docs/screenshots/audacity-detect.png \
  .venv/bin/python -m pytest -q tests/plugin/test_audacity_e2e.py -k detect
echo "wrote docs/screenshots/audacity-detect.png"
