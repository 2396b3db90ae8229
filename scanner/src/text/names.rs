//! Names made from what a host says about itself (computer names, DMI strings, disk serials),
//! which may be hostile or placeholders: sanitised for file names, chosen for people.

use crate::record::HostRecord;

/// Keeps `[A-Za-z0-9-_]`, maps the rest to `_`, at most 40 chars; `unknown` if empty.
pub fn sanitize_host(s: &str) -> String {
    let s: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if s.trim_matches('_').is_empty() {
        "unknown".into()
    } else {
        s
    }
}

/// The string, unless it is empty or a firmware placeholder (`To be filled by O.E.M.`).
pub fn useful(s: Option<&String>) -> Option<&str> {
    let s = s?.trim();
    let bad = [
        "",
        "none",
        "default string",
        "to be filled by o.e.m.",
        "not specified",
        "0",
    ];
    if bad.contains(&s.to_ascii_lowercase().as_str()) || s.contains("O.E.M.") {
        None
    } else {
        Some(s)
    }
}

/// The machine's name for humans: asset tag, Windows or Linux name, DMI product + serial.
pub fn device_name(h: &HostRecord) -> String {
    if let Some(t) = h.asset_tag.as_deref().filter(|t| !t.trim().is_empty()) {
        return t.trim().to_string();
    }
    if let Some(n) = h.windows_names.first().or(h.linux_names.first()) {
        return n.clone();
    }
    let product = useful(h.dmi.get("product_name")).unwrap_or("");
    match useful(h.dmi.get("product_serial")) {
        Some(s) if !product.is_empty() => format!("{product}-{s}"),
        Some(s) => s.to_string(),
        None if !product.is_empty() => product.to_string(),
        None => h
            .disks
            .iter()
            .find_map(|d| d.serial.clone())
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// The ASCII letter-and-digit runs of `s` joined by single `-`, at most `max` characters
/// (whole runs only, unless the first run alone is longer).
pub fn dashed(s: &str, max: usize) -> String {
    let mut out = String::new();
    for run in s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|r| !r.is_empty())
    {
        let need = run.len() + usize::from(!out.is_empty());
        if out.len() + need > max {
            if out.is_empty() {
                out.push_str(&run[..max]);
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(
            sanitize_host("Standard PC (Q35 + ICH9, 2009)\n"),
            "Standard_PC__Q35___ICH9__2009_"
        );
        assert_eq!(sanitize_host("  "), "unknown");
        assert_eq!(sanitize_host("???"), "unknown");
    }
}
