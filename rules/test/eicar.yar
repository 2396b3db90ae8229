rule EICAR_Test_File : test
{
    meta:
        description = "EICAR anti-virus test file (harmless, used to prove detection works)"
        author = "Vigie"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        date = "2026-11-28"
        severity = "test"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}
