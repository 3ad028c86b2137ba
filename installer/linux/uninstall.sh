#!/usr/bin/env bash
# Remove what installer/linux/install.sh put in place (same PREFIX / XDG_DATA_HOME).
# Your settings (~/.config/voicemend) and recovery files (~/.cache/voicemend) are kept.
set -euo pipefail
PREFIX=${PREFIX:-$HOME/.local}
APP=$PREFIX/lib/voicemend
DATA=${XDG_DATA_HOME:-$PREFIX/share}
for link in "$PREFIX/bin/voicemend" "$PREFIX/bin/voicemend-editor"; do
  # only our own links: never a voicemend that pip installed there
  if [[ -L $link && $(readlink "$link") == "$APP/"* ]]; then rm -f "$link"; fi
done
rm -rf "$APP" "$APP.new"
rm -f "$DATA/applications/voicemend.desktop" "$DATA/icons/hicolor/scalable/apps/voicemend.svg" \
  "$DATA/mime/packages/voicemend-project.xml"
command -v update-mime-database >/dev/null && [[ -d $DATA/mime ]] && update-mime-database "$DATA/mime" || true
command -v update-desktop-database >/dev/null && [[ -d $DATA/applications ]] && update-desktop-database "$DATA/applications" || true
echo "removed voicemend from $PREFIX"
