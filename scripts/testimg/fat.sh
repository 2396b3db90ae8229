#!/usr/bin/env bash
# Builds the FAT test images used by scanner/src/fs/fat/tests:
#   .cache/images/fat12.img, fat16.img, fat32.img, fat32-small.img (undersized FAT32)
# Each holds the same generated tree: long names (LFN), unicode names, a deep path, a directory
# with more entries than fit in one cluster, a multi-MiB pseudo-random file, an empty file, and a
# volume label. No mount needed (mkfs.fat + mtools). Deterministic: fixed volume id, fixed
# timestamps, content from a seeded generator. Idempotent: skipped when the images exist and were
# built by this exact script (a stamp holds the script's sha256).
set -euo pipefail
export LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 TZ=UTC
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/.cache/images"
mkdir -p "$out"
stamp="$out/fat.stamp"
want=$(sha256sum "$0" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $out/fat12.img && -f $out/fat16.img && -f $out/fat32.img && -f $out/fat32-small.img ]]; then
  exit 0
fi
tmp=$(mktemp -d "$out/fat.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tree="$tmp/tree"
mkdir -p "$tree"

# Pseudo-random bytes from a fixed seed (deterministic).
prng() { # prng SEED BYTES FILE
  python3 - "$1" "$2" "$3" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
open(sys.argv[3], "wb").write(r.randbytes(int(sys.argv[2])))
PY
}

echo "hello from vigie" > "$tree/README.TXT"
: > "$tree/empty.dat"
echo "a file with a long name" > "$tree/This is a rather long file name.txt"
echo "unicode" > "$tree/café-ñandú-日本語.txt"
echo "eicar-free test" > "$tree/Straße £99.txt"
mkdir -p "$tree/deep/level2/level3/level4/level5/level6/level7/level8"
echo "deep" > "$tree/deep/level2/level3/level4/level5/level6/level7/level8/bottom file.txt"
mkdir -p "$tree/many"
for i in $(seq -w 1 150); do echo "file $i" > "$tree/many/entry number $i with a long name.txt"; done
mkdir -p "$tree/Données médicales"
prng 42 $((3 * 1024 * 1024 + 4321)) "$tree/Données médicales/random.bin"
prng 7 70000 "$tree/deep/level2/small random.bin"
find "$tree" -exec touch -h -d '2024-03-05 12:34:56' {} +

build() { # build NAME FATBITS SIZE_KIB SECTORS_PER_CLUSTER LABEL
  local img="$tmp/$1.img"
  truncate -s "$3K" "$img"
  mkfs.fat -F "$2" -s "$4" -n "$5" -i 12345678 --invariant "$img" >/dev/null
  # Copy the tree's top level entries one by one (mcopy -s recurses into directories).
  local f
  for f in "$tree"/*; do
    mcopy -s -m -i "$img" "$f" ::/
  done
  mv "$img" "$out/$1.img"
}
# An undersized FAT32: mkfs.fat -F 32 on 16 MiB gives about 32 000 clusters, under the 65 525
# the specification asks; Linux reads it as FAT32 (16-bit FAT size 0). mtools decides by the
# cluster count (it would see an empty FAT16), so the tree goes in through a temporarily larger
# sector count, then the real one (mkfs.fat's, in the 16-bit field) is put back.
build_small32() {
  local img="$tmp/fat32-small.img" f
  truncate -s 16M "$img"
  mkfs.fat -F 32 -s 1 -n VIGIE-SMALL -i 12345678 --invariant "$img" >/dev/null 2>&1
  python3 - "$img" enlarge <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b"); b = bytearray(f.read(512))
open(sys.argv[1] + ".bpb", "wb").write(b)
struct.pack_into("<H", b, 0x13, 0); struct.pack_into("<I", b, 0x20, 200000)
f.seek(0); f.write(b)
PY
  for f in "$tree"/*; do
    mcopy -s -m -i "$img" "$f" ::/
  done
  python3 - "$img" <<'PY'
import sys
real = open(sys.argv[1] + ".bpb", "rb").read()
f = open(sys.argv[1], "r+b"); b = bytearray(f.read(512))
b[0x13:0x15] = real[0x13:0x15]; b[0x20:0x24] = real[0x20:0x24]
f.seek(0); f.write(b)
PY
  rm "$img.bpb"
  fsck.fat -n "$img" >/dev/null
  mv "$img" "$out/fat32-small.img"
}
build fat12 12 6000 4 VIGIE-FAT12
build fat16 16 12000 1 VIGIE-FAT16
build fat32 32 40000 1 VIGIE-FAT32
build_small32
echo "$want" > "$stamp"
