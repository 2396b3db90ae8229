// LockBit 2.0/3.0: the most active ransomware of 2022-2023 (hospitals in France and abroad).
rule LockBit_Ransomware : ransomware
{
    meta:
        description = "LockBit 2.0/3.0: ransom-note names and text, HTA note, leak-site markers"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-165a"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $note1 = "Restore-My-Files.txt" ascii wide
        $note2 = "LockBit_Ransomware.hta" ascii wide
        $name1 = "LockBit 2.0" ascii wide nocase
        $name2 = "LockBit 3.0" ascii wide nocase
        $name3 = "LockBit Black" ascii wide nocase
        $text1 = "All your important files are stolen and encrypted" ascii wide
        $text2 = "lockbitsupp" ascii wide nocase
        $text3 = "lockbitapt" ascii wide nocase
        $ext = ".lockbit" ascii wide
    condition:
        2 of them
}
