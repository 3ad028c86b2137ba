#!/usr/bin/env bash
# Build the sdist, the wheel and the one-folder desktop bundle, then check each from outside the
# source tree: the wheel in a clean venv, the bundled CLI on the bundled example, and the bundled
# editor under Xvfb (it saves a screenshot of its window). `make dist` runs this.
#   OUT=dist (results), WORK=build/installer (venvs, PyInstaller's work folder)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
OUT=$ROOT/${OUT:-dist}
WORK=$ROOT/${WORK:-build/installer}
TORCH_SPEC="torch==2.13.0"
PYINSTALLER_SPEC="pyinstaller==6.22.*"
log() { printf '\n== %s\n' "$*"; }

# System packages: Qt's X11 libraries and PortAudio (scripts/setup.sh), Xvfb for the editor check.
bash scripts/setup.sh >/dev/null
if ! command -v xvfb-run >/dev/null 2>&1; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb xauth >/dev/null
fi

rm -rf "$OUT" "$WORK"
mkdir -p "$OUT" "$WORK/check"

log "sdist and wheel (python -m build)"
"$PYTHON" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/pip" install -q --upgrade pip build
"$WORK/build-venv/bin/python" -m build --outdir "$OUT" . >"$WORK/build.log" 2>&1 || {
  tail -30 "$WORK/build.log"
  exit 1
}
WHEEL=$(ls "$OUT"/voicemend-*.whl)
ls -l "$OUT"

log "the wheel in a clean venv (CPU torch first, so pip keeps it)"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --upgrade pip
"$WORK/venv/bin/pip" install -q "$TORCH_SPEC"
"$WORK/venv/bin/pip" install -q "$WHEEL"
cd "$WORK/check"  # outside the source tree: nothing can come from the checkout
EXAMPLE=$("$WORK/venv/bin/python" -c "from voicemend.plugin.demo import example_path; print(example_path())")
[[ $EXAMPLE == "$WORK/venv/"* ]] || { echo "the example did not come from the wheel: $EXAMPLE"; exit 1; }
"$WORK/venv/bin/voicemend" repair "$EXAMPLE" -o wheel-repaired.wav --region 1.0:1.2
"$WORK/venv/bin/voicemend" models list
test -s wheel-repaired.wav
cd "$ROOT"

log "the desktop bundle (PyInstaller)"
"$WORK/venv/bin/pip" install -q "$PYINSTALLER_SPEC"
started=$(date +%s)
"$WORK/venv/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$OUT/bundle" \
  --workpath "$WORK/pyinstaller" installer/voicemend.spec
echo "bundle built in $(($(date +%s) - started)) s"
BUNDLE=$OUT/bundle/voicemend

log "the bundled CLI, from outside the source tree"
cd "$WORK/check"
BUNDLED_EXAMPLE=$(find "$BUNDLE" -name LJ001-0001.flac | head -1)
[[ -n $BUNDLED_EXAMPLE ]] || { echo "the example is missing from the bundle"; exit 1; }
"$BUNDLE/voicemend" info "$BUNDLED_EXAMPLE"
"$BUNDLE/voicemend" repair "$BUNDLED_EXAMPLE" -o bundle-repaired.wav --region 1.0:1.2
test -s bundle-repaired.wav
# M4A out and back in: PyAV and the FFmpeg libraries it carries made it into the bundle
"$BUNDLE/voicemend" repair "$BUNDLED_EXAMPLE" -o bundle-repaired.m4a --region 1.0:1.2
"$BUNDLE/voicemend" info bundle-repaired.m4a | grep -q AAC
"$BUNDLE/voicemend" presets

log "the bundled editor under Xvfb"
XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache QT_QPA_PLATFORM=xcb \
  xvfb-run -a -s "-screen 0 1400x900x24" \
  "$BUNDLE/voicemend-editor" "$BUNDLED_EXAMPLE" --screenshot "$OUT/bundle-editor.png"
test -s "$OUT/bundle-editor.png"
cd "$ROOT"

log "sizes"
{
  echo "wheel: $(du -h "$WHEEL" | cut -f1) ($(basename "$WHEEL"))"
  echo "sdist: $(du -h "$OUT"/voicemend-*.tar.gz | cut -f1)"
  echo "bundle folder: $(du -sh "$BUNDLE" | cut -f1)"
  echo "largest parts of the bundle:"
  du -sh "$BUNDLE"/_internal/* | sort -rh | head -8
} | tee "$OUT/SIZES.txt"
echo "built: $OUT (bundle in $BUNDLE, editor screenshot $OUT/bundle-editor.png)"
