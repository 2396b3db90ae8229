//! Machine names read from the scanned disks, for the host record: the Windows computer name
//! from the SYSTEM registry hive and the Linux host name from `/etc/hostname`.
//!
//! Runs only inside the scan child (a reader bug must not kill PID 1), on file contents the
//! engine captured during the walk (see `ScanOptions::capture`). The hive is parsed by the
//! read-only, pure-Rust `nt-hive` crate, under a panic guard; every string is bounded.

use nt_hive::Hive;

/// Paths (lower case, from the volume root) whose content the scan captures for this module.
pub const CAPTURE: &[&str] = &["windows/system32/config/system", "etc/hostname"];
/// Largest file captured (a SYSTEM hive is typically 10-40 MiB).
pub const CAPTURE_MAX: u64 = 128 << 20;

fn clean(s: &str, max: usize) -> Option<String> {
    let s: String = s
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    (!s.is_empty()).then_some(s)
}

/// A `REG_SZ` value at `path` (backslash-separated, from the root key).
pub fn hive_string(bytes: &[u8], path: &str, value: &str) -> Option<String> {
    crate::fs::guard(|| -> Option<String> {
        let hive = Hive::new(bytes)
            .or_else(|_| Hive::without_validation(bytes))
            .ok()?;
        let root = hive.root_key_node().ok()?;
        let key = root.subpath(path)?.ok()?;
        let v = key.value(value)?.ok()?;
        if v.data_size() > 4096 {
            return None;
        }
        v.string_data().ok()
    })
    .ok()
    .flatten()
    .and_then(|s| clean(&s, 256))
}

/// A `REG_DWORD` value at `path`.
pub fn hive_dword(bytes: &[u8], path: &str, value: &str) -> Option<u32> {
    crate::fs::guard(|| -> Option<u32> {
        let hive = Hive::new(bytes)
            .or_else(|_| Hive::without_validation(bytes))
            .ok()?;
        let root = hive.root_key_node().ok()?;
        let key = root.subpath(path)?.ok()?;
        key.value(value)?.ok()?.dword_data().ok()
    })
    .ok()
    .flatten()
}

/// The computer name in a SYSTEM hive: `ControlSet00N\Control\ComputerName\ComputerName`,
/// `ComputerName`, with N from `Select\Current` (then 1 and 2 as fallbacks).
pub fn windows_name(system_hive: &[u8]) -> Option<String> {
    let current = hive_dword(system_hive, "Select", "Current").filter(|&n| (1..=999).contains(&n));
    let mut sets: Vec<u32> = current.into_iter().collect();
    sets.extend([1, 2]);
    sets.into_iter().find_map(|n| {
        hive_string(
            system_hive,
            &format!("ControlSet{n:03}\\Control\\ComputerName\\ComputerName"),
            "ComputerName",
        )
        .and_then(|s| clean(&s, 63))
    })
}

/// The host name in an `/etc/hostname`: the first non-comment word.
pub fn linux_name(file: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&file[..file.len().min(4096)]);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        })
        .and_then(|w| clean(w, 253))
}

/// Names from the captured files: (Windows names, Linux names), deduplicated, in order.
pub fn names(captured: &[(String, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    let mut win = Vec::new();
    let mut lin = Vec::new();
    for (path, data) in captured {
        let p = path.trim_start_matches('/').to_ascii_lowercase();
        if p == CAPTURE[0] {
            if let Some(n) = windows_name(data) {
                if !win.contains(&n) {
                    win.push(n);
                }
            }
        } else if p == CAPTURE[1] {
            if let Some(n) = linux_name(data) {
                if !lin.contains(&n) {
                    lin.push(n);
                }
            }
        }
    }
    (win, lin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_hostnames() {
        assert_eq!(
            linux_name(b"# comment\n\n  pc-accueil-03 \n").as_deref(),
            Some("pc-accueil-03")
        );
        assert_eq!(linux_name(b"bad\x01name\n"), None);
        assert_eq!(linux_name(b""), None);
        assert_eq!(linux_name(&[0xffu8; 10_000]), None);
    }

    #[test]
    fn garbage_hives_give_nothing() {
        assert_eq!(windows_name(b"regf garbage"), None);
        assert_eq!(windows_name(&[0u8; 8192]), None);
        let mut h = vec![0u8; 8192];
        h[..4].copy_from_slice(b"regf");
        assert_eq!(windows_name(&h), None);
    }

    /// The nt-hive crate's own test hive (read from the crate sources, not copied): string
    /// and dword lookups by path.
    #[test]
    fn reads_values_from_the_crate_test_hive() {
        let Some(home) = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo"))
            })
        else {
            return;
        };
        let Some(hive) = std::fs::read_dir(home.join("registry/src"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|d| d.path().join("nt-hive-0.3.0/testdata/testhive"))
            .find(|p| p.exists())
        else {
            eprintln!("nt-hive test hive not found: skipped");
            return;
        };
        let bytes = std::fs::read(hive).unwrap();
        assert_eq!(
            hive_string(&bytes, "data-test", "reg-sz").as_deref(),
            Some("sz-test")
        );
        assert_eq!(hive_dword(&bytes, "data-test", "dword"), Some(42));
        assert_eq!(hive_string(&bytes, "nope\\nothing", "x"), None);
        // Truncated hive: no panic, no answer or the same answer.
        let _ = hive_string(&bytes[..bytes.len() / 3], "data-test", "reg-sz");
    }
}
