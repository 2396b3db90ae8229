# The scan folders on a stick's log partition, read with mtools (sourced by the QEMU tests).
# A folder is VIGIE/scans/<start>_<machine>/ (names sort by the scan's start time). A full scan
# opens its folder with the checkpoint `resume.jsonl.gz` and, when it runs to its end, saves its
# record into it; a cancelled or crashed scan's record goes into a folder of its own, so the
# newest folder is not always the one holding the newest record.
#
#   scan_folders FS                newest first, as mtools paths ending in `/`
#   checkpoint_folder FS           the newest folder holding a checkpoint (none: status 1)
#   newest_record FS DEST          copies the newest record.jsonl to DEST, echoes its folder
# FS is the image with its partition offset, as mtools takes it: `stick.img@@1048576`.

scan_folders() {
    mdir -b -i "$1" ::/VIGIE/scans 2>/dev/null | grep '/$' | sort -r
}

checkpoint_folder() {
    local d
    while read -r d; do
        mdir -b -i "$1" "${d}resume.jsonl.gz" > /dev/null 2>&1 && { echo "$d"; return 0; }
    done < <(scan_folders "$1")
    return 1
}

newest_record() {
    local d
    while read -r d; do
        if mcopy -n -i "$1" "${d}record.jsonl" "$2" 2> /dev/null; then echo "$d"; return 0; fi
    done < <(scan_folders "$1")
    return 1
}
