# shellcheck shell=bash
# Shared helpers for scripts that build disk images from Debian tools (make-test-images, bench).
#
# Every image is assembled from separately built filesystem files that are copied into a sparse
# whole-disk file at the partition offsets that sfdisk chose. Nothing here ever touches a real
# block device: every target is a regular file under the repository's .cache/.
#
# Tools: sfdisk (fdisk), mkfs.fat + mtools (dosfstools, mtools), mkntfs + ntfs-3g (ntfs-3g),
# setfattr (attr), mke2fs + debugfs (e2fsprogs), truncate/dd (coreutils), flock (util-linux).

# Print a step to stderr.
log() { printf '[%s] %s\n' "${LOG_TAG:-images}" "$*" >&2; }

die() {
	log "error: $*"
	exit 1
}

# Fail early, with the Debian package to install, when a tool is missing.
need_tools() {
	local t pkg missing=()
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && continue
		case "$t" in
		sfdisk) pkg=fdisk ;;
		mkfs.fat) pkg=dosfstools ;;
		mcopy | mmd | mdir | mtype) pkg=mtools ;;
		mkntfs | ntfs-3g | ntfsls | ntfsinfo) pkg=ntfs-3g ;;
		setfattr | getfattr) pkg=attr ;;
		mke2fs | debugfs) pkg=e2fsprogs ;;
		flock) pkg=util-linux ;;
		*) pkg="?" ;;
		esac
		missing+=("$t (Debian package $pkg)")
	done
	if ((${#missing[@]})); then
		die "missing tools: ${missing[*]}"
	fi
}

# The EICAR test string (68 bytes, no newline). Built from two halves so that the repository
# never holds it as one literal (some scanners flag source files that do).
eicar() {
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR' '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
}

# Deterministic, compressible text: exactly N bytes of numbered lines (finite generator: no
# SIGPIPE under pipefail).
filler_text() {
	LC_ALL=C awk -v n="$1" -v tag="${2:-filler}" 'BEGIN {
		out = 0; i = 0
		while (out < n) {
			line = sprintf("%s line %06d: the quick brown fox jumps over the lazy dog, 0123456789\n", tag, i++)
			if (out + length(line) > n) line = substr(line, 1, n - out)
			printf "%s", line
			out += length(line)
		}
	}'
}

# Deterministic incompressible-looking bytes: N bytes from a seeded PRNG (perl-base is
# Essential on Debian).
filler_binary() {
	local n=$1 seed=${2:-1}
	perl -e 'my ($n, $s) = @ARGV; srand($s); my $o = ""; $o .= chr(int(rand(256))) for 1 .. $n; print $o' "$n" "$seed"
}

# A sparse file of SIZE (truncate syntax: 64M, 1G ...).
sparse_file() {
	rm -f "$1"
	truncate -s "$2" "$1"
}

# Partition a disk image with an sfdisk script read from stdin.
partition() {
	local img=$1
	sfdisk --quiet --no-reread --no-tell-kernel "$img" >/dev/null
}

# "START SIZE" in sectors of partition number N of IMG (as sfdisk numbers it, logical from 5).
part_geometry() {
	local img=$1 n=$2
	sfdisk --dump "$img" | awk -v dev="${img}${n}" -v devp="${img}p${n}" '
		$1 == dev || $1 == devp {
			start = ""; size = ""
			for (i = 2; i <= NF; i++) {
				if ($i == "start=") { start = $(i + 1) }
				if ($i == "size=") { size = $(i + 1) }
				if ($i ~ /^start=/ && $i != "start=") { start = substr($i, 7) }
				if ($i ~ /^size=/ && $i != "size=") { size = substr($i, 6) }
			}
			gsub(",", "", start); gsub(",", "", size)
			print start, size
		}'
}

# Copy a filesystem file FS into IMG at partition N (sizes must match; holes stay holes).
place_fs() {
	local img=$1 n=$2 fs=$3 geo start size
	geo=$(part_geometry "$img" "$n")
	[ -n "$geo" ] || die "partition $n not found in $img"
	read -r start size <<<"$geo"
	local fsbytes
	fsbytes=$(stat -c %s "$fs")
	((fsbytes <= size * 512)) || die "$fs ($fsbytes B) larger than partition $n of $img"
	dd if="$fs" of="$img" bs=1M seek="$((start * 512))" oflag=seek_bytes conv=notrunc,sparse status=none
}

# Create an empty filesystem file of the size of partition N of IMG.
fs_file_for_part() {
	local img=$1 n=$2 out=$3 geo start size
	geo=$(part_geometry "$img" "$n")
	read -r start size <<<"$geo"
	rm -f "$out"
	truncate -s "$((size * 512))" "$out"
	echo "$start"
}

# mkfs.fat on FILE with FAT BITS (12/16/32), LABEL and HIDDEN sectors (partition start).
make_fat() {
	local file=$1 bits=$2 label=$3 hidden=$4
	local extra=()
	[ "$bits" = 32 ] && extra=(-s 1)
	mkfs.fat -F "$bits" "${extra[@]}" -n "$label" -h "$hidden" -i 1234abcd "$file" >/dev/null
}

# Copy the contents of directory SRC into the root of FAT filesystem file IMG (recursive,
# long names kept, mtimes preserved).
fat_fill() {
	local img=$1 src=$2
	local entries=()
	mapfile -t entries < <(cd "$src" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort)
	((${#entries[@]})) || return 0
	(cd "$src" && MTOOLS_SKIP_CHECK=1 mcopy -s -m -Q -D o -i "$img" "${entries[@]}" ::/)
}

# mke2fs FILE as ext4 with LABEL, filled from directory SRC. Features kept to what ext4-view
# 1.0 reads (no inline_data, meta_bg, casefold).
make_ext4() {
	local file=$1 label=$2 src=$3
	mke2fs -q -F -t ext4 -L "$label" -U 2b7f3a1e-5c4d-4e6f-8a9b-0c1d2e3f4a5b \
		-E root_owner=0:0 -O ^inline_data -d "$src" "$file" >/dev/null
}

# mkntfs FILE with LABEL and HIDDEN sectors; 4 KiB clusters so that compression works.
make_ntfs() {
	local file=$1 label=$2 hidden=$3
	mkntfs -q -F -Q -c 4096 -p "$hidden" -L "$label" "$file" >/dev/null 2>&1 ||
		die "mkntfs $file failed"
}

# Mount NTFS file FS at MNT with ntfs-3g (FUSE), Windows-style stream names, compression on.
NTFS_MOUNTS=()
ntfs_mount() {
	local fs=$1 mnt=$2
	mkdir -p "$mnt"
	ntfs-3g -o streams_interface=windows,compression,big_writes "$fs" "$mnt" ||
		die "ntfs-3g mount of $fs failed (FUSE needs root and /dev/fuse)"
	NTFS_MOUNTS+=("$mnt")
}

ntfs_umount() {
	local mnt=$1 i
	sync
	umount "$mnt" 2>/dev/null || fusermount -u "$mnt" 2>/dev/null || umount -l "$mnt"
	# ntfs-3g writes back asynchronously after umount returns: wait for the daemon to go.
	for i in $(seq 1 50); do
		mountpoint -q "$mnt" || break
		sleep 0.1
	done
	sleep 0.3
	for i in "${!NTFS_MOUNTS[@]}"; do
		[ "${NTFS_MOUNTS[$i]}" = "$mnt" ] && unset 'NTFS_MOUNTS[i]'
	done
	rmdir "$mnt" 2>/dev/null || true
}

cleanup_mounts() {
	local m
	for m in "${NTFS_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

# Unmount a FUSE mount point of a script's own, retrying while the daemon is busy (a lazy
# unmount as the last resort), then remove the directory. For EXIT traps: never fails.
fuse_release() {
	local mnt=$1 i
	for ((i = 0; i < 10; i++)); do
		mountpoint -q "$mnt" || break
		fusermount -u "$mnt" 2>/dev/null || sleep 1
	done
	mountpoint -q "$mnt" && umount -l "$mnt"
	rmdir "$mnt" 2>/dev/null || true
}

# Mark a directory on an ntfs-3g mount so that files created in it are LZNT1-compressed.
ntfs_compress_dir() {
	setfattr -h -v 0x00000800 -n system.ntfs_attrib_be "$1"
}

# Write BYTES (a file) into IMG at byte OFFSET without truncating.
poke_file() {
	local img=$1 off=$2 src=$3
	dd if="$src" of="$img" bs=1 seek="$off" conv=notrunc status=none
}

# Write a string at byte OFFSET of IMG.
poke_str() {
	local img=$1 off=$2 str=$3
	printf '%s' "$str" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
}

# Write hex bytes ("3bd66749...") at byte OFFSET of IMG.
poke_hex() {
	local img=$1 off=$2 hex=$3
	perl -e 'print pack("H*", $ARGV[0])' "$hex" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
}
