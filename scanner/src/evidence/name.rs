//! Safe member names for the evidence ZIP.
//!
//! Paths come from host disks: hostile. A name in the ZIP must never escape the folder it is
//! extracted into (no `..`, no absolute path, no drive letter, no `\` that Windows tools read
//! as a separator), must be valid on Windows (no `:*?"<>|`, no trailing dot or space, no
//! reserved device name) and must stay short enough for the desk's tools. The original path
//! is kept, unchanged, in the manifest.

use std::collections::HashSet;

/// Longest component kept, in characters.
const MAX_COMPONENT: usize = 100;
/// Longest name kept, in bytes (Windows' MAX_PATH leaves room for the extraction folder).
const MAX_NAME: usize = 180;

/// Windows device names that cannot be file names, with or without an extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// One path component made safe; `None` when nothing is left (`.`, `..`, empty).
fn component(raw: &str) -> Option<String> {
    let mapped: String = raw
        .chars()
        .map(|c| match c {
            c if c.is_control() => '_',
            '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '/' => '_',
            c => c,
        })
        .take(MAX_COMPONENT)
        .collect();
    let trimmed = mapped.trim_end_matches(['.', ' ']).trim_start();
    if trimmed.is_empty() {
        return None;
    }
    let stem = trimmed
        .split('.')
        .next()
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    if RESERVED.contains(&stem.as_str()) {
        return Some(format!("_{trimmed}"));
    }
    Some(trimmed.to_string())
}

/// The ZIP name of a detected file: `<disk>/v<volume>/<path>[~stream]`, every component made
/// safe. `disk` is the target's file name (`sda`, `host.img`); disk-level areas (`<mbr>`) get
/// `<disk>/disk/mbr`.
pub fn safe_name(disk: &str, volume: Option<u32>, path: &str, stream: Option<&str>) -> String {
    let disk_part = disk
        .rsplit(['/', '\\'])
        .find_map(component)
        .unwrap_or_else(|| "disk".into());
    let vol = match volume {
        Some(v) => format!("v{v}"),
        None => "disk".into(),
    };
    let mut parts: Vec<String> = path.split(['/', '\\']).filter_map(component).collect();
    if parts.is_empty() {
        parts.push("file".into());
    }
    if let Some(s) = stream.filter(|s| !s.is_empty()) {
        let last = parts.pop().unwrap_or_default();
        let s = component(s).unwrap_or_else(|| "stream".into());
        parts.push(format!("{last}~{s}"));
    }
    let mut name = format!("{disk_part}/{vol}/{}", parts.join("/"));
    if name.len() > MAX_NAME {
        // Keep the end (the file name) and mark the cut.
        let tail: String = name
            .chars()
            .rev()
            .take(MAX_NAME - 12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let tail = tail.trim_start_matches('/');
        name = format!("{disk_part}/{vol}/~/{tail}");
        while name.len() > MAX_NAME {
            let mut c = name.chars();
            c.next_back();
            name = c.as_str().to_string();
        }
        name = name.trim_end_matches(['.', ' ', '/']).to_string();
    }
    name
}

/// Names already used in one ZIP, case-insensitively (Windows extracts `A.exe` and `a.exe`
/// onto the same file): a second one gets `~2`, `~3`, ...
#[derive(Debug, Default)]
pub struct Names(HashSet<String>);

impl Names {
    /// Reserves `name`, or the first free variant of it; returns the name to use.
    pub fn unique(&mut self, name: &str) -> String {
        if self.0.insert(name.to_lowercase()) {
            return name.to_string();
        }
        // At most one name per item (items are capped), so this ends long before u32::MAX.
        (2..=u32::MAX)
            .map(|n| format!("{name}~{n}"))
            .find(|c| self.0.insert(c.to_lowercase()))
            .unwrap_or_else(|| format!("{name}~"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escapes(name: &str) -> bool {
        name.starts_with('/')
            || name.contains('\\')
            || name.contains(':')
            || name
                .split('/')
                .any(|c| c == ".." || c == "." || c.is_empty())
    }

    #[test]
    fn ordinary_paths_keep_their_shape() {
        assert_eq!(
            safe_name("/tmp/host.img", Some(1), "/Users/bob/eicar.com", None),
            "host.img/v1/Users/bob/eicar.com"
        );
        assert_eq!(
            safe_name("/dev/sda", Some(2), "/a/b.txt", Some("hidden")),
            "sda/v2/a/b.txt~hidden"
        );
        assert_eq!(safe_name("/dev/sda", None, "<mbr>", None), "sda/disk/_mbr_");
    }

    #[test]
    fn hostile_paths_never_escape() {
        let cases = [
            "/../../etc/passwd",
            "..\\..\\Windows\\evil.dll",
            "/a/./../b",
            "C:\\x\\y.exe",
            "/a:b/c*d?e\"f<g>h|i",
            "/\u{0}\u{1}\n/..",
            "",
            "/",
            "////",
            "/trailing. . ./x ",
        ];
        for p in cases {
            let n = safe_name("../../img", Some(1), p, Some("../s:t"));
            assert!(!escapes(&n), "{p:?} -> {n:?}");
            assert!(!n.chars().any(|c| c.is_control()), "{n:?}");
        }
        assert_eq!(
            safe_name("x", Some(1), "/../../etc/passwd", None),
            "x/v1/etc/passwd"
        );
    }

    #[test]
    fn reserved_windows_names_are_prefixed() {
        assert_eq!(safe_name("d", Some(1), "/CON", None), "d/v1/_CON");
        assert_eq!(
            safe_name("d", Some(1), "/x/nul.txt", None),
            "d/v1/x/_nul.txt"
        );
        assert_eq!(safe_name("d", Some(1), "/console", None), "d/v1/console");
    }

    #[test]
    fn long_paths_are_cut_keeping_the_file_name() {
        let deep = format!("/{}/payload.exe", vec!["dir"; 200].join("/"));
        let n = safe_name("d", Some(3), &deep, None);
        assert!(n.len() <= MAX_NAME, "{}", n.len());
        assert!(
            n.starts_with("d/v3/~/") && n.ends_with("/payload.exe"),
            "{n}"
        );
        assert!(!escapes(&n), "{n}");
        let wide = format!("/{}", "é".repeat(500));
        let n = safe_name("d", Some(3), &wide, None);
        assert!(n.len() <= MAX_NAME && !escapes(&n), "{n}");
    }

    #[test]
    fn names_are_unique_case_insensitively() {
        let mut names = Names::default();
        assert_eq!(names.unique("d/v1/A.exe"), "d/v1/A.exe");
        assert_eq!(names.unique("d/v1/a.EXE"), "d/v1/a.EXE~2");
        assert_eq!(names.unique("d/v1/a.exe"), "d/v1/a.exe~3");
    }
}
