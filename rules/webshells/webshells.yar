// Web shells: left on exposed Exchange/IIS/Tomcat servers (ProxyShell, ProxyLogon) before ransomware.
rule Webshell_PHP_Eval_Request : webshell
{
    meta:
        description = "PHP web shell: eval/assert of request data, optionally base64-decoded"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/alerts/2017/08/09/compromised-web-servers-and-web-shells-threat-awareness-and-guidance"
        date = "2026-11-28"
        severity = "high"
    strings:
        $php = "<?php" ascii nocase
        $re = /(eval|assert)\s*\(\s*(base64_decode\s*\(\s*|gzinflate\s*\(\s*|str_rot13\s*\(\s*)*\$_(POST|GET|REQUEST|COOKIE)\s*\[/ ascii nocase
    condition:
        filesize < 1MB and $php and $re
}

rule Webshell_China_Chopper : webshell
{
    meta:
        description = "China Chopper one-line web shell (ASPX/ASP and PHP variants)"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-062a"
        date = "2026-11-28"
        severity = "high"
    strings:
        $aspx = /<%@\s*Page\s+Language\s*=\s*"Jscript"\s*%>\s*<%\s*eval\s*\(\s*Request(\.Item)?\s*\[/ ascii nocase
        $asp = /<%\s*eval\s+request\s*\(\s*"[^"]{1,32}"\s*\)\s*%>/ ascii nocase
        $php = /<\?php\s+@eval\s*\(\s*\$_POST\s*\[\s*['"][^'"]{1,32}['"]\s*\]\s*\)\s*;?\s*\?>/ ascii nocase
    condition:
        filesize < 64KB and any of them
}

rule Webshell_JSP_Exec_Request : webshell
{
    meta:
        description = "JSP web shell: Runtime.exec of a request parameter"
        author = "Vigie"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        date = "2026-11-28"
        severity = "high"
    strings:
        $re = /Runtime\.getRuntime\(\)\.exec\s*\(\s*request\.getParameter\s*\(/ ascii
    condition:
        filesize < 1MB and $re
}

rule Webshell_Known_Kits : webshell
{
    meta:
        description = "Well-known PHP web shell kits by their banners (c99, r57, b374k, WSO)"
        author = "Vigie"
        reference = "https://github.com/tennc/webshell"
        date = "2026-11-28"
        severity = "high"
    strings:
        $php = "<?php" ascii nocase
        $k1 = "c99shell" ascii nocase
        $k2 = "r57shell" ascii nocase
        $k3 = "b374k" ascii nocase
        $k4 = /WSO [0-9]\.[0-9]/ ascii
        $f1 = "shell_exec" ascii
        $f2 = "passthru" ascii
        $f3 = "$_POST" ascii
    condition:
        filesize < 2MB and $php and 1 of ($k*) and 2 of ($f*)
}
