#!/usr/bin/env bash
# Builds (and caches) the test disk of the quick scan (issue 14), with real tools: an MBR
# table (sfdisk) with one NTFS partition at 1 MiB (mkntfs + an ntfs-3g FUSE mount for the
# files, hivexsh from Debian libhivex-bin for the hives).
#
#   scripts/testimg/quick.sh OUT.img planted|clean
#
# What it holds:
#   Windows/System32/config/SOFTWARE   Run value "Updater" -> C:\Users\x\AppData\Roaming\Updater\update.dat
#   Users/x/NTUSER.DAT                 a user hive (Run value -> a missing file)
#   Windows/System32/Tasks/Refresh     scheduled task -> C:\Windows\System32\refresh.dat
#   Users/x/AppData/Roaming/Updater/update.dat  EICAR (planted) or plain text (clean): its
#                                      name and content are not "risky", only the Run key
#                                      makes the quick scan read it
#   Windows/System32/refresh.dat       EICAR (planted) or plain text (clean), outside the
#                                      high-risk areas: read because the task points to it
#   Program Files/App/tool.exe         EICAR in both variants, outside the high-risk areas and
#                                      pointed to by nothing: a quick scan does NOT read it
#   Users/x/Downloads/setup.exe        a clean "MZ" file: read (executable in a profile)
#   Users/x/Documents/scan.dcm, notes.txt   not read (not executable content)
# The base hive is nt-hive's test hive from cargo's registry sources (never copied into the
# repository), as in scanner/src/persist/tests.rs. Needs root (FUSE), mkntfs, ntfs-3g, hivexsh.
set -euo pipefail
# shellcheck source=../lib/images.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/images.sh"

out="${1:?usage: quick.sh OUT.img planted|clean}"
variant="${2:?usage: quick.sh OUT.img planted|clean}"
case "$variant" in planted | clean) ;; *) echo "quick.sh: variant planted|clean" >&2; exit 2 ;; esac
stamp="$out.script-sha256"
script_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)-$variant"
if [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$script_hash" ]]; then
    echo "quick.sh: $out is up to date"
    exit 0
fi
for tool in mkntfs ntfs-3g hivexsh fusermount sfdisk iconv; do
    command -v "$tool" >/dev/null || { echo "quick.sh: missing $tool" >&2; exit 1; }
done
base="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/nt-hive-0.3.0/testdata/testhive 2>/dev/null | head -1)"
[[ -n "$base" ]] || { echo "quick.sh: nt-hive's test hive not found (run cargo build first)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
vol="$out.vol.$$"
mnt="$(mktemp -d)"
work="$(mktemp -d)"
cleanup() {
    fuse_release "$mnt"
    rm -rf "$work" "$tmp" "$vol"
}
trap cleanup EXIT

hive() { # hive OUT SCRIPT
    cp "$base" "$1"
    chmod u+w "$1"
    printf '%s\ncommit\n' "$2" | hivexsh -w "$1" >/dev/null
}
hive "$work/SOFTWARE" 'add Microsoft
cd Microsoft
add Windows
cd Windows
add CurrentVersion
cd CurrentVersion
add Run
cd Run
setval 1
Updater
string:"C:\Users\x\AppData\Roaming\Updater\update.dat" /run'
hive "$work/NTUSER.DAT" 'add Software
cd Software
add Microsoft
cd Microsoft
add Windows
cd Windows
add CurrentVersion
cd CurrentVersion
add Run
cd Run
setval 1
Sync
string:%APPDATA%\Sync\sync.exe'

eicar() { printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR' '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'; }
planted() { if [[ "$variant" == planted ]]; then eicar; else printf 'cache v1\n'; fi; }

truncate -s 64M "$vol"
mkntfs -F -Q -q -L QUICK -p 2048 -H 16 -S 63 "$vol" 2>/dev/null
ntfs-3g "$vol" "$mnt"
mkdir -p "$mnt/Windows/System32/config" "$mnt/Windows/System32/Tasks" \
    "$mnt/Users/x/AppData/Roaming/Updater" "$mnt/Users/x/Downloads" "$mnt/Users/x/Documents" \
    "$mnt/Program Files/App"
cp "$work/SOFTWARE" "$mnt/Windows/System32/config/SOFTWARE"
cp "$work/NTUSER.DAT" "$mnt/Users/x/NTUSER.DAT"
printf '\xff\xfe' >"$mnt/Windows/System32/Tasks/Refresh"
printf '<?xml version="1.0" encoding="UTF-16"?><Task><Actions><Exec><Command>C:\\Windows\\System32\\refresh.dat</Command></Exec></Actions></Task>' |
    iconv -f UTF-8 -t UTF-16LE >>"$mnt/Windows/System32/Tasks/Refresh"
planted >"$mnt/Users/x/AppData/Roaming/Updater/update.dat"
planted >"$mnt/Windows/System32/refresh.dat"
eicar >"$mnt/Program Files/App/tool.exe"
{ printf 'MZ'; head -c 4000 /dev/zero; } >"$mnt/Users/x/Downloads/setup.exe"
{ head -c 128 /dev/zero; printf 'DICM'; head -c 2000 /dev/zero; } >"$mnt/Users/x/Documents/scan.dcm"
printf 'shopping list\n' >"$mnt/Users/x/Documents/notes.txt"
sync
fusermount -u "$mnt"
truncate -s 66M "$tmp"
echo 'start=2048, size=131072, type=7' | sfdisk -q "$tmp"
dd if="$vol" of="$tmp" bs=1M seek=1 conv=notrunc,sparse status=none
mv "$tmp" "$out"
echo "$script_hash" >"$stamp"
echo "quick.sh: built $out ($variant)"
