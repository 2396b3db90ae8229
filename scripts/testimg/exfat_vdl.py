#!/usr/bin/env python3
"""exfat_vdl.py IMAGE NAME VDL: sets the ValidDataLength of root-directory file NAME of an exFAT
test image to VDL bytes and recomputes its entry set's checksum (fuse-exfat writes zeros and a
full ValidDataLength when a file grows, so the state Windows and Linux leave after a
preallocation is made here). Used by exfat.sh and inplace.sh on images they just built."""
import struct, sys
img, name, vdl = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = open(img, "r+b")
b = f.read(512)
bps = 1 << b[108]; cs = bps << b[109]
fat = struct.unpack_from("<I", b, 80)[0] * bps
heap = struct.unpack_from("<I", b, 88)[0] * bps
rootc = struct.unpack_from("<I", b, 96)[0]
def clusters(c):
    while c < 0xFFFFFFF7:
        yield c
        f.seek(fat + 4 * c); c = struct.unpack("<I", f.read(4))[0]
data = bytearray(); offs = []
for c in clusters(rootc):
    f.seek(heap + (c - 2) * cs); data += f.read(cs); offs.append(heap + (c - 2) * cs)
def csum(bs):
    s = 0
    for i, x in enumerate(bs):
        if i in (2, 3): continue
        s = (((s >> 1) | ((s & 1) << 15)) + x) & 0xFFFF
    return s
i = 0
while i < len(data):
    t = data[i]
    if t == 0: break
    if t == 0x85:
        n = data[i + 1]; st = i + 32
        ln = data[st + 3]
        units = b"".join(data[st + 32 * k + 2: st + 32 * k + 32] for k in range(1, n))
        if units[: 2 * ln].decode("utf-16-le") == name:
            struct.pack_into("<Q", data, st + 8, vdl)
            struct.pack_into("<H", data, i + 2, csum(data[i: i + 32 * (n + 1)]))
            for k, o in enumerate(offs):
                f.seek(o); f.write(data[k * cs:(k + 1) * cs])
            sys.exit(0)
        i += 32 * (n + 1); continue
    i += 32
sys.exit("exfat_vdl: %s not found" % name)
