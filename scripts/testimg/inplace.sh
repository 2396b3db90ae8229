#!/usr/bin/env bash
# Builds the host images of scanner/tests/containers/in_place_hosts.rs (issue 13: containers
# larger than the full-scan limit opened in place through the walker's mapped device): each
# holds big.iso, a 66 MiB ISO 9660 (genisoimage -J, EICAR at zz/eicar.com, the rest
# pseudo-random), written by the filesystem's own tools:
#   ext4.img       mke2fs -d (extents, contiguous), plus sparse.bin (holes)
#   ext4-frag.img  debugfs write into a full volume with every other 256 KiB file removed
#                  (hundreds of extents, an extent tree with index nodes), plus prealloc.bin
#                  (debugfs fallocate: uninitialised extents, then holes up to its size)
#   ext2-frag.img  the same on ext2 with 1 KiB blocks (block maps up to triple indirect)
#   fat12.img fat16.img  mkfs.fat + mcopy (contiguous chains)
#   fat32-frag.img       mkfs.fat + mcopy into a full volume with every other file deleted
#   exfat.img      mkfs.exfat + exfat-fuse (NoFatChain), plus vdl.bin (2 MiB, its
#                  ValidDataLength cut to 1,500,000 bytes)
#   exfat-frag.img mkfs.exfat + exfat-fuse into a full volume with every other file deleted
#                  (FAT chain)
#   {ext4,ext2,fat12,fat32,exfat}-small.img  a.bin (3 MiB) and b.bin (1.2 MiB; exFAT: its
#                  ValidDataLength cut to 1,000,000) written into freed holes: the mutation tests'
#                  images
#   big.iso        the ISO itself, and <image>.frags: how many pieces big.iso has on each host,
#                  as the tools themselves report it (debugfs blocks, mshowfat; exFAT: the FAT
#                  read by a few lines of Python here); ext: .depth (extent tree depth) and
#                  .uninit (uninitialised extents of prealloc.bin)
# Usage: inplace.sh OUT_DIR. Needs root (loop device and FUSE mount of the exFAT TEST images
# only). Idempotent: skipped when OUT_DIR holds images of this exact script (a stamp).
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC MTOOLS_SKIP_CHECK=1
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: inplace.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd) # absolute: the script works from a temporary directory
exec 9>"$out/.lock"
flock 9
stamp="$out/stamp"
want=$(cat "$0" "$root/scripts/testimg/exfat_vdl.py" | sha256sum | cut -d' ' -f1)
[[ -f $stamp && $(cat "$stamp") == "$want" ]] && exit 0
for t in genisoimage mke2fs debugfs e2fsck mkfs.fat fsck.fat mcopy mdel mshowfat mkfs.exfat \
  fsck.exfat mount.exfat-fuse losetup blockdev python3; do
  command -v "$t" >/dev/null || { echo "inplace.sh: $t missing (scripts/install-deps)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "inplace.sh: needs root (FUSE mount of a test image)" >&2; exit 1; }
rm -f "$stamp"
tmp=$(mktemp -d "$out/tmp.XXXXXX")
mnt="$tmp/mnt"
mkdir -p "$mnt"
loop=""
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

eicar() { printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR' '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'; }
prng() { # prng SEED BYTES: deterministic pseudo-random bytes
  python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(int(sys.argv[1])).randbytes(int(sys.argv[2])))' "$1" "$2"
}

mkdir -p iso/zz src
prng 1 $((66 * 1024 * 1024)) >iso/filler.bin
eicar >iso/zz/eicar.com
genisoimage -quiet -J -o big.iso iso
rm -rf iso
# Not zeros: debugfs would store a file of zeros as one hole.
prng 5 $((256 * 1024)) >fill.bin
# pieces IMAGE PATH: how many runs of consecutive blocks debugfs lists for PATH.
pieces() {
  debugfs -R "blocks $2" "$1" 2>/dev/null |
    awk '{ for (i = 1; i <= NF; i++) { if ($i != prev + 1) n++; prev = $i } } END { print n + 0 }'
}

# ---- ext4 / ext2 ----------------------------------------------------------------------------
cp big.iso src/big.iso
truncate -s 3M src/sparse.bin
prng 2 300000 | dd of=src/sparse.bin bs=4096 seek=300 conv=notrunc status=none
mke2fs -q -F -t ext4 -d src ext4.img 128M
rm -rf src
pieces ext4.img /big.iso >ext4.img.frags

ext_frag() { # ext_frag NAME TYPE BLOCK_SIZE
  local img=$1.img i
  truncate -s 160M "$img"
  mke2fs -q -F -m 0 -N 2048 -t "$2" -b "$3" "$img"
  # 140 MiB of 256 KiB files (about 10 MiB left at the end), every other one removed.
  for i in $(seq -w 1 560); do echo "write fill.bin f$i"; done >cmds
  debugfs -w -f cmds "$img" >/dev/null 2>&1
  for i in $(seq -w 2 2 560); do echo "rm f$i"; done >cmds
  debugfs -w -f cmds "$img" >/dev/null 2>&1
  prng 3 $((1024 * 1024)) >prealloc.bin
  {
    echo "write big.iso big.iso"
    echo "write prealloc.bin prealloc.bin"
    # Blocks of 1..2 MiB uninitialised, 2..4 MiB holes, size 4 MiB.
    echo "fallocate prealloc.bin $((1048576 / $3)) $((2097152 / $3 - 1))"
    echo "sif prealloc.bin size 4194304"
  } >cmds
  debugfs -w -f cmds "$img" >/dev/null 2>&1
  pieces "$img" /big.iso >"$img.frags"
  # Extent tree depth of big.iso (the second field of debugfs' "Level" column), 0 on ext2.
  debugfs -R "ex /big.iso" "$img" 2>/dev/null | awk 'NR == 2 { print $2 + 0 } END { if (NR < 2) print 0 }' >"$img.depth"
  debugfs -R "ex /prealloc.bin" "$img" 2>/dev/null | grep -c 'Uninit' >"$img.uninit" || true
  debugfs -R "stat /big.iso" "$img" 2>/dev/null | grep -q "Size: $(stat -c %s big.iso)" ||
    { echo "inplace.sh: debugfs did not write all of big.iso into $img" >&2; exit 1; }
}
ext_frag ext4-frag ext4 4096
ext_frag ext2-frag ext2 1024
rm -f cmds prealloc.bin

# ---- FAT ------------------------------------------------------------------------------------
fat_plain() { # fat_plain NAME FATBITS SECTORS_PER_CLUSTER
  truncate -s 100M "$1.img"
  mkfs.fat -F "$2" -s "$3" -n "VIGIE$2" "$1.img" >/dev/null
  mcopy -i "$1.img" big.iso ::big.iso
  mshowfat -i "$1.img" ::big.iso | grep -o '<[0-9-]*>' | wc -l >"$1.img.frags"
}
fat_plain fat12 12 64
fat_plain fat16 16 4
truncate -s 160M fat32-frag.img
mkfs.fat -F 32 -s 2 -n VIGIE32 fat32-frag.img >/dev/null
mkdir fill
for i in $(seq -w 1 680); do ln fill.bin "fill/f$i"; done
mcopy -i fat32-frag.img fill/* :: >/dev/null 2>&1 || true
mdel -i fat32-frag.img $(for i in $(seq -w 2 2 680); do echo "::f$i"; done) 2>/dev/null || true
mcopy -i fat32-frag.img big.iso ::big.iso
mshowfat -i fat32-frag.img ::big.iso | grep -o '<[0-9-]*>' | wc -l >fat32-frag.img.frags

# ---- exFAT (through exfat-fuse on a loop device) --------------------------------------------
mount_rw() {
  loop=$(losetup -f --show "$1")
  [ "$(blockdev --getro "$loop")" = 0 ] || blockdev --setrw "$loop"
  mount.exfat-fuse "$loop" "$mnt" >/dev/null
}
unmount() { umount "$mnt"; losetup -d "$loop"; loop=""; }
exfat_frags() { # exfat_frags IMAGE NAME: pieces of root file NAME (1 for NoFatChain)
  python3 - "$1" "$2" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb"); b = f.read(512)
bps = 1 << b[108]; cs = bps << b[109]
fat = struct.unpack_from("<I", b, 80)[0] * bps
heap = struct.unpack_from("<I", b, 88)[0] * bps
def link(c):
    f.seek(fat + 4 * c); return struct.unpack("<I", f.read(4))[0]
data = bytearray(); c = struct.unpack_from("<I", b, 96)[0]
while c < 0xFFFFFFF7:
    f.seek(heap + (c - 2) * cs); data += f.read(cs); c = link(c)
i = 0
while i < len(data) and data[i]:
    if data[i] == 0x85:
        n, st = data[i + 1], i + 32
        units = b"".join(data[st + 32 * k + 2: st + 32 * k + 32] for k in range(1, n))
        if units[: 2 * data[st + 3]].decode("utf-16-le") == sys.argv[2]:
            flags, = struct.unpack_from("<B", data, st + 1)
            first, size = struct.unpack_from("<IQ", data, st + 20)
            if flags & 2:
                print(1); sys.exit(0)
            pieces, c = 1, first
            for _ in range(-(-size // cs) - 1):
                n2 = link(c)
                pieces += n2 != c + 1; c = n2
            print(pieces); sys.exit(0)
        i += 32 * (n + 1); continue
    i += 32
sys.exit("exfat_frags: %s not found" % sys.argv[2])
PY
}
truncate -s 100M exfat.img
mkfs.exfat -c 4K -L VIGIE-BIG exfat.img >/dev/null
mount_rw exfat.img
cp big.iso "$mnt/big.iso"
prng 4 $((2 * 1024 * 1024)) >"$mnt/vdl.bin"
unmount
python3 "$root/scripts/testimg/exfat_vdl.py" exfat.img vdl.bin 1500000
exfat_frags exfat.img big.iso >exfat.img.frags
truncate -s 160M exfat-frag.img
mkfs.exfat -c 4K -L VIGIE-FRAG exfat-frag.img >/dev/null
mount_rw exfat-frag.img
cp fill/* "$mnt/" 2>/dev/null || true
for i in $(seq -w 2 2 680); do rm -f "$mnt/f$i"; done
cp big.iso "$mnt/big.iso"
unmount
exfat_frags exfat-frag.img big.iso >exfat-frag.img.frags
rm -rf fill

# ---- small images for the mutation tests: a.bin (3 MiB) and b.bin (1.2 MiB), fragmented ----
prng 6 $((3 * 1024 * 1024 + 123)) >a.bin
prng 7 $((1200 * 1024)) >b.bin
prng 8 $((64 * 1024)) >hole.bin
mkdir holes
for i in $(seq -w 1 600); do ln hole.bin "holes/h$i"; done
small_ext() { # small_ext NAME TYPE BLOCK_SIZE
  truncate -s 12M "$1.img"
  mke2fs -q -F -m 0 -N 512 -O ^has_journal -t "$2" -b "$3" "$1.img"
  for i in $(seq -w 1 150); do echo "write hole.bin h$i"; done >cmds
  debugfs -w -f cmds "$1.img" >/dev/null 2>&1
  for i in $(seq -w 2 2 150); do echo "rm h$i"; done >cmds
  printf '%s\n' "write a.bin a.bin" "write b.bin b.bin" >>cmds
  debugfs -w -f cmds "$1.img" >/dev/null 2>&1
  pieces "$1.img" /a.bin >"$1.img.frags"
}
small_ext ext4-small ext4 4096
small_ext ext2-small ext2 1024
small_fat() { # small_fat NAME FATBITS SECTORS_PER_CLUSTER SIZE
  truncate -s "$4" "$1.img"
  mkfs.fat -F "$2" -s "$3" "$1.img" >/dev/null 2>&1
  mcopy -i "$1.img" holes/* :: >/dev/null 2>&1 || true
  mdel -i "$1.img" $(for i in $(seq -w 2 2 600); do echo "::h$i"; done) 2>/dev/null || true
  mcopy -i "$1.img" a.bin b.bin ::
  mshowfat -i "$1.img" ::a.bin | grep -o '<[0-9-]*>' | wc -l >"$1.img.frags"
}
small_fat fat12-small 12 8 12M
small_fat fat32-small 32 1 36M
truncate -s 12M exfat-small.img
mkfs.exfat -c 4K exfat-small.img >/dev/null
mount_rw exfat-small.img
cp holes/* "$mnt/" 2>/dev/null || true
for i in $(seq -w 2 2 300); do rm -f "$mnt/h$i"; done
cp a.bin b.bin "$mnt/"
unmount
python3 "$root/scripts/testimg/exfat_vdl.py" exfat-small.img b.bin 1000000
exfat_frags exfat-small.img a.bin >exfat-small.img.frags
rm -rf holes hole.bin a.bin b.bin cmds fill.bin

# Every image as its filesystem's checker sees it: clean.
for img in ext4.img ext4-frag.img ext2-frag.img ext4-small.img ext2-small.img; do e2fsck -fn "$img" >/dev/null; done
for img in fat12.img fat16.img fat32-frag.img fat12-small.img fat32-small.img; do fsck.fat -n "$img" >/dev/null; done
fsck.exfat -n exfat.img >/dev/null
fsck.exfat -n exfat-frag.img >/dev/null
fsck.exfat -n exfat-small.img >/dev/null
for img in *.img; do mv "$img" "$img".* "$out/"; done
mv big.iso "$out/"
echo "$want" >"$stamp"
