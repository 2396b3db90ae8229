//! The base host record, built by PID 1 before it forks the scan child: who scans what, when.
//! Cheap sysfs reads only (DMI, disks, RTC); nothing here reads a host disk's content (the
//! machine names from the registry and `/etc/hostname` are added by the scan child).

use std::collections::BTreeMap;
use std::path::Path;

use crate::record::{HostDisk, HostRecord, RulesInfo, RunMode};

/// DMI attributes copied into the record when present and meaningful.
pub const DMI_KEYS: &[&str] = &[
    "sys_vendor",
    "product_name",
    "product_version",
    "product_serial",
    "product_uuid",
    "product_sku",
    "product_family",
    "board_vendor",
    "board_name",
    "board_serial",
    "board_asset_tag",
    "chassis_serial",
    "chassis_asset_tag",
    "bios_vendor",
    "bios_version",
    "bios_date",
];

/// What PID 1 knows when it builds the record.
#[derive(Debug, Clone)]
pub struct HostInput<'a> {
    /// `/sys` (a fixture directory in tests).
    pub sys: &'a Path,
    /// The stick's identity.
    pub stick_id: Option<&'a str>,
    /// Kernel names of the disks that will be scanned.
    pub scanned: &'a [String],
    /// The rule set.
    pub rules: RulesInfo,
    /// Interactive or unattended.
    pub mode: RunMode,
    /// The `site` setting.
    pub site: Option<String>,
    /// Unix time now (system clock).
    pub now: u64,
}

/// Reads a small sysfs text file, trimmed; `None` if missing or empty.
fn small(p: &Path) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(p).ok()?;
    let mut b = Vec::new();
    f.by_ref().take(512).read_to_end(&mut b).ok()?;
    let s = String::from_utf8_lossy(&b)
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// DMI identity from `<sys>/class/dmi/id`.
pub fn dmi(sys: &Path) -> BTreeMap<String, String> {
    let dir = sys.join("class/dmi/id");
    DMI_KEYS
        .iter()
        .filter_map(|k| small(&dir.join(k)).map(|v| (k.to_string(), v)))
        .collect()
}

/// Which clock the system time comes from: `rtc-utc` when the kernel set it from a hardware
/// clock at boot (`hctosys`; the kernel reads the RTC as UTC: a Windows machine whose RTC keeps
/// local time is off by its UTC offset), `unknown` otherwise (no RTC: the time is meaningless).
pub fn clock(sys: &Path, now: u64) -> String {
    let rtc = sys.join("class/rtc");
    let from_rtc = std::fs::read_dir(&rtc)
        .into_iter()
        .flatten()
        .flatten()
        .take(16)
        .any(|e| small(&e.path().join("hctosys")).as_deref() == Some("1"));
    // Before 2020: the clock was certainly not set.
    if from_rtc && now > 1_577_836_800 {
        "rtc-utc".into()
    } else {
        "unknown".into()
    }
}

