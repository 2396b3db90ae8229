// Other credential dumpers and LSASS-dumping tradecraft.
rule LaZagne_Credential_Dumper : credentials
{
    meta:
        description = "LaZagne password recovery tool (PyInstaller binary or sources)"
        author = "Vigie"
        reference = "https://github.com/AlessandroZ/LaZagne"
        date = "2026-11-28"
        severity = "high"
    strings:
        $n1 = "lazagne" ascii wide nocase
        $m1 = "softwares.browsers" ascii
        $m2 = "softwares.windows" ascii
        $m3 = "softwares.sysadmin" ascii
        $m4 = "config.write_output" ascii
    condition:
        $n1 and 2 of ($m*)
}

rule LSASS_Dump_Comsvcs_MiniDump : credentials
{
    meta:
        description = "LSASS memory dump through comsvcs.dll MiniDump (script, batch file, shortcut)"
        author = "Vigie"
        reference = "https://attack.mitre.org/techniques/T1003/001/"
        date = "2026-11-28"
        severity = "high"
    strings:
        $re = /comsvcs(\.dll)?[, #]{1,4}(MiniDump|#24)[^\n]{0,64}full/ ascii wide nocase
    condition:
        filesize < 2MB and $re
}

rule Credential_Dumper_Tools : credentials
{
    meta:
        description = "nanodump, pypykatz, SafetyKatz, Rubeus and Impacket secretsdump markers"
        author = "Vigie"
        reference = "https://attack.mitre.org/techniques/T1003/"
        date = "2026-11-28"
        severity = "high"
    strings:
        $nano1 = "nanodump" ascii wide
        $nano2 = "--fork" ascii wide
        $nano3 = "--write" ascii wide
        $pypy1 = "pypykatz" ascii wide
        $pypy2 = "lsa minidump" ascii wide
        $safe = "SafetyKatz" ascii wide
        $rub1 = "Rubeus" ascii wide
        $rub2 = "asktgt" ascii wide
        $rub3 = "kerberoast" ascii wide
        $sd1 = "secretsdump" ascii wide
        $sd2 = "Dumping local SAM hashes" ascii wide
    condition:
        all of ($nano*) or all of ($pypy*) or $safe or all of ($rub*) or all of ($sd*)
}
