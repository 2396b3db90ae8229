// WannaCry (WanaCrypt0r 2.0), May 2017: hit the UK NHS hard.
rule WannaCry_Ransomware : ransomware
{
    meta:
        description = "WannaCry ransomware: kill-switch domain, resource names, ransom-note and mutex strings"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/alerts/2017/05/12/indicators-associated-wannacry-ransomware"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $killswitch = "iuqerfsodp9ifjaposdfjhgosurijfaewrwergwea" ascii wide nocase
        $zip_pass = "WNcry@2ol7" ascii
        $mutex = "MsWinZonesCacheCounterMutexA" ascii wide
        $res1 = "tasksche.exe" ascii wide
        $res2 = "b.wnry" ascii wide
        $res3 = "c.wnry" ascii wide
        $res4 = "t.wnry" ascii wide
        $res5 = "msg/m_english.wnry" ascii wide
        $note1 = "@WanaDecryptor@" ascii wide
        $note2 = "@Please_Read_Me@.txt" ascii wide
        $marker = "WANACRY!" ascii
    condition:
        $killswitch or $zip_pass or $marker or
        (uint16(0) == 0x5A4D and 3 of ($mutex, $res*, $note*))
}
