# shellcheck shell=bash
# The one host-disk builder (issue 16): scripts/make-test-images, scripts/boot-tests and
# scripts/screenshots all make whole-disk images the same way, so they share these steps instead
# of repeating mkfs / mount / fill / dd each. Sourced after lib/images.sh (which has the tools:
# sparse_file, partition, fs_file_for_part, place_fs, make_fat, make_ntfs, make_ext4, fat_fill,
# ntfs_mount, ntfs_umount).
#
# A disk is a sparse file partitioned by an sfdisk script, then each partition gets a
# filesystem built in a separate file of the partition's size and copied in at its offset.
# Nothing here touches a block device: every target is a regular file.
#
#   hostdisk_new IMG SIZE < SFDISK_SCRIPT
#   hostdisk_fat IMG N BITS LABEL SRC_DIR WORK
#   hostdisk_ntfs IMG N LABEL FILL_FUNCTION WORK     (FILL_FUNCTION MOUNTPOINT writes the files)
#   hostdisk_ext4 IMG N LABEL SRC_DIR WORK
#   hostdisk_stamp FILE...                           (hash of the builder code, for caches)

# A new sparse disk of SIZE (truncate syntax), partitioned by the sfdisk script on stdin.
hostdisk_new() {
	sparse_file "$1" "$2"
	partition "$1"
}

# Partition N of IMG becomes a FAT BITS (12/16/32) volume labelled LABEL holding SRC's tree.
hostdisk_fat() {
	local img=$1 n=$2 bits=$3 label=$4 src=$5 work=$6 st fs
	work=$(realpath -m "$work")
	fs=$work/part$n.fs
	st=$(fs_file_for_part "$img" "$n" "$fs")
	make_fat "$fs" "$bits" "$label" "$st"
	fat_fill "$fs" "$src"
	place_fs "$img" "$n" "$fs"
	rm -f "$fs"
}

# Partition N of IMG becomes an NTFS volume labelled LABEL; FILL is called with the ntfs-3g
# mount point (streams as `name:stream`, compression on) and writes the files.
hostdisk_ntfs() {
	local img=$1 n=$2 label=$3 fill=$4 work=$5 st fs
	work=$(realpath -m "$work")
	fs=$work/part$n.fs
	st=$(fs_file_for_part "$img" "$n" "$fs")
	make_ntfs "$fs" "$label" "$st"
	ntfs_mount "$fs" "$work/part$n.mnt"
	"$fill" "$work/part$n.mnt"
	ntfs_umount "$work/part$n.mnt"
	place_fs "$img" "$n" "$fs"
	rm -f "$fs"
}

# Partition N of IMG becomes an ext4 volume labelled LABEL holding SRC's tree (mke2fs -d).
hostdisk_ext4() {
	local img=$1 n=$2 label=$3 src=$4 work=$5 fs
	work=$(realpath -m "$work")
	fs=$work/part$n.fs
	fs_file_for_part "$img" "$n" "$fs" >/dev/null
	make_ext4 "$fs" "$label" "$src"
	place_fs "$img" "$n" "$fs"
	rm -f "$fs"
}

# A short hash of the given files plus the image libraries: a cached disk is rebuilt when the
# code that made it changed.
hostdisk_stamp() {
	local lib
	lib=$(dirname "${BASH_SOURCE[0]}")
	cat "$@" "$lib/images.sh" "$lib/hostdisk.sh" | sha256sum | cut -c1-16
}
