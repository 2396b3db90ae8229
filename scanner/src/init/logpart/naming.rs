//! The scan folder's name: sortable and readable (`2026-11-28_143000_<device>`).

use crate::record::HostRecord;
use crate::text::names::{dashed, sanitize_host, useful};

/// Sortable, readable folder name: `2026-11-28_143000_<device>`.
pub fn folder_name(h: &HostRecord) -> String {
    let stamp: String = h
        .started
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let stamp = if stamp.len() == 14 {
        format!(
            "{}-{}-{}_{}",
            &stamp[..4],
            &stamp[4..6],
            &stamp[6..8],
            &stamp[8..]
        )
    } else {
        "0000-00-00_000000".into()
    };
    format!("{stamp}_{}", folder_device(h))
}

/// The machine part of a folder name: the asset tag or computer name (sanitised as typed);
/// without one, DMI vendor + model + serial as `[A-Za-z0-9]` runs joined by single `-`
/// (`QEMU-Standard-PC-Q35-ICH9-2009`), then a disk serial, then `unknown`. The save adds a
/// suffix when the folder exists already, so the name stays unique.
fn folder_device(h: &HostRecord) -> String {
    let named = h
        .asset_tag
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            h.windows_names
                .first()
                .or(h.linux_names.first())
                .map(String::as_str)
        });
    if let Some(n) = named {
        return sanitize_host(n);
    }
    let dmi: Vec<&str> = ["sys_vendor", "product_name", "product_serial"]
        .iter()
        .filter_map(|k| useful(h.dmi.get(*k)))
        .collect();
    let from_dmi = dashed(&dmi.join(" "), 60);
    if !from_dmi.is_empty() {
        return from_dmi;
    }
    let disk = h
        .disks
        .iter()
        .find_map(|d| d.serial.as_deref().map(|s| dashed(s, 60)))
        .unwrap_or_default();
    if disk.is_empty() {
        "unknown".into()
    } else {
        disk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_without_a_tag_or_name_read_as_words() {
        let mut h = HostRecord {
            started: "2026-12-01T20:13:58Z".into(),
            ..HostRecord::default()
        };
        h.dmi.insert("sys_vendor".into(), "QEMU".into());
        h.dmi.insert(
            "product_name".into(),
            "Standard PC (Q35 + ICH9, 2009)\n".into(),
        );
        assert_eq!(
            folder_name(&h),
            "2026-12-01_201358_QEMU-Standard-PC-Q35-ICH9-2009"
        );
        h.dmi.insert("product_serial".into(), " CZC-1234/5 ".into());
        assert_eq!(
            folder_name(&h),
            "2026-12-01_201358_QEMU-Standard-PC-Q35-ICH9-2009-CZC-1234-5"
        );
        // Placeholders are not names; a disk serial is the last resort, then `unknown`.
        h.dmi.clear();
        h.dmi
            .insert("product_name".into(), "To be filled by O.E.M.".into());
        h.disks.push(crate::record::HostDisk {
            name: "sda".into(),
            serial: Some("WD-WCC4 N0ABCDEF".into()),
            ..crate::record::HostDisk::default()
        });
        assert_eq!(folder_name(&h), "2026-12-01_201358_WD-WCC4-N0ABCDEF");
        h.disks.clear();
        assert_eq!(folder_name(&h), "2026-12-01_201358_unknown");
        // An asset tag or a computer name keeps today's form.
        h.windows_names.push("PC-ACCUEIL-03".into());
        assert_eq!(folder_name(&h), "2026-12-01_201358_PC-ACCUEIL-03");
        h.asset_tag = Some("INV 42".into());
        assert_eq!(folder_name(&h), "2026-12-01_201358_INV_42");
        assert_eq!(dashed("--a  b--", 10), "a-b");
        assert_eq!(dashed("abcdefghij klm", 12), "abcdefghij");
        assert_eq!(dashed("abcdefghijklmnop", 5), "abcde");
        assert!(dashed("???", 5).is_empty());
        assert!(dashed(&"x ".repeat(100), 60).len() <= 60);
    }
}
