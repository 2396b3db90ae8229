#!/usr/bin/env bash
# Builds the ext2/3/4 test images used by scanner/src/fs/ext4.rs tests, in .cache/images/:
#   ext4.img, ext3.img, ext2.img  the same generated tree (mke2fs -d, no mount): symlinks, hard
#                                 links, a sparse file (big hole then data), a deep path, a
#                                 directory of 3000 files (hash-tree indexed, built by e2fsck -D),
#                                 a 17 MiB pseudo-random file, unicode names, an empty file.
#   ext4-journal.img              ext4.img's tree on a volume flagged needs_recovery: the flag is
#                                 set with `debugfs -w -R "feature needs_recovery"` (what a host
#                                 powered off while mounted leaves behind); its journal holds no
#                                 transaction, so ext4-view's in-memory replay is attempted and
#                                 refused, which exercises the reader's fallback.
#   ext4-small.img, ext4-small-nocsum.img  2 MiB volumes with a handful of files, for the
#                                 byte-flipping robustness tests (with and without metadata_csum).
# Deterministic where e2fsprogs allows: fixed UUIDs, hash seeds, timestamps (E2FSPROGS_FAKE_TIME)
# and content from a seeded generator. Idempotent: skipped when every image exists and was built
# by this exact script (a stamp holds the script's sha256).
set -euo pipefail
export LC_ALL=C.UTF-8 TZ=UTC E2FSPROGS_FAKE_TIME=1709642096
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/.cache/images"
mkdir -p "$out"
stamp="$out/ext4.stamp"
want=$(sha256sum "$0" | cut -d' ' -f1)
imgs=(ext4 ext3 ext2 ext4-journal ext4-small ext4-small-nocsum)
have=1
for i in "${imgs[@]}"; do [[ -f $out/$i.img ]] || have=0; done
if [[ $have == 1 && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
tmp=$(mktemp -d "$out/ext4.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

prng() { # prng SEED BYTES FILE
  python3 - "$1" "$2" "$3" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
open(sys.argv[3], "wb").write(r.randbytes(int(sys.argv[2])))
PY
}

tree="$tmp/tree"
mkdir -p "$tree"
echo "hello from vigie" > "$tree/small_file"
: > "$tree/empty_file"
echo "unicode" > "$tree/café-ñandú-日本語.txt"
mkdir -p "$tree/Données médicales"
prng 42 $((17 * 1024 * 1024 + 123)) "$tree/Données médicales/big random.bin"
# Sparse: 8 MiB hole, then data.
python3 - "$tree/sparse.bin" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.seek(8 * 1024 * 1024)
    f.write(b"data after a big hole\n" * 100)
PY
mkdir -p "$tree/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12"
echo "deep" > "$tree/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/bottom file.txt"
mkdir -p "$tree/many"
for i in $(seq 0 2999); do echo "$i" > "$tree/many/$i"; done
ln "$tree/small_file" "$tree/hard link to small_file"
ln "$tree/Données médicales/big random.bin" "$tree/deep/hard link to big"
ln -s small_file "$tree/symlink_rel"
ln -s /deep/l2 "$tree/symlink_abs_dir"
ln -s nowhere "$tree/symlink_dangling"
find "$tree" -exec touch -h -d '2024-03-05 12:34:56' {} +

mk() { # mk NAME TYPE SIZE_MIB SRC [extra mke2fs args...]
  local name=$1 type=$2 size=$3 src=$4; shift 4
  mke2fs -q -F -t "$type" -b 1024 -L "vigie-${name:0:10}" -U 8f1c7a52-3c5e-4a6e-9f0a-0000000000$(printf %02d ${#name}) \
    -E hash_seed=5b7c0bd6-7c3a-4b55-8c4e-2f2d9a1e0c11 -d "$src" "$@" "$tmp/$name.img" "${size}M"
  # mke2fs -d writes linear directories; e2fsck -D rebuilds them, with hash-tree indexes where
  # the volume has dir_index (exit code 1 means "fixed something": expected here).
  e2fsck -fyD "$tmp/$name.img" >/dev/null 2>&1 || [[ $? == 1 ]]
}
mk ext4 ext4 64 "$tree"
mk ext3 ext3 64 "$tree"
mk ext2 ext2 64 "$tree"
cp "$tmp/ext4.img" "$tmp/ext4-journal.img"
debugfs -w -R "feature needs_recovery" "$tmp/ext4-journal.img" >/dev/null 2>&1
debugfs -R "features" "$tmp/ext4-journal.img" 2>/dev/null | grep -q needs_recovery

small="$tmp/small"
mkdir -p "$small/dir/sub"
echo "one" > "$small/one.txt"
prng 3 5000 "$small/dir/five k.bin"
prng 4 40000 "$small/dir/sub/forty k.bin"
: > "$small/dir/empty"
ln -s one.txt "$small/link"
find "$small" -exec touch -h -d '2024-03-05 12:34:56' {} +
mk ext4-small ext4 2 "$small"
mk ext4-small-nocsum ext4 2 "$small" -O ^metadata_csum

for i in "${imgs[@]}"; do mv "$tmp/$i.img" "$out/$i.img"; done
echo "$want" > "$stamp"
