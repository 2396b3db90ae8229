# shellcheck shell=bash
# `scripts/bench --small-files`: the per-file cost benchmark (issue 12). Sourced by scripts/bench,
# which has parsed the options (threads, runs, build, use_yr, scaling) and loaded lib/images.sh.
#
# What it measures, side by side in one run (page cache warm: every input is read once before,
# and each figure is the median of $runs runs):
#   - corpus: 24,000 small files (12,000 in flat/, 12,000 in nested/aNN/bN/), deterministic;
#   - images: NTFS, ext4 htree (mke2fs -d, then e2fsck -fD), ext4 linear (mke2fs -d only),
#     FAT32, and exFAT when exfatprogs and exfat-fuse are installed (filled through a FUSE mount
#     of a loop device on the image file);
#   - `scanner scan --threads T --rules eicar.yar IMAGE` for the glibc build and the static
#     musl build (the binary on the stick), and `yr scan -r -p T eicar.yar CORPUS`;
#   - ratios yr/scanner (>= 1.0 wanted) and musl/glibc (<= 1.05 wanted), peak RSS;
#   - scaling: one directory of 1,000 and of 50,000 files on each filesystem, time per file;
#   - containers (issue 13): default vs --no-containers on the same images (they hold no
#     container: the default must cost no more than --no-containers);
#   - seek figures: ext4 (backward jumps between files, directory-entry order vs the order read)
#     and NTFS ($MFT record order vs the order read vs each directory sorted by first cluster).
need_tools mkfs.fat mcopy mkntfs ntfs-3g mke2fs e2fsck python3 flock
[ -x /usr/bin/time ] || die "/usr/bin/time missing (Debian package time)"
[ "$(id -u)" = 0 ] || die "needs root for the ntfs-3g FUSE mount"

SB=$ROOT/.cache/bench/small
TOOLS=$ROOT/.cache/tools
mkdir -p "$SB" "$TOOLS"
exec 9>"$SB/.lock"
flock 9
WORK=$(mktemp -d "$SB/.work.XXXXXX")
EXFAT_LOOP=
trap 'cleanup_mounts; exfat_umount; rm -rf "$WORK"' EXIT
EICAR_RULE=$ROOT/rules/test/eicar.yar
GLIBC=${SCANNER:-$ROOT/target/release/scanner}
MUSL=${SCANNER_MUSL:-$ROOT/target/x86_64-unknown-linux-musl/release/scanner}

# corpus DIR FLAT NESTED: FLAT files in DIR/flat, NESTED files in DIR/nested/aNN/bN/ (100 per
# leaf directory); 40 to 4,000 bytes each, text and binary, from a seeded generator.
corpus() {
	python3 - "$@" <<'PY'
import os, random, sys
root, flat, nested = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(12)
def body(i):
    n = r.randint(40, 4000)
    if i % 3 == 0:
        return r.randbytes(n)
    words = [b"patient", b"dose", b"scan", b"report", b"vigie", b"lab", b"result"]
    out = bytearray()
    while len(out) < n:
        out += r.choice(words) + b" %d\n" % r.randint(0, 99999)
    return bytes(out[:n])
if flat:
    os.makedirs(f"{root}/flat", exist_ok=True)
    for i in range(flat):
        open(f"{root}/flat/F{i:06d}.TXT", "wb").write(body(i))
for i in range(nested):
    d = f"{root}/nested/a{i // 1000:02d}/b{(i // 100) % 10}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/file{i % 100:03d}.dat", "wb").write(body(i))
PY
}

# exFAT: exfatprogs' mkfs.exfat, filled through exfat-fuse on a loop device of the image FILE
# (this kernel has no exfat driver; scripts/testimg/exfat.sh does the same).
exfat_umount() {
	if [ -n "$EXFAT_LOOP" ]; then
		mountpoint -q "$WORK/x" && umount "$WORK/x"
		losetup -d "$EXFAT_LOOP" 2>/dev/null || true
		EXFAT_LOOP=
	fi
}
have_exfat() { command -v mkfs.exfat >/dev/null && command -v mount.exfat-fuse >/dev/null && command -v losetup >/dev/null; }

