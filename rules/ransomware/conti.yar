// Conti: Irish HSE (May 2021), many US hospitals.
rule Conti_Ransomware : ransomware
{
    meta:
        description = "Conti: ransom-note name and text, recovery portal, command-line switches"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-265a"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $note_name = "CONTI_README.txt" ascii wide
        $note1 = "All of your files are currently encrypted by CONTI" ascii wide nocase
        $note2 = "The system is LOCKED." ascii wide
        $portal = "contirecovery" ascii wide nocase
        $ext = ".CONTI" ascii wide
        $arg1 = "-m local" ascii wide
        $arg2 = "-m net" ascii wide
        $arg3 = "-nomutex" ascii wide
    condition:
        $note1 or $portal or
        ($note_name and 1 of ($note2, $ext, $arg*)) or
        (uint16(0) == 0x5A4D and $ext and 2 of ($arg*))
}
