// Cobalt Strike: the post-exploitation framework of nearly every hospital ransomware intrusion.
rule CobaltStrike_Beacon_Config : offensive
{
    meta:
        description = "Cobalt Strike beacon configuration block (setting 1..3 headers), XOR 0x69 (3.x) or 0x2e (4.x)"
        author = "Vigie"
        reference = "https://blog.didierstevens.com/2021/11/21/update-1768-py-version-0-0-10/"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $cfg_69 = { 69 68 69 68 69 6B ?? ?? 69 6B 69 68 69 6B ?? ?? 69 6A }
        $cfg_2e = { 2E 2F 2E 2F 2E 2C ?? ?? 2E 2C 2E 2F 2E 2C ?? ?? 2E 2D }
        $cfg_00 = { 00 01 00 01 00 02 ?? ?? 00 02 00 01 00 02 ?? ?? 00 03 00 02 00 04 }
    condition:
        any of them
}

rule CobaltStrike_Beacon_Strings : offensive
{
    meta:
        description = "Cobalt Strike beacon / post-ex DLL strings (format strings, default named pipes)"
        author = "Vigie"
        reference = "https://www.elastic.co/security-labs/detecting-cobalt-strike-with-memory-signatures"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $s1 = "%s as %s\\%s: %d" ascii
        $s2 = "beacon.dll" ascii
        $s3 = "beacon.x64.dll" ascii
        $s4 = "could not spawn %s: %d" ascii
        $s5 = "Could not open process token: %d (%u)" ascii
        $s6 = "%02d/%02d/%02d %02d:%02d:%02d" ascii
        $pipe1 = "\\\\.\\pipe\\MSSE-%d-server" ascii
        $pipe2 = "\\\\%s\\pipe\\msagent_%x" ascii
        $pipe3 = "postex_%04x" ascii
    condition:
        3 of them
}