/// The disks the kernel sees (`<sys>/block`), without loop/ram/zram/optical devices.
pub fn disks(sys: &Path, scanned: &[String]) -> Vec<HostDisk> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(sys.join("block")) else {
        return out;
    };
    for e in rd.flatten().take(256) {
        let name = e.file_name().to_string_lossy().to_string();
        if ["loop", "ram", "zram", "sr", "fd", "dm-", "md"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let d = e.path();
        let dev = d.join("device");
        let size = small(&d.join("size"))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            .saturating_mul(512);
        let model = small(&dev.join("model"));
        let serial = small(&dev.join("serial"))
            .or_else(|| small(&d.join("serial")))
            .or_else(|| vpd80(&dev.join("vpd_pg80")))
            .or_else(|| small(&d.join("device/wwid")));
        let real = std::fs::canonicalize(&d)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        let bus = if real.contains("/usb") {
            "usb"
        } else if name.starts_with("nvme") {
            "nvme"
        } else if real.contains("virtio") || name.starts_with("vd") {
            "virtio"
        } else if name.starts_with("mmcblk") {
            "mmc"
        } else if real.contains("/ata") {
            "sata"
        } else if name.starts_with("sd") {
            "scsi"
        } else {
            "other"
        };
        out.push(HostDisk {
            scanned: scanned.contains(&name),
            name,
            model,
            serial,
            size,
            bus: Some(bus.into()),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The serial number from a SCSI VPD page 0x80 (4-byte header, then the ASCII serial).
fn vpd80(p: &Path) -> Option<String> {
    let b = std::fs::read(p).ok()?;
    let n = usize::from(*b.get(3)?);
    let s = String::from_utf8_lossy(b.get(4..(4 + n).min(b.len()))?)
        .trim()
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// 8 random bytes as hex.
fn random_hex() -> String {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The base host record (session fields filled later by the child).
pub fn collect(i: &HostInput<'_>) -> HostRecord {
    let stamp = super::logpart::utc_stamp(i.now);
    let stick = i.stick_id.map(str::to_string);
    let scan_id = format!(
        "{}-{stamp}-{}",
        super::logpart::sanitize_host(stick.as_deref().unwrap_or("nostick")),
        random_hex()
    );
    HostRecord {
        scan_id,
        stick_id: stick,
        scanner_version: env!("CARGO_PKG_VERSION").into(),
        rules: i.rules.clone(),
        started: super::logpart::rfc3339(i.now),
        ended: None,
        clock: clock(i.sys, i.now),
        mode: i.mode,
        full: true,
        cancelled: false,
        asset_tag: None,
        dmi: dmi(i.sys),
        disks: disks(i.sys, i.scanned),
        windows_names: Vec::new(),
        linux_names: Vec::new(),
        notes: Vec::new(),
        site: i.site.clone(),
        pseudonymised: false,
        resumed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(root: &Path, rel: &str, v: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    }

    #[test]
    fn collects_dmi_disks_and_clock_from_a_sysfs_fixture() {
        let t = tempfile::tempdir().unwrap();
        let s = t.path();
        put(s, "class/dmi/id/sys_vendor", b"Dell Inc.\n");
        put(s, "class/dmi/id/product_name", b"OptiPlex 7090\n");
        put(s, "class/dmi/id/product_serial", b"ABC1234\n");
        put(s, "class/rtc/rtc0/hctosys", b"1\n");
        put(s, "block/sda/size", b"2048\n");
        put(s, "block/sda/device/model", b"Samsung SSD 870  \n");
        let mut vpd = vec![0u8, 0x80, 0, 6];
        vpd.extend_from_slice(b"S5Y1NX");
        put(s, "block/sda/device/vpd_pg80", &vpd);
        put(s, "block/nvme0n1/size", b"4096\n");
        put(s, "block/nvme0n1/device/serial", b"NV123 \n");
        put(s, "block/loop0/size", b"8\n");
        let scanned = vec!["sda".to_string()];
        let h = collect(&HostInput {
            sys: s,
            stick_id: Some("VIGIE-0001"),
            scanned: &scanned,
            now: 1_795_876_200,
            site: Some("Nantes".into()),
            rules: RulesInfo::default(),
            mode: RunMode::Unattended,
        });
        assert_eq!(h.dmi["product_serial"], "ABC1234");
        assert_eq!(h.dmi["sys_vendor"], "Dell Inc.");
        assert_eq!(h.clock, "rtc-utc");
        assert_eq!(h.started, "2026-11-28T14:30:00Z");
        assert!(
            h.scan_id.starts_with("VIGIE-0001-20261128T143000Z-"),
            "{}",
            h.scan_id
        );
        assert_eq!(h.disks.len(), 2);
        assert_eq!(h.disks[1].name, "sda");
        assert_eq!(h.disks[1].model.as_deref(), Some("Samsung SSD 870"));
        assert_eq!(h.disks[1].serial.as_deref(), Some("S5Y1NX"));
        assert_eq!(h.disks[1].size, 2048 * 512);
        assert!(h.disks[1].scanned && !h.disks[0].scanned);
        assert_eq!(h.disks[0].bus.as_deref(), Some("nvme"));
        assert_eq!(h.disks[0].serial.as_deref(), Some("NV123"));
        assert_eq!(h.site.as_deref(), Some("Nantes"));
        // No RTC: the clock is not trusted.
        assert_eq!(clock(&s.join("nothing"), 1_795_876_200), "unknown");
        // Two collections never share a scan id.
        let h2 = collect(&HostInput {
            sys: s,
            stick_id: None,
            scanned: &[],
            rules: RulesInfo::default(),
            mode: RunMode::Interactive,
            site: None,
            now: 1_795_876_200,
        });
        assert_ne!(h.scan_id, h2.scan_id);
    }
}
