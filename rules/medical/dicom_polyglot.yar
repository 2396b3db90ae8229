rule DICOM_PE_ELF_Polyglot : medical
{
    meta:
        description = "DICOM file whose 128-byte preamble holds a Windows PE or Linux ELF header: an executable hidden in a patient image (CVE-2019-11687)"
        author = "Vigie"
        reference = "https://nvd.nist.gov/vuln/detail/CVE-2019-11687"
        date = "2026-12-01"
        severity = "high"
    condition:
        filesize > 132 and
        uint32(128) == 0x4D434944 and
        (
            (uint16(0) == 0x5A4D and
             uint32(0x3C) >= 0x40 and uint32(0x3C) < filesize - 4 and
             uint32(uint32(0x3C)) == 0x00004550) or
            uint32(0) == 0x464C457F
        )
}
