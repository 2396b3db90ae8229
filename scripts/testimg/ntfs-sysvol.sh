#!/usr/bin/env bash
# Builds (and caches) a Windows-system-volume-like NTFS image for scale tests of the NTFS
# reader. Slow (minutes): NOT run by scripts/test; run it by hand, then time `scanner scan`.
#
#   scripts/testimg/ntfs-sysvol.sh [OUT.img [FILES]]
#       (default: .cache/images/ntfs-sysvol.img, 300000 files)
#
# What it holds (contents are small and synthetic):
#   Windows/System32        SYS32 files (5,000+ at full scale)
#   Windows/WinSxS          40,000+ hard links into System32, in per-"assembly" folders
#   Users/<user>/...        the bulk of the files, in directories of a few hundred
#   Documents and Settings  a junction to Users; Users/*/AppData/Roaming/Application Data a
#                           junction to its parent (the walk must neither loop nor rescan)
#   deep/...                paths longer than 260 characters
#   ads/                    files with alternate data streams
#   Windows/Compressed      an LZNT1-compressed folder
#   sparse.bin              a sparse file; pagefile.sys and hiberfil.sys: large, mostly zeros
#   EICAR planted at Users/alice/Downloads/invoice.pdf.exe and Windows/System32/drivers/evil.sys
#   Users/alice/Documents/Private  EFS-flagged files (FILE_ATTRIBUTE_ENCRYPTED patched into
#                           their records: ntfs-3g refuses to set it; the reader skips them)
# `$MFT` is made to fragment in thousands of runs on a small volume first (see below), which
# ntfsresize then grows; the files are then created in rounds interleaved with growing filler
# files. The script checks with `ntfsinfo -i 0` that `$MFT` has an attribute list, and fails
# when it has none.
# Needs root (FUSE), ntfs-3g (and ntfsinfo), attr, python3. Idempotent: skipped when OUT exists and was built
# by this same script with the same FILES.
set -euo pipefail
# shellcheck source=../lib/images.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/images.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.cache/images/ntfs-sysvol.img}"
files="${2:-300000}"
stamp="$out.script-sha256"
script_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)-$files"
if [[ -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$script_hash" ]]; then
    echo "ntfs-sysvol.sh: $out is up to date"
    exit 0
fi
for tool in mkntfs ntfs-3g ntfsinfo ntfsresize ntfsfix setfattr fusermount python3; do
    command -v "$tool" >/dev/null || { echo "ntfs-sysvol.sh: missing $tool" >&2; exit 1; }
done

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
mnt="$(mktemp -d)"
cleanup() {
    fuse_release "$mnt"
    rm -f "$tmp" "$tmp.efs"
}
trap cleanup EXIT
# Whether `$MFT` (record 0) has an attribute list. (Not `ntfsinfo | grep -q`: grep's early exit
# kills ntfsinfo with SIGPIPE, which pipefail turns into a failure.)
has_attribute_list() {
    local info
    info="$(ntfsinfo -i 0 "$tmp" 2>/dev/null)"
    [[ "$info" == *ATTRIBUTE_LIST* ]]
}

# Scale: System32 gets files/60 (at least 5,000 at full scale), WinSxS files/7.5 links.
sys32=$((files / 60)); ((sys32 >= 500)) || sys32=500
sxs=$((files * 2 / 15)); ((sxs >= 2000)) || sxs=2000
size_mb=$((files / 100 + 1024))

echo "+ mkntfs ${size_mb} MiB for $files files"
start=$SECONDS
# A fragmented `$MFT`: on a 64 MiB volume (its MFT zone is small), the free space is combed
# into one-cluster holes (one-cluster files up to ENOSPC, every other one deleted), then 16,000
# small files grow `$MFT` into the holes: thousands of runs, an attribute list. The files are
# deleted (their records stay allocated), and ntfsresize grows the volume to its full size.
truncate -s 64M "$tmp"
mkntfs -F -Q -q -c 4096 -L vigie-sysvol "$tmp"
ntfs-3g "$tmp" "$mnt"
MNT="$mnt" python3 - >"$tmp.efs" <<'PY'
import os
m = os.environ["MNT"]
# EFS-flagged files first, so their records lie in the first run of `$MFT` (patched below).
efs = os.path.join(m, "Users", "alice", "Documents", "Private")
os.makedirs(efs)
for k in range(10):
    p = os.path.join(efs, "secret%02d.docx" % k)
    with open(p, "wb") as f:
        f.write(b"pretend EFS ciphertext %d\n" % k)
    print(os.stat(p).st_ino, "secret%02d.docx" % k)
comb = os.path.join(m, "comb")
os.makedirs(comb)
n = 0
try:
    while True:
        with open(os.path.join(comb, "c%05d" % n), "wb") as f:
            f.write(b"\1" * 3000)
        n += 1
except OSError:
    pass
for k in range(0, n + 1, 2):
    try:
        os.unlink(os.path.join(comb, "c%05d" % k))
    except FileNotFoundError:
        pass
grow = os.path.join(m, "grow")
os.makedirs(grow)
k = 0
try:
    while k < 16000:
        with open(os.path.join(grow, "g%05d" % k), "wb") as f:
            f.write(b"small")
        k += 1
except OSError:
    pass
import sys
print("comb: %d one-cluster files, every other one deleted; %d files grew $MFT" % (n, k), file=sys.stderr)
PY
rm -rf "$mnt/comb" "$mnt/grow"
sync
for ((i = 0; i < 20; i++)); do fusermount -u "$mnt" 2>/dev/null && break; sleep 1; done
! mountpoint -q "$mnt" || { echo "ntfs-sysvol.sh: cannot unmount $mnt" >&2; exit 1; }
echo "ntfs-sysvol.sh: \$MFT in $(ntfsinfo -v -i 0 "$tmp" 2>/dev/null | grep -cE '^\s+0x') runs"
# ntfs-3g does not let FILE_ATTRIBUTE_ENCRYPTED (0x4000) be set: patch the EFS files'
# $STANDARD_INFORMATION in the image (unmounted), after checking each record's signature and
# name. Their records are in the first run of `$MFT` (they were created first).
python3 - "$tmp" "$tmp.efs" <<'PY'
import struct, sys
img, listing = sys.argv[1], sys.argv[2]
with open(img, "r+b") as f:
    boot = f.read(512)
    cluster = struct.unpack_from("<H", boot, 0x0B)[0] * boot[0x0D]
    mft = struct.unpack_from("<Q", boot, 0x30)[0] * cluster
    rs = struct.unpack_from("<b", boot, 0x40)[0]
    rec_size = rs * cluster if rs > 0 else 1 << -rs
    for line in open(listing):
        ino, name = line.split()
        at = mft + int(ino) * rec_size
        f.seek(at)
        rec = bytearray(f.read(rec_size))
        assert rec[:4] == b"FILE", (name, "not a record")
        assert name.encode("utf-16-le") in rec, (name, "not this file's record")
        a = struct.unpack_from("<H", rec, 0x14)[0]
        while struct.unpack_from("<I", rec, a)[0] != 0x10:
            a += struct.unpack_from("<I", rec, a + 4)[0]
        value = a + struct.unpack_from("<H", rec, a + 0x14)[0]
        flags = struct.unpack_from("<I", rec, value + 0x20)[0] | 0x4000
        f.seek(at + value + 0x20)
        f.write(struct.pack("<I", flags))
PY
rm -f "$tmp.efs"
has_attribute_list \
    || { echo "ntfs-sysvol.sh: the small volume's \$MFT has no attribute list" >&2; exit 1; }
truncate -s "${size_mb}M" "$tmp"
ntfsresize -f -f -P "$tmp" <<<y >/dev/null
ntfsfix -d "$tmp" >/dev/null # ntfsresize leaves the volume marked for chkdsk: clear it
has_attribute_list \
    || { echo "ntfs-sysvol.sh: \$MFT lost its attribute list in ntfsresize" >&2; exit 1; }
ntfs-3g -o streams_interface=windows,big_writes "$tmp" "$mnt"


# The bulk of the tree is written by one python process (far faster than a shell loop).
MNT="$mnt" FILES="$files" SYS32="$sys32" SXS="$sxs" python3 - <<'PY'
import os, struct
m = os.environ["MNT"]; files = int(os.environ["FILES"])
sys32 = int(os.environ["SYS32"]); sxs = int(os.environ["SXS"])
eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS" + "-TEST-FILE!$H+H*"
count = 0
def write(path, data):
    global count
    with open(path, "wb") as f:
        f.write(data)
    count += 1
def filler(round_no):
    # Grows a few big files between rounds, so the MFT's next extension lands elsewhere.
    with open(os.path.join(m, "$filler%d" % (round_no % 4)), "ab") as f:
        f.write(b"\0" * 65536)

s32 = os.path.join(m, "Windows", "System32")
os.makedirs(os.path.join(s32, "drivers"))
for i in range(sys32):
    write(os.path.join(s32, "lib%05d.dll" % i), b"MZ system32 %d\n" % i)
    if i % 200 == 0:
        filler(i // 200)
write(os.path.join(s32, "drivers", "evil.sys"), eicar.encode())
# WinSxS: hard links into System32, grouped in assembly folders of 100.
sx = os.path.join(m, "Windows", "WinSxS")
for i in range(sxs):
    d = os.path.join(sx, "amd64_microsoft-windows-part%04d_31bf3856ad364e35_10.0.19041.%d_none" % (i // 100, i // 100))
    if i % 100 == 0:
        os.makedirs(d)
        filler(1000 + i // 100)
    os.link(os.path.join(s32, "lib%05d.dll" % (i % sys32)), os.path.join(d, "lib%05d.dll" % i))
# Users: the rest, 250 files per directory.
users = ["alice", "bob", "Default", "Public"]
left = files - count - sxs - 50
i = 0
while i < left:
    u = users[i % 4]
    d = os.path.join(m, "Users", u, "AppData", "Local", "Cache%04d" % (i // 1000), "d%03d" % (i // 250 % 4))
    os.makedirs(d, exist_ok=True)
    for k in range(250):
        if i >= left:
            break
        write(os.path.join(d, "f%06d.tmp" % i), b"user data %d %s\n" % (i, u.encode()))
        i += 1
    if (i // 250) % 20 == 0:
        filler(2000 + i // 250)
dl = os.path.join(m, "Users", "alice", "Downloads")
os.makedirs(dl, exist_ok=True)
write(os.path.join(dl, "invoice.pdf.exe"), b"prefix " + eicar.encode() + b" suffix")
for u in users:
    os.makedirs(os.path.join(m, "Users", u, "AppData", "Roaming", "Application Data"), exist_ok=True)
# Long paths (> 260 characters).
deep = os.path.join(m, "deep")
for k in range(12):
    deep = os.path.join(deep, "a-rather-long-directory-name-%02d" % k)
os.makedirs(deep)
write(os.path.join(deep, "long-path-file.txt"), b"deep\n")
# ADS.
ads = os.path.join(m, "ads")
os.makedirs(ads)
for k in range(20):
    p = os.path.join(ads, "host%02d.txt" % k)
    write(p, b"host %d\n" % k)
    with open(p + ":Zone.Identifier", "wb") as f:
        f.write(b"[ZoneTransfer]\r\nZoneId=3\r\n")
# Sparse file, pagefile, hiberfil (mostly zeros, sparse).
with open(os.path.join(m, "sparse.bin"), "wb") as f:
    f.write(b"head"); f.seek(200 << 20); f.write(b"tail")
with open(os.path.join(m, "pagefile.sys"), "wb") as f:
    f.write(b"\1" * 4096); f.truncate(512 << 20)
with open(os.path.join(m, "hiberfil.sys"), "wb") as f:
    f.write(b"\0" * 4096); f.truncate(256 << 20)
print("python wrote %d files, %d hard links" % (count, sxs))
PY

# Junctions (IO_REPARSE_TAG_MOUNT_POINT) on empty directories.
junction() { # DIR TARGET (Windows path, e.g. C:\Users)
    local hex
    hex="$(python3 -c '
import struct, sys
t = sys.argv[1]
sub = ("\\??\\" + t).encode("utf-16-le"); pr = t.encode("utf-16-le")
buf = sub + b"\0\0" + pr + b"\0\0"
body = struct.pack("<HHHH", 0, len(sub), len(sub) + 2, len(pr)) + buf
print("0x" + (struct.pack("<IHH", 0xA0000003, len(body), 0) + body).hex())' "$2")"
    setfattr -n system.ntfs_reparse_data -v "$hex" "$1"
}
mkdir "$mnt/Documents and Settings"
junction "$mnt/Documents and Settings" 'C:\Users'
for u in alice bob Default Public; do
    junction "$mnt/Users/$u/AppData/Roaming/Application Data" "C:\\Users\\$u\\AppData\\Roaming"
done
# LZNT1-compressed folder.
mkdir "$mnt/Windows/Compressed"
setfattr -n system.ntfs_attrib_be -v 0x00000810 "$mnt/Windows/Compressed"
for ((k = 0; k < 20; k++)); do
    for ((j = 0; j < 2000; j++)); do echo "compressed line $j of file $k"; done >"$mnt/Windows/Compressed/log$k.txt"
done
rm -f "$mnt"/\$filler*
sync
# (A loaded machine was seen to keep the mount busy for a moment: retry.)
for ((i = 0; i < 20; i++)); do fusermount -u "$mnt" 2>/dev/null && break; sleep 1; done
! mountpoint -q "$mnt" || { echo "ntfs-sysvol.sh: cannot unmount $mnt" >&2; exit 1; }
echo "ntfs-sysvol.sh: built in $((SECONDS - start)) s"
if has_attribute_list; then
    echo "ntfs-sysvol.sh: \$MFT has an attribute list"
else
    echo "ntfs-sysvol.sh: \$MFT has no attribute list (not fragmented enough)" >&2
    ntfsinfo -i 0 "$tmp" 2>/dev/null | grep -iE 'runs|allocated size|data size' >&2 || true
    exit 1
fi
mv "$tmp" "$out"
echo "$script_hash" >"$stamp"
echo "ntfs-sysvol.sh: wrote $out"