# image KIND IMG SRC SIZE_MIB
image() {
	local kind=$1 img=$2 src=$3 size=$4
	[ -f "$img.done" ] && return 0
	log "image $img ($kind)"
	sparse_file "$WORK/img" $((size * 1024 * 1024))
	case $kind in
	ntfs)
		make_ntfs "$WORK/img" bench 0
		ntfs_mount "$WORK/img" "$WORK/m"
		cp -r "$src"/. "$WORK/m/"
		ntfs_umount "$WORK/m"
		;;
	ext4-htree | ext4-linear)
		mke2fs -q -F -t ext4 -L bench -E root_owner=0:0 -N $((size * 256)) -d "$src" "$WORK/img" >/dev/null
		if [ "$kind" = ext4-htree ]; then
			e2fsck -fyD "$WORK/img" >/dev/null 2>&1 || [ $? = 1 ] || die "e2fsck -fD $img"
		fi
		;;
	fat32)
		# At least 65,525 clusters, or mtools takes the FAT32 for a FAT16 (512 MiB: 131,072).
		sparse_file "$WORK/img" $((512 * 1024 * 1024))
		mkfs.fat -F 32 -s 8 -n BENCH -i 5eed0002 "$WORK/img" >/dev/null
		fat_fill "$WORK/img" "$src"
		;;
	exfat)
		# 4 KiB clusters: the default (32 KiB at 512 MiB) does not hold 24,000 small files.
		mkfs.exfat -c 4K -L BENCH "$WORK/img" >/dev/null
		mkdir -p "$WORK/x"
		EXFAT_LOOP=$(losetup -f --show "$WORK/img")
		# A new loop device may come up read-only here (exfat-fuse then mounts it read-only).
		[ "$(blockdev --getro "$EXFAT_LOOP")" = 0 ] || blockdev --setrw "$EXFAT_LOOP"
		mount.exfat-fuse "$EXFAT_LOOP" "$WORK/x" >/dev/null
		cp -r "$src"/. "$WORK/x/"
		sync
		exfat_umount
		;;
	esac
	mv "$WORK/img" "$img"
	touch "$img.done"
}

KINDS=(ntfs ext4-htree ext4-linear fat32)
if have_exfat; then KINDS+=(exfat); else log "exFAT left out: mkfs.exfat or mount.exfat-fuse missing"; fi
if ! [ -f "$SB/corpus.done" ]; then
	rm -rf "$SB/corpus"
	log "corpus: 24,000 files in $SB/corpus"
	corpus "$SB/corpus" 12000 12000
	touch "$SB/corpus.done"
fi
for k in "${KINDS[@]}"; do image "$k" "$SB/$k.img" "$SB/corpus" 512; done
for n in 1000 50000; do
	((scaling)) || break
	if ! [ -f "$SB/one-$n.done" ]; then
		rm -rf "$SB/one-$n"
		corpus "$SB/one-$n" "$n" 0
		touch "$SB/one-$n.done"
	fi
	for k in "${KINDS[@]}"; do image "$k" "$SB/one-$n-$k.img" "$SB/one-$n" $((n < 10000 ? 64 : 512)); done
done
if ((prepare_only)); then
	log "prepared: $SB"
	exit 0
fi

if ((build)); then
	log "cargo build --release -p scanner (glibc, then musl)"
	(cd "$ROOT" && cargo build --release -p scanner &&
		cargo build --release -p scanner --target x86_64-unknown-linux-musl)
fi
[ -x "$GLIBC" ] || die "no glibc scanner at $GLIBC"
[ -x "$MUSL" ] || die "no musl scanner at $MUSL"

YR=$TOOLS/bin/yr
if ((use_yr)) && { ! [ -x "$YR" ] || ! "$YR" --version 2>/dev/null | grep -q '1\.22\.1'; }; then
	log "cargo install yara-x-cli 1.22.1 into $TOOLS (a release build of yara-x)"
	cargo install yara-x-cli --locked --version 1.22.1 --root "$TOOLS" --target-dir "$TOOLS/build"
fi


# timed CMD...: runs CMD $runs times; sets T_MED (median wall seconds), T_CPU (median user +
# system CPU seconds, the figure that stays meaningful on a machine shared with other work)
# and T_RSS (max KiB).
timed() {
	local times=() cpus=() rss=0 i t0 t1 kb u sy
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s.%N)
		/usr/bin/time -f '%M %U %S' -o "$WORK/rss" "$@" >"$WORK/out" 2>"$WORK/err" || true
		t1=$(date +%s.%N)
		grep -q panicked "$WORK/err" && log "PANIC in $*: $(grep -m1 panicked "$WORK/err")"
		read -r kb u sy < <(tail -1 "$WORK/rss")
		((kb > rss)) && rss=$kb
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
		cpus+=("$(awk -v a="$u" -v b="$sy" 'BEGIN { printf "%.2f", a + b }')")
	done
	T_MED=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	T_CPU=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	T_RSS=$rss
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
warm() { cat "$@" >/dev/null; }
files_of() { grep -o '"files":[0-9]*' "$WORK/out" | tail -1 | cut -d: -f2; }

