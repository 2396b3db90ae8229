#!/usr/bin/env bash
# Builds the NTFS feature test image for the NTFS reader's differential tests.
#
#   scripts/testimg/ntfs.sh [OUT.img [features|mftlist]]
#                          (default: .cache/images/ntfs-features.img, features)
#
# `mftlist`: a 24 MiB volume with 512-byte clusters whose free space is combed into 1 KiB
# holes before thousands of small files grow the MFT into them: `$MFT` ends up so fragmented
# that it needs an attribute list (the ntfs crate's upstream bug #32), and the directory `d`'s
# own index is split over extension records too. The reader must read it whole.
#
# mkntfs makes a 64 MiB volume (4 KiB clusters, so LZNT1 compression units are 64 KiB), then an
# ntfs-3g FUSE mount fills it: plain, big (> 16 MiB), deep, unicode, hard-linked, sparse,
# preallocated, compressed (text, random, mixed, with holes, EICAR across a unit boundary),
# alternate data streams (text, binary, Zone.Identifier, on a directory), many files in one
# directory, an EFS-flagged file and a fake hibernation file. Random data comes from AES-CTR
# over zeros with a fixed key: the same bytes on every run. Needs root (FUSE), ntfs-3g and
# `attr` (setfattr). Idempotent: skipped when OUT exists and was built by this same script.
set -euo pipefail
# shellcheck source=../lib/images.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/images.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.cache/images/ntfs-features.img}"
kind="${2:-features}"
script_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
stamp="$out.script-sha256"
script_hash="$script_hash-$kind"

