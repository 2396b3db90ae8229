//! From a command line as written in a registry value, a task or a unit to the file it runs,
//! as a path on the scanned volume: quotes and arguments stripped, `%SystemRoot%`,
//! `\SystemRoot\`, `\??\C:\` and drive letters turned into volume paths. Pure string work.

/// Extensions that end an unquoted executable path (`C:\Program Files\a b\x.exe -arg`).
const EXEC_EXT: &[&str] = &[
    ".exe", ".dll", ".sys", ".com", ".bat", ".cmd", ".scr", ".ps1", ".vbs", ".vbe", ".js", ".jse",
    ".wsf", ".cpl", ".ocx", ".hta", ".msi", ".lnk", ".pif", ".drv",
];

/// Longest command considered (longer ones are cut before resolution).
const MAX_COMMAND: usize = 2048;

/// The program part of a Windows command line: the quoted part, or the shortest prefix ending
/// in an executable extension, or the first word.
pub fn windows_program(cmd: &str) -> Option<String> {
    let cmd: String = cmd.chars().take(MAX_COMMAND).collect();
    let cmd = cmd.trim();
    if let Some(rest) = cmd.strip_prefix('"') {
        let end = rest.find('"').unwrap_or(rest.len());
        let p = rest[..end].trim();
        return (!p.is_empty()).then(|| p.to_string());
    }
    let lower = cmd.to_ascii_lowercase();
    let mut best: Option<usize> = None;
    for ext in EXEC_EXT {
        let mut from = 0;
        while let Some(i) = lower[from..].find(ext) {
            let end = from + i + ext.len();
            let boundary = lower[end..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == ',' || c == '\t');
            if boundary {
                best = Some(best.map_or(end, |b| b.min(end)));
                break;
            }
            from = end;
        }
    }
    let p = match best {
        Some(end) => &cmd[..end],
        None => cmd.split([' ', '\t', ',']).next().unwrap_or(""),
    };
    let p = p.trim();
    (!p.is_empty()).then(|| p.to_string())
}

/// Replaces `%NAME%` (case-insensitive) by `with`.
fn replace_var(s: &str, name: &str, with: &str) -> String {
    let pat = format!("%{}%", name.to_ascii_lowercase());
    let lower = s.to_ascii_lowercase();
    match lower.find(&pat) {
        Some(i) if s.is_char_boundary(i) && s.is_char_boundary(i + pat.len()) => {
            format!("{}{}{}", &s[..i], with, &s[i + pat.len()..])
        }
        _ => s.to_string(),
    }
}

/// A Windows path (as a program part) to a `/`-separated volume path, or `None` when it has
/// no fixed place (a bare name, an unknown variable, a UNC path). `profile` is the volume path
/// of the user's profile for values read from an `NTUSER.DAT`.
pub fn windows_to_volume(program: &str, profile: Option<&str>) -> Option<String> {
    let mut p = program.trim().trim_matches('"').to_string();
    for (var, with) in [
        ("SystemRoot", "C:\\Windows"),
        ("windir", "C:\\Windows"),
        ("SystemDrive", "C:"),
        ("ProgramFiles", "C:\\Program Files"),
        ("ProgramFiles(x86)", "C:\\Program Files (x86)"),
        ("CommonProgramFiles", "C:\\Program Files\\Common Files"),
        ("ProgramData", "C:\\ProgramData"),
        ("ALLUSERSPROFILE", "C:\\ProgramData"),
    ] {
        p = replace_var(&p, var, with);
    }
    if let Some(prof) = profile {
        let prof = format!("C:{}", prof.replace('/', "\\"));
        for (var, sub) in [
            ("USERPROFILE", ""),
            ("APPDATA", "\\AppData\\Roaming"),
            ("LOCALAPPDATA", "\\AppData\\Local"),
            ("TEMP", "\\AppData\\Local\\Temp"),
            ("TMP", "\\AppData\\Local\\Temp"),
        ] {
            p = replace_var(&p, var, &format!("{prof}{sub}"));
        }
    }
    if p.contains('%') || p.starts_with("\\\\") {
        return None;
    }
    let lower = p.to_ascii_lowercase();
    let rest: String = if let Some(r) = lower
        .strip_prefix("\\??\\")
        .or_else(|| lower.strip_prefix("\\\\?\\"))
    {
        p[p.len() - r.len()..].to_string()
    } else {
        p.clone()
    };
    let lower = rest.to_ascii_lowercase();
    let path = if lower.starts_with("\\systemroot\\") {
        format!("Windows\\{}", &rest["\\systemroot\\".len()..])
    } else if lower.starts_with("system32\\") || lower.starts_with("syswow64\\") {
        // Drivers' ImagePath is often relative to the Windows folder.
        format!("Windows\\{rest}")
    } else if rest.len() >= 3
        && rest.as_bytes()[1] == b':'
        && rest.as_bytes()[0].is_ascii_alphabetic()
        && (rest.as_bytes()[2] == b'\\' || rest.as_bytes()[2] == b'/')
    {
        rest[3..].to_string()
    } else if let Some(r) = rest.strip_prefix('\\') {
        r.to_string()
    } else {
        return None;
    };
    let parts: Vec<&str> = path
        .split(['\\', '/'])
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    Some(format!("/{}", parts.join("/")))
}

