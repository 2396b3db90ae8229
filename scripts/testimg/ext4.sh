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
#                                 byte-flipping robustness tests (with and without metadata_csum);
#                                 also ext4-small-inline, ext4-small-metabg, ext3-small and
#                                 ext4-small-journal (a journal holding committed transactions).
#   ext4-linear.img               the tree as `mke2fs -d` writes it (linear directories, no e2fsck -D).
#   feature variants of the tree  ext4-metabg (meta_bg, inodes spread over several meta-groups),
#                                 ext4-128csum (128-byte inodes under metadata_csum), ext4-bigalloc,
#                                 ext4-tea / ext4-legacy-unsigned / ext4-halfmd4-signed (htree hash
#                                 variants, indexes rebuilt by e2fsck -D), ext3-128.
#   small feature images          ext4-inline (inline_data files and directories), ext4-mmp,
#                                 ext4-eainode (an attribute value in its own inode), ext4-casefold.
#   journals with transactions    ext4-journal-v3, -v2, -plain, ext3-journal: written by debugfs
#                                 (`jo`/`jw`/`jc`, as e2fsprogs' own j_* tests do), with checksum
#                                 v3, v2, none, and a 32-bit ext3 journal: transaction 1 rewrites
#                                 journaled.txt and revoked.txt, transaction 2 revokes revoked.txt.
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
imgs=(ext4 ext3 ext2 ext4-journal ext4-small ext4-small-nocsum ext4-linear
	ext4-metabg ext4-128csum ext4-bigalloc ext4-tea ext4-legacy-unsigned ext4-halfmd4-signed ext3-128
	ext4-inline ext4-mmp ext4-eainode ext4-casefold
	ext4-journal-v3 ext4-journal-v2 ext4-journal-plain ext3-journal
	ext4-small-inline ext4-small-metabg ext3-small ext4-small-journal)
have=1
for i in "${imgs[@]}"; do [[ -f $out/$i.img ]] || have=0; done
[[ -f $out/ext4-feat.tsv ]] || have=0
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

