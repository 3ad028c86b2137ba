#!/usr/bin/env bash
# Set up everything voicemend needs on a fresh Debian/Ubuntu machine: system packages, a virtual
# environment in .venv, the CPU build of torch 2.13.0 and voicemend itself with its test extras.
# Safe to run again: it skips the work when nothing it depends on has changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.voicemend-setup
TORCH_SPEC="torch==2.13.0"
# Debian packages: PortAudio for playback (sounddevice), libopus for the call codec that trains
# and benches the concealment detector, the libraries Qt needs offscreen, and the X11 (xcb) ones
# the editor needs on a desktop.
APT_PACKAGES=(libportaudio2 libopus0 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1)

want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" && -x $VENV/bin/voicemend ]]; then
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "setup: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "setup: no apt-get here; install PortAudio (libportaudio2) yourself for playback" >&2
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"setup: voicemend needs Python 3.10 or newer, found {sys.version.split()[0]}")
PY

[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip setuptools wheel
# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build. For a GPU build, set
# VOICEMEND_TORCH_INDEX to the PyTorch wheel index of your CUDA version (see README, "GPU").
if [[ -n ${VOICEMEND_TORCH_INDEX:-} ]]; then
  "${PIP[@]}" install "$TORCH_SPEC" --index-url "$VOICEMEND_TORCH_INDEX"
else
  "${PIP[@]}" install "$TORCH_SPEC"
fi
"${PIP[@]}" install -e ".[test,bench,ray]"
echo "$want" > "$STAMP"
echo "setup: ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