/// Where Windows looks for a bare program name (`explorer.exe`, `userinit.exe`).
pub fn windows_search(name: &str) -> Vec<String> {
    if name.contains(['\\', '/', ':', '%']) || name.is_empty() {
        return Vec::new();
    }
    let with_ext = if name.contains('.') {
        name.to_string()
    } else {
        format!("{name}.exe")
    };
    ["Windows/System32", "Windows", "Windows/SysWOW64"]
        .iter()
        .map(|d| format!("/{d}/{with_ext}"))
        .collect()
}

/// The program of a Unix command line (systemd `ExecStart=`, cron, rc.local): the first word,
/// without systemd's `-@:+!` prefixes, when it is an absolute path.
pub fn unix_program(cmd: &str) -> Option<String> {
    let w = cmd.split_whitespace().next()?;
    let w = w.trim_start_matches(['-', '@', ':', '+', '!']);
    let w = w.trim_matches(['"', '\'']);
    (w.starts_with('/') && !w.contains("/../") && w.len() < 1024).then(|| w.to_string())
}

/// Whether a volume path is in a place users (and malware) can write.
pub fn user_writable(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [
        "/users/",
        "/documents and settings/",
        "/programdata/",
        "/temp/",
        "/tmp/",
        "appdata",
        "/home/",
        "/dev/shm/",
        "/var/tmp/",
        "/recycler/",
        "/$recycle.bin/",
    ]
    .iter()
    .any(|m| p.contains(m))
        || p.starts_with("/tmp/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_of_windows_command_lines() {
        let w = |s| windows_program(s);
        assert_eq!(
            w("\"C:\\Program Files\\A B\\x.exe\" /min").as_deref(),
            Some("C:\\Program Files\\A B\\x.exe")
        );
        assert_eq!(
            w("C:\\Program Files\\A B\\x.exe -s").as_deref(),
            Some("C:\\Program Files\\A B\\x.exe")
        );
        assert_eq!(
            w("C:\\Windows\\system32\\userinit.exe,").as_deref(),
            Some("C:\\Windows\\system32\\userinit.exe")
        );
        assert_eq!(
            w("%SystemRoot%\\system32\\svchost.exe -k netsvcs").as_deref(),
            Some("%SystemRoot%\\system32\\svchost.exe")
        );
        assert_eq!(w("explorer.exe").as_deref(), Some("explorer.exe"));
        assert_eq!(w("  "), None);
        assert_eq!(w("\""), None);
        // Multi-byte text never splits inside a character.
        let _ = w("é\u{1F600}.exe x");
    }

    #[test]
    fn windows_paths_to_volume_paths() {
        let v = |s| windows_to_volume(s, Some("/Users/bob"));
        assert_eq!(
            v("%SystemRoot%\\system32\\svchost.exe").as_deref(),
            Some("/Windows/system32/svchost.exe")
        );
        assert_eq!(
            v("\\SystemRoot\\System32\\drivers\\x.sys").as_deref(),
            Some("/Windows/System32/drivers/x.sys")
        );
        assert_eq!(
            v("System32\\drivers\\y.sys").as_deref(),
            Some("/Windows/System32/drivers/y.sys")
        );
        assert_eq!(
            v("\\??\\C:\\Windows\\z.sys").as_deref(),
            Some("/Windows/z.sys")
        );
        assert_eq!(
            v("%APPDATA%\\u.exe").as_deref(),
            Some("/Users/bob/AppData/Roaming/u.exe")
        );
        assert_eq!(v("D:\\a\\..\\..\\b.exe"), None);
        assert_eq!(v("%WEIRD%\\b.exe"), None);
        assert_eq!(v("\\\\server\\share\\b.exe"), None);
        assert_eq!(v("explorer.exe"), None);
        assert_eq!(
            windows_search("explorer.exe")[0],
            "/Windows/System32/explorer.exe"
        );
        assert!(windows_search("C:\\x.exe").is_empty());
    }

    #[test]
    fn unix_programs_and_writable_places() {
        assert_eq!(
            unix_program("-/usr/bin/foo --bar").as_deref(),
            Some("/usr/bin/foo")
        );
        assert_eq!(unix_program("foo"), None);
        assert!(user_writable("/Users/bob/AppData/Roaming/u.exe"));
        assert!(user_writable("/ProgramData/x.exe"));
        assert!(user_writable("/tmp/x"));
        assert!(!user_writable("/Windows/System32/svchost.exe"));
        assert!(!user_writable("/usr/bin/foo"));
    }
}
