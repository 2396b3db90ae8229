// Emotet: the loader behind most Ryuk/Conti hospital intrusions (2019-2022).
rule Emotet_Maldoc_Loader : loader
{
    meta:
        description = "Emotet Excel 4.0 / VBA lure: regsvr32 of the dropped ..\\oxnv*.ooccxx / ..\\*.ocx payloads"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/alerts/2020/10/06/emotet-malware"
        date = "2026-11-28"
        severity = "high"
    strings:
        $ooccxx = /\.\.\\oxnv[0-9]\.ooccxx/ ascii wide
        $regsvr = /regsvr32(\.exe)? +[-\/]s +\.\.\\[a-z0-9]{1,12}\.(ocx|dll|ooccxx)/ ascii wide nocase
        $url = /URLDownloadToFileA[^\n]{0,200}\.\.\\[a-z0-9]{1,12}\.(ocx|dll|ooccxx)/ ascii wide nocase
        $lure = "the document is protected" ascii wide nocase
    condition:
        $ooccxx or ($regsvr and ($url or $lure))
}
