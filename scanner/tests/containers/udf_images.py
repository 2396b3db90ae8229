#!/usr/bin/python3
"""UDF disc images for the UDF reader's tests and fuzz seeds (issue 13), written by pycdlib
(Debian's python3-pycdlib: a real UDF writer, no kernel mount needed).

    udf_images.py OUT_DIR EICAR BIG

OUT_DIR/hybrid.iso   UDF and an ISO 9660 side that lists only README.TXT (a "stub" bridge)
OUT_DIR/udf-only.iso the same disc with its ISO 9660 volume descriptors removed: the volume
                     recognition sequence at 32 KiB is BEA01, NSR02, TEA01 only
OUT_DIR/small.iso    a small UDF-only disc (a few files, one of 200 KB) for mutation tests

Files (UDF paths): dir/sub/eicar.com (EICAR), "Dossier été/élève ž 日本.com" (EICAR, a name
that needs 16-bit OSTA unicode), dir/big.bin (BIG, more than 1 MiB), README.TXT.
"""
import io
import sys

import pycdlib

out, eicar_path, big_path = sys.argv[1:4]
eicar = open(eicar_path, "rb").read()
big = open(big_path, "rb").read()


def disc(path, files, dirs):
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, udf="2.60")
    readme = b"Lisez-moi : ce disque se lit en UDF.\n"
    iso.add_fp(io.BytesIO(readme), len(readme), iso_path="/README.TXT;1",
               joliet_path="/README.TXT", udf_path="/README.TXT")
    for d in dirs:
        iso.add_directory(udf_path=d)
    for udf_path, data in files:
        iso.add_fp(io.BytesIO(data), len(data), udf_path=udf_path)
    iso.write(path)
    iso.close()


def udf_only(src, dst):
    """Rewrites the volume recognition sequence without the ISO 9660 descriptors."""
    d = bytearray(open(src, "rb").read())
    ids = [d[s * 2048 + 1:s * 2048 + 6] for s in range(16, 32)]
    assert b"NSR02" in ids or b"NSR03" in ids, ids
    for s in range(16, 32):
        d[s * 2048:(s + 1) * 2048] = bytes(2048)
    for s, ident in ((16, b"BEA01"), (17, b"NSR02"), (18, b"TEA01")):
        d[s * 2048:s * 2048 + 7] = b"\x00" + ident + b"\x01"
    open(dst, "wb").write(bytes(d))


dirs = ["/dir", "/dir/sub", "/Dossier été"]
disc(out + "/hybrid.iso",
     [("/dir/sub/eicar.com", eicar), ("/Dossier été/élève ž 日本.com", eicar), ("/dir/big.bin", big)],
     dirs)
udf_only(out + "/hybrid.iso", out + "/udf-only.iso")
small = bytes((i * 7919) % 251 for i in range(200_000))
disc(out + "/small-hybrid.iso",
     [("/dir/sub/eicar.com", eicar), ("/Dossier été/élève ž 日本.com", b"bonjour\n"), ("/dir/s.bin", small)],
     dirs)
udf_only(out + "/small-hybrid.iso", out + "/small.iso")