T=$threads
log "threads $T, $runs runs each, page cache warm"
warm "$SB"/*.img
tar -cf - -C "$SB/corpus" . | cat >/dev/null
yr_s=0
yr_cpu=0
yr_rss=0
if ((use_yr)); then
	timed "$YR" scan -r -p "$T" "$EICAR_RULE" "$SB/corpus"
	yr_s=$T_MED
	yr_cpu=$T_CPU
	yr_rss=$((T_RSS / 1024))
fi
res=$SB/results-$(date -u +%Y%m%dT%H%M%SZ).tsv
printf 'fs\tfiles\tglibc_s\tmusl_s\tmusl_over_glibc\tglibc_cpu_s\tmusl_cpu_s\tmusl_over_glibc_cpu\tyr_s\tyr_cpu_s\tyr_over_glibc\tyr_over_musl\tglibc_rss_mib\tmusl_rss_mib\tyr_rss_mib\n' >"$res"
for k in "${KINDS[@]}"; do
	img=$SB/$k.img
	timed "$GLIBC" scan --json --threads "$T" --rules "$EICAR_RULE" "$img"
	g=$T_MED
	gc=$T_CPU
	g_rss=$((T_RSS / 1024))
	n=$(files_of)
	timed "$MUSL" scan --json --threads "$T" --rules "$EICAR_RULE" "$img"
	m=$T_MED
	mc=$T_CPU
	m_rss=$((T_RSS / 1024))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$n" "$g" "$m" "$(ratio "$m" "$g")" \
		"$gc" "$mc" "$(ratio "$mc" "$gc")" "$yr_s" "$yr_cpu" \
		"$(ratio "$yr_s" "$g")" "$(ratio "$yr_s" "$m")" "$g_rss" "$m_rss" "$yr_rss" >>"$res"
done
echo
echo "Per-file cost: 24,000 small files, one EICAR rule, $T threads, median of $runs runs (warm cache)"
column -t -s $'\t' "$res"

if ((scaling)); then
	sres=$SB/scaling-$(date -u +%Y%m%dT%H%M%SZ).tsv
	printf 'fs\tfiles_in_one_dir\tmusl_s\tus_per_file\tmusl_cpu_s\tcpu_us_per_file\n' >"$sres"
	for n in 1000 50000; do
		for k in "${KINDS[@]}"; do
			warm "$SB/one-$n-$k.img"
			timed "$MUSL" scan --json --threads "$T" --rules "$EICAR_RULE" "$SB/one-$n-$k.img"
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$n" "$T_MED" "$(awk -v t="$T_MED" -v n="$n" 'BEGIN { printf "%.1f", t / n * 1e6 }')" \
				"$T_CPU" "$(awk -v t="$T_CPU" -v n="$n" 'BEGIN { printf "%.1f", t / n * 1e6 }')" >>"$sres"
		done
	done
	echo
	echo "Time per file in one directory (static musl build; flat from 1,000 to 50,000 = linear cost)"
	column -t -s $'\t' "$sres"
fi
# Containers (issue 13): these images hold no container (random and text bodies), so opening
# containers must cost nothing here: default vs --no-containers, static musl build.
echo
echo "No-container volumes: default vs --no-containers (static musl build, median of $runs runs)"
cres=$SB/containers-$(date -u +%Y%m%dT%H%M%SZ).tsv
printf 'fs\tdefault_s\tno_containers_s\tdefault_over_no_containers\tdefault_cpu_s\tno_containers_cpu_s\n' >"$cres"
for k in "${KINDS[@]}"; do
	timed "$MUSL" scan --json --threads "$T" --rules "$EICAR_RULE" "$SB/$k.img"
	d=$T_MED
	dc=$T_CPU
	timed "$MUSL" scan --json --threads "$T" --rules "$EICAR_RULE" --no-containers "$SB/$k.img"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$d" "$T_MED" "$(ratio "$d" "$T_MED")" "$dc" "$T_CPU" >>"$cres"
done
column -t -s $'\t' "$cres"

# Seek figure (ext4): backward jumps between consecutive files' first blocks, in directory-entry
# order (a walk by name) and in the order the walker reads (each directory sorted by first block).
echo
echo "Seek figure (ext4; backward jumps between files, entry order vs the order read)"
for k in ext4-htree ext4-linear; do
	(cd "$ROOT" && VIGIE_SEEK_IMAGE=$SB/$k.img cargo test -q -p scanner --lib seek_figure -- --ignored --nocapture 2>/dev/null |
		grep '^seek figure') || log "seek figure of $k: cargo test failed"
done
echo
echo "Seek figure (NTFS; backward jumps between files' first clusters: \$MFT record order, the order"
echo "read, and each directory sorted by first cluster)"
(cd "$ROOT" && VIGIE_SEEK_IMAGE=$SB/ntfs.img cargo test -q -p scanner --test ntfs_seek -- --ignored --nocapture 2>/dev/null |
	grep '^seek figure') || log "seek figure of ntfs: cargo test failed"
echo
echo "Raw figures: $res${sres:+ $sres} $cres"
