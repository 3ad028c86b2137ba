#!/usr/bin/env bash
# Install a built bundle for the current user (no root): the app under ~/.local/lib/voicemend,
# `voicemend` and `voicemend-editor` in ~/.local/bin, the menu entry, icon and MIME types.
#   bash installer/linux/install.sh [BUNDLE_DIR]   (default: dist/bundle/voicemend)
# Undo with installer/linux/uninstall.sh. PREFIX (default ~/.local) moves everything.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUNDLE=$(cd "${1:-$HERE/../../dist/bundle/voicemend}" 2>/dev/null && pwd) || {
  echo "install: no bundle at ${1:-dist/bundle/voicemend}; build it with 'make dist'" >&2
  exit 1
}
[[ -x $BUNDLE/voicemend && -x $BUNDLE/voicemend-editor ]] || {
  echo "install: $BUNDLE does not look like a voicemend bundle (no voicemend executables)" >&2
  exit 1
}
PREFIX=${PREFIX:-$HOME/.local}
APP=$PREFIX/lib/voicemend
DATA=${XDG_DATA_HOME:-$PREFIX/share}

mkdir -p "$PREFIX/bin" "$PREFIX/lib" "$DATA/applications" "$DATA/icons/hicolor/scalable/apps" "$DATA/mime/packages"
# Copy into a fresh folder, then swap, so a failed copy leaves the previous install working.
rm -rf "$APP.new"
cp -a "$BUNDLE" "$APP.new"
rm -rf "$APP"
mv "$APP.new" "$APP"
ln -sfn "$APP/voicemend" "$PREFIX/bin/voicemend"
ln -sfn "$APP/voicemend-editor" "$PREFIX/bin/voicemend-editor"
sed "s|^Exec=voicemend-editor|Exec=$PREFIX/bin/voicemend-editor|; s|^TryExec=voicemend-editor|TryExec=$PREFIX/bin/voicemend-editor|" \
  "$HERE/voicemend.desktop" >"$DATA/applications/voicemend.desktop"
cp "$HERE/../../gui/icons/voicemend.svg" "$DATA/icons/hicolor/scalable/apps/voicemend.svg"
cp "$HERE/voicemend-project.xml" "$DATA/mime/packages/voicemend-project.xml"
command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
echo "installed voicemend in $APP"
echo "commands: $PREFIX/bin/voicemend, $PREFIX/bin/voicemend-editor (menu: voicemend)"
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "note: add $PREFIX/bin to your PATH" ;; esac
