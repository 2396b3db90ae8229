// Ryuk: the ransomware of the 2020 US hospital campaign (CISA AA20-302A).
rule Ryuk_Ransomware : ransomware
{
    meta:
        description = "Ryuk: ransom-note names and text, HERMES file marker, batch-file artefacts"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa20-302a"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $note1 = "RyukReadMe.txt" ascii wide
        $note2 = "RyukReadMe.html" ascii wide
        $text1 = "No system is safe" ascii wide
        $text2 = "UNIQUE_ID_DO_NOT_REMOVE" ascii wide
        $hermes = "HERMES" ascii
        $bat = "\\users\\Public\\window.bat" ascii wide nocase
        $ryuk = "Ryuk" ascii wide
    condition:
        filesize < 5MB and 2 of ($note*, $text*, $bat) or
        (uint16(0) == 0x5A4D and $hermes and $ryuk and 1 of ($note*, $text*, $bat))
}
