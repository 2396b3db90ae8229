// NotPetya (ExPetr), June 2017: wiper disguised as ransomware; hit hospitals (Heritage Valley, Nuance).
rule NotPetya_Wiper : ransomware wiper
{
    meta:
        description = "NotPetya/ExPetr: ransom-note e-mail and bitcoin address, perfc/dllhost.dat artefacts"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/alerts/2017/07/01/petya-ransomware"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $mail = "wowsmith123456@posteo.net" ascii wide
        $btc = "1Mz7153HMuxXTuR2R1t78mGSdzaAtNbBWX" ascii wide
        $note = "Ooops, your important files are encrypted." ascii wide
        $perfc = "perfc.dat" ascii wide nocase
        $dllhost = "dllhost.dat" ascii wide
        $wevt = "wevtutil cl Setup & wevtutil cl System" ascii wide
    condition:
        $mail or $btc or ($note and 1 of ($perfc, $dllhost, $wevt)) or ($perfc and $wevt)
}
