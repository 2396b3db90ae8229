//! Autostart entries in Windows registry hives (SYSTEM, SOFTWARE, `NTUSER.DAT`), read with
//! the read-only `nt-hive` crate under a panic guard. Hives are hostile: every list is capped,
//! every value bounded, and a hive whose base block says it is dirty (transaction logs not
//! replayed) is read as it is and each entry from it carries the note `hive_dirty`.

use nt_hive::{Hive, KeyNode, KeyValueDataType};

use super::Raw;

/// Largest value data read (bytes).
const MAX_VALUE: u32 = 16 * 1024;
/// Most subkeys looked at under one key (services, IFEO).
const MAX_SUBKEYS: usize = 8192;
/// Most values looked at in one key.
const MAX_VALUES: usize = 1024;
/// Most entries taken from one hive.
pub const MAX_ENTRIES: usize = 4096;

/// Which hive a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiveKind {
    /// `Windows\System32\config\SYSTEM`.
    System,
    /// `Windows\System32\config\SOFTWARE`.
    Software,
    /// A user's `NTUSER.DAT`.
    User,
}

/// Whether the base block's two sequence numbers differ (the hive was not cleanly written and
/// its transaction logs hold newer data).
pub fn is_dirty(bytes: &[u8]) -> bool {
    let word = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    bytes.starts_with(b"regf") && word(4) != word(8)
}

type K<'h, 'b> = KeyNode<'h, &'b [u8]>;

/// A string-like value (`REG_SZ`, `REG_EXPAND_SZ`, `REG_MULTI_SZ` joined by spaces).
fn string_value(key: &K<'_, '_>, name: &str) -> Option<String> {
    let v = key.value(name)?.ok()?;
    value_string(&v)
}

fn value_string(v: &nt_hive::KeyValue<'_, &[u8]>) -> Option<String> {
    if v.data_size() > MAX_VALUE {
        return None;
    }
    let s = match v.data_type().ok()? {
        KeyValueDataType::RegSZ | KeyValueDataType::RegExpandSZ => v.string_data().ok()?,
        KeyValueDataType::RegMultiSZ => v
            .multi_string_data()
            .ok()?
            .take(64)
            .filter_map(Result::ok)
            .collect::<Vec<_>>()
            .join(" "),
        _ => return None,
    };
    let s = super::printable(&s);
    (!s.is_empty()).then_some(s)
}

fn dword_value(key: &K<'_, '_>, name: &str) -> Option<u32> {
    key.value(name)?.ok()?.dword_data().ok()
}

/// Every string value of a key: (value name, data).
fn all_strings(key: &K<'_, '_>) -> Vec<(String, String)> {
    let Some(Ok(values)) = key.values() else {
        return Vec::new();
    };
    values
        .take(MAX_VALUES)
        .filter_map(Result::ok)
        .filter_map(|v| {
            let name = v.name().ok()?.to_string_lossy();
            Some((super::printable(&name), value_string(&v)?))
        })
        .collect()
}

fn subkeys<'h, 'b>(key: &K<'h, 'b>) -> Vec<(String, K<'h, 'b>)> {
    let Some(Ok(keys)) = key.subkeys() else {
        return Vec::new();
    };
    keys.take(MAX_SUBKEYS)
        .filter_map(Result::ok)
        .filter_map(|k| Some((super::printable(&k.name().ok()?.to_string_lossy()), k)))
        .collect()
}

fn raw(kind: &'static str, key: &str, value: &str, command: String) -> Raw {
    Raw {
        kind,
        source: format!("{key}|{value}"),
        command,
        start: None,
    }
}

/// The current control set's number (`Select\Current`, 1 when absent or odd).
fn current_set(root: &K<'_, '_>) -> u32 {
    root.subpath("Select")
        .and_then(Result::ok)
        .and_then(|k| dword_value(&k, "Current"))
        .filter(|n| (1..=999).contains(n))
        .unwrap_or(1)
}

