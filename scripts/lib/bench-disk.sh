# shellcheck shell=bash
# `scripts/bench --whole-disk`: a realistic workstation disk (issue 12). Sourced by scripts/bench,
# which has parsed the options (threads, runs, build) and loaded lib/images.sh.
#
# The disk (GPT, built once into .cache/bench/disk/workstation.img, sparse):
#   1 ESP, FAT32 260 MiB (a few boot files)       2 Microsoft reserved partition, 16 MiB
#   3 the Windows-like NTFS of scripts/testimg/ntfs-sysvol.sh (300,000 files: System32, WinSxS
#     hard links, user profiles, junctions, ADS, compressed folder, pagefile/hiberfil)
#   4 an ext4 data volume holding the /usr corpus of the main benchmark (about 1 GiB of real
#     binaries, libraries and text; `scripts/bench --prepare-only` makes it)
# Measured, side by side in one run (page cache warm, median of $runs runs): the stick's binary
# (static musl) and the glibc build, `scanner scan --threads T` with the embedded default rules
# (what the stick runs): time to verdict, files/s, MB/s of content, peak RSS.
need_tools sfdisk mkfs.fat mcopy mke2fs flock
[ -x /usr/bin/time ] || die "/usr/bin/time missing (Debian package time)"
# shellcheck source=hostdisk.sh
. "$ROOT/scripts/lib/hostdisk.sh"

DB=$ROOT/.cache/bench/disk
mkdir -p "$DB"
exec 9>"$DB/.lock"
flock 9
WORK=$(mktemp -d "$DB/.work.XXXXXX")
trap 'cleanup_mounts; rm -rf "$WORK"' EXIT
GLIBC=${SCANNER:-$ROOT/target/release/scanner}
MUSL=${SCANNER_MUSL:-$ROOT/target/x86_64-unknown-linux-musl/release/scanner}
SYSVOL=$ROOT/.cache/images/ntfs-sysvol.img
CORPUS=$ROOT/.cache/bench/corpus-full
DISK=$DB/workstation.img

[ -f "$CORPUS.done" ] || die "no /usr corpus at $CORPUS: run scripts/bench --prepare-only --no-yr first"
bash "$ROOT/scripts/testimg/ntfs-sysvol.sh" "$SYSVOL" >&2

if ! [ -f "$DISK.done" ] || [ "$DISK.done" -ot "$SYSVOL" ]; then
	log "building $DISK"
	ntfs_mib=$(($(stat -c %s "$SYSVOL") / 1048576 + 1))
	corpus_mib=$(($(du -sm --apparent-size "$CORPUS" | cut -f1) * 3 / 2 + 256))
	hostdisk_new "$WORK/disk.img" $((1 + 260 + 16 + ntfs_mib + corpus_mib + 2))M <<-EOF
		label: gpt
		start=2048, size=260M, type=U, name="EFI system partition"
		size=16M, type=E3C9E316-0B5C-4DB8-817D-F92DF00215AE, name="Microsoft reserved partition"
		size=${ntfs_mib}M, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="Basic data partition"
		size=${corpus_mib}M, type=L, name="data"
	EOF
	mkdir -p "$WORK/esp/EFI/Microsoft/Boot" "$WORK/esp/EFI/BOOT"
	for f in bootmgfw.efi bootmgr.efi memtest.efi; do filler_binary 200000 3 >"$WORK/esp/EFI/Microsoft/Boot/$f"; done
	filler_binary 150000 4 >"$WORK/esp/EFI/BOOT/BOOTX64.EFI"
	hostdisk_fat "$WORK/disk.img" 1 32 SYSTEM "$WORK/esp" "$WORK"
	place_fs "$WORK/disk.img" 3 "$SYSVOL"
	hostdisk_ext4 "$WORK/disk.img" 4 data "$CORPUS" "$WORK"
	mv "$WORK/disk.img" "$DISK"
	touch "$DISK.done"
fi

if ((build)); then
	log "cargo build --release -p scanner (glibc, then musl)"
	(cd "$ROOT" && cargo build --release -p scanner &&
		cargo build --release -p scanner --target x86_64-unknown-linux-musl)
fi
[ -x "$GLIBC" ] || die "no glibc scanner at $GLIBC"
[ -x "$MUSL" ] || die "no musl scanner at $MUSL"

T=$threads
log "threads $T, $runs runs each, page cache warm ($(du -h "$DISK" | cut -f1) allocated)"
cat "$DISK" >/dev/null
res=$DB/results-$(date -u +%Y%m%dT%H%M%SZ).tsv
printf 'build\tverdict_s\tfiles\tMB\tfiles_per_s\tMB_per_s\trss_mib\tcpu_s\n' >"$res"
for b in musl glibc; do
	bin=$MUSL
	[ $b = glibc ] && bin=$GLIBC
	times=()
	rss=0
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s.%N)
		/usr/bin/time -f '%M %U %S' -o "$WORK/rss" "$bin" scan --json --threads "$T" "$DISK" >"$WORK/out" 2>"$WORK/err" || true
		t1=$(date +%s.%N)
		grep -q panicked "$WORK/err" && log "PANIC: $(grep -m1 panicked "$WORK/err")"
		read -r kb u sy < <(tail -1 "$WORK/rss")
		((kb > rss)) && rss=$kb
		times+=("$(awk -v a="$t0" -v b="$t1" -v u="$u" -v s="$sy" 'BEGIN { printf "%.2f %.2f", b - a, u + s }')")
	done
	read -r med cpu < <(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }')
	sum=$(grep '"type":"summary"' "$WORK/out" | tail -1)
	files=$(grep -oE '"files":[0-9]+' <<<"$sum" | cut -d: -f2)
	bytes=$(grep -oE '"bytes":[0-9]+' <<<"$sum" | cut -d: -f2)
	verdict=$(grep -oE '"verdict":"[a-z]+"' <<<"$sum" | cut -d'"' -f4)
	log "$b: verdict $verdict, $(grep -c '"type":"volume"' "$WORK/out") volumes"
	grep '"type":"volume"' "$WORK/out" | grep -oE '"volume":[0-9]+|"fs":"[a-z0-9]+"|"files":[0-9]+|"status":"[a-z_]+"' | paste -sd' ' | sed 's/"volume"/\n  volume/g' >&2
	awk -v b="$b" -v t="$med" -v f="${files:-0}" -v by="${bytes:-0}" -v r="$rss" -v c="$cpu" 'BEGIN {
		printf "%s\t%.2f\t%d\t%.0f\t%.0f\t%.1f\t%d\t%.2f\n", b, t, f, by / 1e6, f / t, by / 1e6 / t, r / 1024, c }' >>"$res"
done
echo
echo "Whole workstation disk ($(($(stat -c %s "$DISK") / 1073741824)) GiB GPT: ESP, MSR, NTFS 300k files, ext4 /usr corpus), default rules, $T threads, median of $runs runs"
column -t -s $'\t' "$res"
echo "Raw figures: $res"
