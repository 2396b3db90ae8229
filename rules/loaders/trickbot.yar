// TrickBot: banking trojan turned Ryuk/Conti access broker (CISA AA21-076A).
rule TrickBot_Config : loader
{
    meta:
        description = "TrickBot: decrypted module configuration and server-config XML tags"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-076a"
        date = "2026-11-28"
        severity = "high"
    strings:
        $x1 = "<moduleconfig>" ascii wide
        $x2 = "<autostart>" ascii wide
        $x3 = "<needinfo name=\"id\"/>" ascii wide
        $x4 = "<needinfo name=\"ip\"/>" ascii wide
        $x5 = "<autoconf>" ascii wide
        $x6 = "<servconf>" ascii wide
        $x7 = "<mcconf>" ascii wide
        $x8 = "<gtag>" ascii wide
        $m1 = "pwgrab" ascii wide
        $m2 = "injectDll" ascii wide
        $m3 = "networkDll" ascii wide
    condition:
        3 of ($x*) or (2 of ($m*) and 1 of ($x*))
}
