#!/usr/bin/env bash
# Builds the exFAT test images used by scanner/src/fs/exfat/ tests:
#   .cache/images/exfat.img            4 KiB clusters: nested and deep directories, long and
#                                      non-ASCII names, an empty file, contiguous (NoFatChain)
#                                      and fragmented (FAT-chained) files, 3000 files in one
#                                      directory, an EICAR file, a file whose ValidDataLength is
#                                      shorter than its size
#   .cache/images/exfat-64k.img        64 KiB clusters, a small tree
#   .cache/images/<name>.manifest.tsv  path, size, sha256 of every file, as a READ-ONLY mount
#                                      of the finished image shows them (the differential oracle)
# Made with exfatprogs' mkfs.exfat and filled through exfat-fuse (FUSE) on a loop device: this
# kernel has no exfat driver (`modprobe exfat` finds no module), FUSE works. Needs root (loop
# device, FUSE mount of the TEST image file only). Idempotent: skipped when the images exist and
# were built by this exact script (a stamp holds the script's sha256).
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/.cache/images"
mkdir -p "$out"
exec 9>"$out/.exfat.lock"
flock 9
stamp="$out/exfat.stamp"
want=$(sha256sum "$0" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $out/exfat.img && -f $out/exfat-64k.img &&
  -f $out/exfat.manifest.tsv && -f $out/exfat-64k.manifest.tsv ]]; then
  exit 0
fi
for t in mkfs.exfat fsck.exfat mount.exfat-fuse losetup blockdev python3 perl; do
  command -v "$t" >/dev/null || { echo "exfat.sh: $t missing (scripts/install-deps)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "exfat.sh: needs root (loop device + FUSE mount of a test image)" >&2; exit 1; }
tmp=$(mktemp -d "$out/exfat.tmp.XXXXXX")
mnt="$tmp/mnt"
mkdir -p "$mnt"
loop=""
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

eicar() { printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR' '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'; }
prng() { # prng SEED BYTES
  perl -e 'my ($n, $s) = @ARGV; srand($s); my $o = ""; $o .= chr(int(rand(256))) for 1 .. $n; print $o' "$2" "$1"
}

# A loop device keeps the read-only flag of its previous (read-only) use: clear it for a
# writable attach of the test image.
mount_rw() {
  loop=$(losetup -f --show "$1")
  [ "$(blockdev --getro "$loop")" = 0 ] || blockdev --setrw "$loop"
  mount.exfat-fuse "$loop" "$mnt" >/dev/null
}
mount_ro() { loop=$(losetup -r -f --show "$1"); mount.exfat-fuse -o ro "$loop" "$mnt" >/dev/null; }
unmount() { umount "$mnt"; losetup -d "$loop"; loop=""; }

# path<TAB>size<TAB>sha256 of every regular file under the mount, sorted by path.
manifest() {
  (cd "$mnt" && find . -type f -print0 | sort -z | while IFS= read -r -d '' f; do
    printf '%s\t%s\t%s\n' "${f#.}" "$(stat -c %s "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
  done)
}

fill_main() {
  local m=$1 i
  echo "hello from vigie" >"$m/README.TXT"
  : >"$m/empty.dat"
  echo "a file with a long name" >"$m/This is a rather long file name, longer than fifteen characters.txt"
  echo "unicode" >"$m/café-ñandú-日本語-Ελληνικά.txt"
  mkdir -p "$m/Données médicales/Radiologie/2024"
  echo "deep" >"$m/Données médicales/Radiologie/2024/compte-rendu.txt"
  mkdir -p "$m/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10"
  echo "bottom" >"$m/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/bottom file.txt"
  # A name of 255 UTF-16 units (17 name entries: the largest entry set).
  echo "max name" >"$m/$(printf 'n%.0s' $(seq 1 251)).txt"
  eicar >"$m/eicar.com"
  mkdir -p "$m/Users/Public"
  { prng 5 5000; eicar; prng 6 3000; } >"$m/Users/Public/embedded-eicar.bin"
  # Contiguous (NoFatChain) file written in one go.
  prng 42 $((3 * 1024 * 1024 + 4321)) >"$m/contiguous.bin"
  # Fragmentation: fill with one-cluster files, free every other, then grow two files in
  # turns so that their clusters interleave in the freed holes (FAT chains).
  mkdir -p "$m/frag"
  for i in $(seq 1 200); do prng "$i" 4096 >"$m/frag/hole$i"; done
  for i in $(seq 1 2 200); do rm "$m/frag/hole$i"; done
  for i in $(seq 1 60); do
    prng $((1000 + i)) 4000 >>"$m/frag/interleaved-a.bin"
    prng $((2000 + i)) 4500 >>"$m/frag/interleaved-b.bin"
  done
  prng 77 $((300 * 1024 + 17)) >"$m/frag/after-holes.bin"
  # The file whose ValidDataLength is cut below (see patch_vdl).
  prng 9 100000 >"$m/vdl.bin"
  # Thousands of files in one directory.
  mkdir -p "$m/many"
  for i in $(seq -w 1 3000); do echo "file $i" >"$m/many/entry number $i.txt"; done
  find "$m" -exec touch -h -d '2024-03-05 12:34:56' {} +
}

fill_small() {
  local m=$1
  echo "64k clusters" >"$m/readme.txt"
  mkdir -p "$m/sub/dir"
  prng 3 200000 >"$m/sub/dir/data.bin"
  : >"$m/sub/empty"
  eicar >"$m/sub/eicar.txt"
}

# Sets the ValidDataLength of root-directory file NAME to VDL bytes (fuse-exfat writes zeros
# and a full ValidDataLength when a file grows, so the state Windows and Linux leave after a
# preallocation is made here), recomputing the entry set's checksum.
patch_vdl() { # patch_vdl IMAGE NAME VDL
  python3 "$root/scripts/testimg/exfat_vdl.py" "$@"
}

build() { # build NAME SIZE CLUSTER LABEL FILL
  local img="$tmp/$1.img"
  truncate -s "$2" "$img"
  mkfs.exfat -c "$3" -L "$4" "$img" >/dev/null
  mount_rw "$img"
  "$5" "$mnt"
  unmount
  if [ "$1" = exfat ]; then patch_vdl "$img" vdl.bin 40000; fi
  fsck.exfat -n "$img" >/dev/null
  mount_ro "$img"
  manifest >"$tmp/$1.manifest.tsv"
  unmount
  if [ "$1" = exfat ]; then
    # Debian's exfat-fuse 1.3.0 ignores ValidDataLength (it reads the stale bytes on disk;
    # support came in fuse-exfat 1.4): check that, then write the specification's (and the
    # Linux driver's) reading of vdl.bin into the oracle: 40000 bytes of data, then zeros.
    local full cut
    full=$(prng 9 100000 | sha256sum | cut -d' ' -f1)
    cut=$({ prng 9 100000 | head -c 40000; head -c 60000 /dev/zero; } | sha256sum | cut -d' ' -f1)
    grep -qP "^/vdl.bin\t100000\t($full|$cut)\$" "$tmp/$1.manifest.tsv" ||
      { echo "exfat.sh: unexpected reading of vdl.bin by the mount" >&2; exit 1; }
    sed -i "s|^/vdl.bin\t100000\t.*|/vdl.bin\t100000\t$cut|" "$tmp/$1.manifest.tsv"
  fi
  mv "$tmp/$1.manifest.tsv" "$out/$1.manifest.tsv"
  mv "$img" "$out/$1.img"
}
build exfat 64M 4K VIGIE-EXFAT fill_main
build exfat-64k 32M 64K EXFAT64K fill_small
echo "$want" >"$stamp"
