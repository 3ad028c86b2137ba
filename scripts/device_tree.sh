#!/usr/bin/env bash
# What travels to a lent GPU machine is the working tree's tracked and not-ignored files, plus
# the paths a call carries, 64 MiB in all. The repository alone is about 63 MB (the shipped
# weights are 48 MB of it), so a call that also carries training audio hides what it does not
# need: untracked and ignored for the while, still on disk here, and put back afterwards.
#
#   bash scripts/device_tree.sh hide PATH...     untrack and ignore these (files stay on disk)
#   bash scripts/device_tree.sh size [CARRY...]  bytes that would travel, with these carried
#   bash scripts/device_tree.sh restore          track and un-ignore them again, as at HEAD
#
# For scripts/gpu_session.sh (only the mel models travel):
#   bash scripts/device_tree.sh hide bench docs checkpoints/decoder checkpoints/ift \
#       checkpoints/ipt checkpoints/pretrain engine/weights/decoder engine/weights/ift \
#       engine/weights/ipt-decoder engine/weights/ipt-encoder
#   bash scripts/device_tree.sh size .devcarry
# Restore before committing anything: while hidden, `git commit -a` would record the paths as
# deleted.
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=$(git rev-parse --git-path info/exclude)
hidden=$(git rev-parse --git-path device-hidden)
begin="# >>> hidden by scripts/device_tree.sh"
end="# <<< hidden by scripts/device_tree.sh"
limit=$((64 * 1024 * 1024))

case ${1:-} in
hide)
    shift
    [ $# -gt 0 ] || { echo "name the paths to hide" >&2; exit 2; }
    [ -e "$hidden" ] && { echo "paths are already hidden ($hidden); restore first" >&2; exit 1; }
    for path in "$@"; do
        [ -e "$path" ] || { echo "$path does not exist" >&2; exit 1; }
    done
    printf '%s\n' "$@" >"$hidden"
    mkdir -p "$(dirname "$exclude")"
    { echo "$begin"; for path in "$@"; do echo "/${path%/}"; done; echo "$end"; } >>"$exclude"
    git rm -r -q --cached -- "$@"
    echo "hidden: $*"
    ;;
restore)
    [ -e "$hidden" ] || { echo "nothing is hidden"; exit 0; }
    sed -i "\|^$begin\$|,\|^$end\$|d" "$exclude"
    mapfile -t paths <"$hidden"
    git reset -q HEAD -- "${paths[@]}"
    rm "$hidden"
    echo "restored: ${paths[*]}"
    git status --short -- "${paths[@]}"
    ;;
size)
    shift
    bytes=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -n 1 | cut -f1)
    carried=0
    for path in "$@"; do
        [ -e "$path" ] || { echo "$path does not exist" >&2; exit 1; }
        carried=$((carried + $(find "$path" -type f -print0 | du -cb --files0-from=- | tail -n 1 | cut -f1)))
    done
    total=$((bytes + carried))
    echo "tree $bytes + carried $carried = $total bytes of $limit ($((100 * total / limit)) %)"
    [ "$total" -le "$limit" ] || { echo "over the limit" >&2; exit 1; }
    ;;
*)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