/// `Run`-style keys of SOFTWARE (prefix "") and NTUSER.DAT (prefix `Software\`).
const RUN_KEYS: &[&str] = &[
    "Microsoft\\Windows\\CurrentVersion\\Run",
    "Microsoft\\Windows\\CurrentVersion\\RunOnce",
    "Microsoft\\Windows\\CurrentVersion\\RunServices",
    "Microsoft\\Windows\\CurrentVersion\\RunServicesOnce",
    "Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run",
    "Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Run",
    "Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
    "Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\RunServices",
];

fn run_keys(root: &K<'_, '_>, prefix: &str, out: &mut Vec<Raw>) {
    for k in RUN_KEYS {
        let path = format!("{prefix}{k}");
        if let Some(Ok(key)) = root.subpath(&path) {
            for (name, data) in all_strings(&key) {
                out.push(raw("run_key", &path, &name, data));
            }
        }
    }
    let winlogon = format!("{prefix}Microsoft\\Windows NT\\CurrentVersion\\Winlogon");
    if let Some(Ok(key)) = root.subpath(&winlogon) {
        for v in ["Shell", "Userinit", "Taskman", "AppSetup"] {
            if let Some(data) = string_value(&key, v) {
                // Userinit is a comma-separated list of programs.
                for part in data.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    out.push(raw("winlogon", &winlogon, v, part.to_string()));
                }
            }
        }
    }
    let windows = format!("{prefix}Microsoft\\Windows NT\\CurrentVersion\\Windows");
    if let Some(Ok(key)) = root.subpath(&windows) {
        for v in ["Load", "Run", "AppInit_DLLs"] {
            if let Some(data) = string_value(&key, v) {
                out.push(raw("run_key", &windows, v, data));
            }
        }
    }
}

fn ifeo(root: &K<'_, '_>, out: &mut Vec<Raw>) {
    for base in [
        "Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options",
        "Wow6432Node\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options",
    ] {
        let Some(Ok(key)) = root.subpath(base) else {
            continue;
        };
        for (name, k) in subkeys(&key) {
            if let Some(d) = string_value(&k, "Debugger") {
                out.push(raw(
                    "ifeo_debugger",
                    &format!("{base}\\{name}"),
                    "Debugger",
                    d,
                ));
            }
        }
    }
}

fn services(root: &K<'_, '_>, out: &mut Vec<Raw>) {
    let base = format!("ControlSet{:03}\\Services", current_set(root));
    let Some(Ok(key)) = root.subpath(&base) else {
        return;
    };
    for (name, k) in subkeys(&key) {
        let start = dword_value(&k, "Start");
        // Type 1 kernel driver, 2 filesystem driver, 8 recognizer: drivers; the rest services.
        let kind = match dword_value(&k, "Type") {
            Some(t) if t & 0xb != 0 && t & 0x30 == 0 => "driver",
            _ => "service",
        };
        let path = format!("{base}\\{name}");
        if let Some(img) = string_value(&k, "ImagePath") {
            let mut r = raw(kind, &path, "ImagePath", img);
            r.start = start;
            out.push(r);
        }
        if let Some(Ok(p)) = k.subkey("Parameters") {
            if let Some(dll) = string_value(&p, "ServiceDll") {
                let mut r = raw(kind, &format!("{path}\\Parameters"), "ServiceDll", dll);
                r.start = start;
                out.push(r);
            }
        }
        if out.len() >= MAX_ENTRIES {
            return;
        }
    }
}

/// The raw entries of one hive (unresolved), at most [`MAX_ENTRIES`]. Never panics.
pub fn entries(bytes: &[u8], kind: HiveKind) -> Vec<Raw> {
    let got = crate::fs::guard(|| {
        let mut out = Vec::new();
        let Ok(hive) = Hive::new(bytes).or_else(|_| Hive::without_validation(bytes)) else {
            return out;
        };
        let Ok(root) = hive.root_key_node() else {
            return out;
        };
        match kind {
            HiveKind::System => services(&root, &mut out),
            HiveKind::Software => {
                run_keys(&root, "", &mut out);
                ifeo(&root, &mut out);
            }
            HiveKind::User => run_keys(&root, "Software\\", &mut out),
        }
        out.truncate(MAX_ENTRIES);
        out
    });
    got.unwrap_or_default()
}
