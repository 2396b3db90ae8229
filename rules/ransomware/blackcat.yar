// BlackCat/ALPHV: Change Healthcare (Feb 2024). Rust binary with an embedded JSON config.
rule BlackCat_ALPHV_Ransomware : ransomware
{
    meta:
        description = "BlackCat/ALPHV: embedded JSON configuration keys, access-token switch, note name"
        author = "Vigie"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa23-353a"
        date = "2026-11-28"
        severity = "critical"
    strings:
        $cfg1 = "\"config_id\"" ascii
        $cfg2 = "\"note_file_name\"" ascii
        $cfg3 = "\"note_full_text\"" ascii
        $cfg4 = "\"enable_esxi_vm_kill\"" ascii
        $cfg5 = "\"enable_network_discovery\"" ascii
        $cfg6 = "\"strict_include_paths\"" ascii
        $cfg7 = "\"exclude_directory_names\"" ascii
        $cfg8 = "\"kill_services\"" ascii
        $note = "RECOVER-${EXTENSION}-FILES.txt" ascii wide
        $tok = "--access-token" ascii
    condition:
        4 of ($cfg*) or ($note and ($tok or 1 of ($cfg*)))
}
