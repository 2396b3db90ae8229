// Mimikatz: credential theft used in nearly every domain-wide ransomware deployment.
rule Mimikatz_Credential_Dumper : credentials
{
    meta:
        description = "Mimikatz: author, module and command strings (binary, PowerShell port or script)"
        author = "Vigie"
        reference = "https://github.com/gentilkiwi/mimikatz"
        date = "2026-11-28"
        severity = "high"
    strings:
        $a1 = "gentilkiwi" ascii wide nocase
        $a2 = "Benjamin DELPY" ascii wide nocase
        $a3 = "A La Vie, A L'Amour" ascii wide
        $c1 = "sekurlsa::logonpasswords" ascii wide nocase
        $c2 = "lsadump::sam" ascii wide nocase
        $c3 = "lsadump::dcsync" ascii wide nocase
        $c4 = "privilege::debug" ascii wide nocase
        $c5 = "kerberos::golden" ascii wide nocase
        $m1 = "mimikatz" ascii wide nocase
        $m2 = "mimilib" ascii wide nocase
        $m3 = "kiwi_passwords" ascii wide
    condition:
        2 of ($c*) or (1 of ($a*) and 1 of ($c*, $m*)) or (2 of ($m*) and 1 of ($c*))
}