mk() { # mk NAME TYPE SIZE_MIB SRC [extra mke2fs args...]; env HASH, SFLAGS, NO_FSCK
  local name=$1 type=$2 size=$3 src=$4; shift 4
  mke2fs -q -F -t "$type" -b 1024 -L "vigie-${name:0:10}" -U 8f1c7a52-3c5e-4a6e-9f0a-0000000000$(printf %02d ${#name}) \
    -E hash_seed=5b7c0bd6-7c3a-4b55-8c4e-2f2d9a1e0c11 -d "$src" "$@" "$tmp/$name.img" "${size}M" 2>/dev/null
  if [[ -n ${HASH:-} ]]; then # the hash e2fsck -D indexes with
    debugfs -w -R "ssv def_hash_version $HASH" "$tmp/$name.img" >/dev/null 2>&1
  fi
  if [[ -n ${SFLAGS:-} ]]; then # superblock s_flags: 1 signed, 2 unsigned directory hash
    debugfs -w -R "ssv flags $SFLAGS" "$tmp/$name.img" >/dev/null 2>&1
  fi
  # mke2fs -d writes linear directories; e2fsck -D rebuilds them, with hash-tree indexes where
  # the volume has dir_index (exit code 1 means "fixed something": expected here).
  if [[ -z ${NO_FSCK:-} ]]; then
    e2fsck -fyD "$tmp/$name.img" >/dev/null 2>&1 || [[ $? == 1 ]]
  fi
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
mk ext4-small-inline ext4 2 "$small" -O inline_data -I 256
mk ext4-small-metabg ext4 4 "$small" -O meta_bg,^resize_inode -g 256 -N 256
mk ext3-small ext3 2 "$small"

NO_FSCK=1 mk ext4-linear ext4 64 "$tree"
mk ext4-metabg ext4 64 "$tree" -O meta_bg,^resize_inode -g 1024 -N 8192
mk ext4-128csum ext4 64 "$tree" -I 128
mk ext4-bigalloc ext4 128 "$tree" -O bigalloc -C 16384
HASH=tea mk ext4-tea ext4 64 "$tree"
HASH=legacy SFLAGS=2 mk ext4-legacy-unsigned ext4 64 "$tree"
HASH=half_md4 SFLAGS=1 mk ext4-halfmd4-signed ext4 64 "$tree"
mk ext3-128 ext3 64 "$tree" -I 128

feat="$tmp/feat"
mkdir -p "$feat/inline dir" "$feat/sub"
printf 'twenty bytes inline\n' > "$feat/tiny.txt"
python3 -c 'import sys; sys.stdout.write("x" * 99 + "\n")' > "$feat/inline dir/in xattr.txt"
printf 'thirty bytes, inline as well.\n' > "$feat/inline dir/two.txt"
: > "$feat/empty"
prng 5 5000 "$feat/block.bin"
prng 6 300000 "$feat/big.bin"
for i in a b c d e; do echo "sub $i" > "$feat/sub/$i"; done
ln "$feat/tiny.txt" "$feat/link to tiny"
find "$feat" -exec touch -h -d '2024-03-05 12:34:56' {} +
# The tree's own manifest: debugfs 1.47 dumps inline files as 60 bytes, so it is no reference.
{
  printf '#type\tsize\tsha256\tpath\n'
  (cd "$feat" && find . -type f -printf '%P\n' | sort | while read -r f; do
    printf 'f\t%s\t%s\t/%s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" "$f"
  done)
} >"$tmp/ext4-feat.tsv"
mk ext4-inline ext4 4 "$feat" -O inline_data -I 256
mk ext4-mmp ext4 4 "$feat" -O mmp
mk ext4-eainode ext4 4 "$feat" -O ea_inode
prng 7 3000 "$tmp/big-value"
debugfs -w -R "ea_set -f $tmp/big-value /block.bin user.big" "$tmp/ext4-eainode.img" >/dev/null 2>&1
mk ext4-casefold ext4 4 "$feat" -O casefold

# Journals holding committed transactions, written by debugfs (nothing mounted).
jtree="$tmp/jtree"
mkdir -p "$jtree"
echo "on disk before the crash" > "$jtree/journaled.txt"
echo "on disk, revoked later" > "$jtree/revoked.txt"
echo "never journaled" > "$jtree/other.txt"
find "$jtree" -exec touch -h -d '2024-03-05 12:34:56' {} +
python3 - "$tmp/jblocks" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"replayed from the journal!\n".ljust(1024, b"\0"))
    f.write(b"must not come back\n".ljust(1024, b"\0"))
PY
journal() { # journal NAME TYPE DEBUGFS_JO_ARGS [mke2fs args...]
  local name=$1 type=$2 jo=$3; shift 3
  NO_FSCK=1 mk "$name" "$type" 8 "$jtree" "$@"
  local j r
  j=$(debugfs -R "bmap /journaled.txt 0" "$tmp/$name.img" 2>/dev/null)
  r=$(debugfs -R "bmap /revoked.txt 0" "$tmp/$name.img" 2>/dev/null)
  printf 'jo %s\njw -b %s,%s %s\njw -r %s\njc\n' "$jo" "$j" "$r" "$tmp/jblocks" "$r" >"$tmp/jcmds"
  debugfs -w -f "$tmp/jcmds" "$tmp/$name.img" >/dev/null 2>&1
  debugfs -R "logdump" "$tmp/$name.img" 2>/dev/null | grep -q "sequence 2, type 2"
}
journal ext4-journal-v3 ext4 "-c"
journal ext4-journal-v2 ext4 "-c -v 2"
journal ext4-journal-plain ext4 "" -O ^metadata_csum
journal ext3-journal ext3 ""
cp "$tmp/ext4-journal-v3.img" "$tmp/ext4-small-journal.img"

for i in "${imgs[@]}"; do mv "$tmp/$i.img" "$out/$i.img"; done
mv "$tmp/ext4-feat.tsv" "$out/ext4-feat.tsv"
echo "$want" > "$stamp"
