// QakBot (Qbot): loader for Conti, Black Basta; taken down in 2023 (Operation Duck Hunt).
rule QakBot_Loader : loader
{
    meta:
        description = "QakBot: decrypted string-table entries (calc.exe overwrite trick, recon commands, stager name)"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-242a"
        date = "2026-11-28"
        severity = "high"
    strings:
        $s1 = "stager_1.dll" ascii wide
        $s2 = "type \"%s\\System32\\calc.exe\" > \"%s\"" ascii wide
        $s3 = "nslookup -querytype=ALL -timeout=12 _ldap._tcp.dc._msdcs.%s" ascii wide
        $s4 = "ERROR: GetModuleFileNameW() failed with error: %u" ascii wide
        $s5 = "cmd.exe /c ping.exe -n 6 127.0.0.1 &" ascii wide
        $s6 = "net view /all" ascii wide
        $s7 = "qwinsta" ascii wide
    condition:
        2 of ($s1, $s2, $s3, $s4, $s5) or (1 of ($s1, $s2, $s3, $s4, $s5) and all of ($s6, $s7))
}