if [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$script_hash" ]]; then
    echo "ntfs.sh: $out is up to date"
    exit 0
fi

for tool in mkntfs ntfs-3g setfattr openssl fusermount; do
    command -v "$tool" >/dev/null || { echo "ntfs.sh: missing $tool" >&2; exit 1; }
done

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
mnt="$(mktemp -d)"
cleanup() {
    fuse_release "$mnt"
    rm -f "$tmp"
}
trap cleanup EXIT

# rnd SEED BYTES: deterministic pseudo-random bytes.
rnd() {
    local key
    key="$(printf '%s' "$1" | sha256sum | cut -c1-32)"
    head -c "$2" /dev/zero | openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000
}
# txt LINES: compressible text.
txt() {
    local i
    for ((i = 0; i < $1; i++)); do
        printf 'line %06d: the quick brown fox jumps over the lazy dog, vigie ntfs test\n' "$i"
    done
}
# The EICAR test string, split so that this script itself is not flagged.
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$'"EICAR-STANDARD-ANTIVIRUS"'-TEST-FILE!$H+H*'

if [[ "$kind" == mftlist ]]; then
    echo "+ mkntfs (512-byte clusters)"
    truncate -s 24M "$tmp"
    mkntfs -F -Q -q -c 512 -L vigie-mftlist "$tmp"
    ntfs-3g "$tmp" "$mnt"
    # Let the data zone fill up to the MFT zone, then comb the free space.
    dd if=/dev/zero of="$mnt/big" bs=1M status=none 2>/dev/null || true
    rm -f "$mnt/big"
    mkdir "$mnt/d"
    i=0
    while ((i < 12000)) && head -c 1000 /dev/zero >"$mnt/d/c$i" 2>/dev/null; do i=$((i + 1)); done
    for ((j = 0; j < i; j += 2)); do rm -f "$mnt/d/c$j"; done
    # Small (resident) files only grow the MFT, into the 1 KiB holes.
    k=0
    while ((k < 12000)) && printf 'xxxxxxxxxx' >"$mnt/d/r$k" 2>/dev/null; do k=$((k + 1)); done
    rm -f "$mnt/d/r$k"
    sync
    fusermount -u "$mnt"
    mv "$tmp" "$out"
    echo "$script_hash" >"$stamp"
    echo "ntfs.sh: wrote $out ($i combed, $k small files)"
    exit 0
fi

echo "+ mkntfs"
truncate -s 64M "$tmp"
mkntfs -F -Q -q -c 4096 -L vigie-ntfs "$tmp"
echo "+ ntfs-3g mount"
ntfs-3g -o streams_interface=windows "$tmp" "$mnt"
m="$mnt"

# Plain files.
printf 'hello ntfs\n' >"$m/small.txt"
: >"$m/empty"
mkdir "$m/plain"
rnd plain1 3000 >"$m/plain/random-3000.bin"
rnd plain2 $((2 * 1024 * 1024 + 123)) >"$m/plain/random-2M.bin"
rnd plain3 $((17 * 1024 * 1024 + 4321)) >"$m/plain/big-17M.bin"
txt 20 >"$m/plain/resident.txt"

# Deep path.
deep="$m/deep"
for d in a b c d e f g h i j k l m n o p; do deep="$deep/$d"; done
mkdir -p "$deep"
printf 'deep file\n' >"$deep/deep.txt"

# Unicode names (BMP and a surrogate pair).
mkdir "$m/unicode"
printf 'cafe\n' >"$m/unicode/café-日本語-Ωmega.txt"
printf 'smile\n' >"$m/unicode/😀 emoji.txt"

# Hard links (one content, three names, two directories).
mkdir "$m/links" "$m/links2"
txt 300 >"$m/links/orig.txt"
ln "$m/links/orig.txt" "$m/links/link1.txt"
ln "$m/links/orig.txt" "$m/links2/link2.txt"

# Alternate data streams.
mkdir "$m/ads"
printf 'host content\n' >"$m/ads/host.txt"
printf 'a text stream\n' >"$m/ads/host.txt:notes"
rnd ads1 5000 >"$m/ads/host.txt:binary"
printf '[ZoneTransfer]\r\nZoneId=3\r\n' >"$m/ads/host.txt:Zone.Identifier"
rnd ads2 70000 >"$m/ads/host.txt:bigstream"
printf 'stream on a directory\n' >"$m/ads:dirstream" || echo "ntfs.sh: no ADS on a directory"

# Sparse files: data after a big hole, and a file that is all hole.
mkdir "$m/sparse"
printf 'start' >"$m/sparse/hole.bin"
printf 'after the hole' | dd of="$m/sparse/hole.bin" bs=1 seek=$((40 * 1024 * 1024)) conv=notrunc status=none
truncate -s 10M "$m/sparse/all-hole.bin"
printf 'tail' | dd of="$m/sparse/middle.bin" bs=1 seek=300000 conv=notrunc status=none

# Preallocated (initialized size < data size, if ntfs-3g does it).
printf 'initialised head' >"$m/prealloc.bin"
fallocate -l $((1024 * 1024)) "$m/prealloc.bin" 2>/dev/null || truncate -s 1M "$m/prealloc.bin"

# Compressed directory: files created inside inherit LZNT1 compression.
mkdir "$m/comp"
setfattr -n system.ntfs_attrib_be -v 0x00000810 "$m/comp"
txt 5000 >"$m/comp/text.txt"
rnd comp1 200000 >"$m/comp/random.bin"
{ txt 1000; rnd comp2 100000; txt 2000; } >"$m/comp/mixed.bin"
txt 100 >"$m/comp/holes.bin"
printf 'after hole' | dd of="$m/comp/holes.bin" bs=1 seek=$((500 * 1024)) conv=notrunc status=none
printf 'tail' | dd of="$m/comp/holes.bin" bs=1 seek=$((3 * 1024 * 1024)) conv=notrunc status=none
# EICAR across the first compression-unit boundary (64 KiB), surrounded by compressible text.
f="$m/comp/eicar-across-units.txt"
txt 1000 >"$f"
truncate -s $((65536 - 30)) "$f"
{ printf '%s' "$eicar"; txt 1000; } >>"$f"
txt 10 >"$m/comp/small.txt"
: >"$m/comp/empty"

# Many files in one directory (index allocation).
mkdir "$m/many"
for ((i = 0; i < 600; i++)); do printf 'file %d\n' "$i" >"$m/many/f$(printf %04d "$i")"; done

# EFS flag (ntfs-3g only sets the attribute bit; the reader must skip the file).
printf 'pretend ciphertext\n' >"$m/efs.txt"
setfattr -n system.ntfs_attrib_be -v 0x00004020 "$m/efs.txt" 2>/dev/null || echo "ntfs.sh: EFS flag refused"

# WOF (CompactOS) file: IO_REPARSE_TAG_WOF reparse point + WofCompressedData stream; the reader
# must report it as skipped (ntfs-3g shows it as an unsupported reparse point).
mkdir "$m/wof"
printf 'wof placeholder' >"$m/wof/wof.txt"
printf 'xpress data' >"$m/wof/wof.txt:WofCompressedData"
setfattr -n system.ntfs_reparse_data -v 0x170000801000000001000000020000000100000000000000 "$m/wof/wof.txt"
# A Windows symlink (IO_REPARSE_TAG_SYMLINK, relative target "t.txt"): not a file to scan.
printf 'placeholder' >"$m/wof/winlink"
setfattr -n system.ntfs_reparse_data \
    -v 0x0c0000a02000000000000a000a000a000100000074002e0074007800740074002e00740078007400 \
    "$m/wof/winlink"

# A fake hibernation file: the reader must note "Windows was hibernated".
{ printf 'hibr'; head -c 8188 /dev/zero; } >"$m/hiberfil.sys"

sync
echo "+ unmount"
fusermount -u "$mnt"
mv "$tmp" "$out"
echo "$script_hash" >"$stamp"
echo "ntfs.sh: wrote $out"
