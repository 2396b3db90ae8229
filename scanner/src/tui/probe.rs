//! What the machine screen shows before the scan: each disk's identity from sysfs, its volumes
//! from the partition table and signature detection, and storage controllers without a driver.
//!
//! Runs in the UI child only (never in PID 1): it reads host disks, through the same hostile-
//! input-safe layers as the engine, with panics caught.

use std::path::Path;
use std::sync::Arc;

use super::app::{Machine, MachineDisk, MachineVolume, VolumeKind};
use crate::disk::table::{read_partition_table, Partition, PartitionType};
use crate::fs::{guard, Walker};
use crate::io::{Device, FileDevice, ReadAt, Slice};
use crate::record::{FsKind, TableKind};

/// A disk PID 1 knows about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    /// Kernel name.
    pub name: String,
    /// Whether PID 1 made it read-only (an unprotected disk is never opened).
    pub protected: bool,
}

fn sysfs(path: &Path) -> Option<String> {
    clean(&std::fs::read(path).ok()?)
}

/// A sysfs or VPD string for the screen: printable ASCII only, runs of spaces collapsed,
/// at most 40 characters (device strings come from the hardware: untrusted).
pub fn clean(bytes: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(bytes);
    let words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .map(|w| w.chars().filter(char::is_ascii_graphic).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect();
    let s: String = words.join(" ").chars().take(40).collect();
    (!s.is_empty()).then_some(s)
}

/// The serial number: `device/serial` (NVMe, virtio, USB), else the SCSI/ATA unit serial
/// number page (VPD 0x80: 4 header bytes, then the serial).
fn serial(sys: &Path) -> Option<String> {
    sysfs(&sys.join("device/serial")).or_else(|| {
        let vpd = std::fs::read(sys.join("device/vpd_pg80")).ok()?;
        clean(vpd.get(4..)?)
    })
}

/// Bus from the device's sysfs path.
pub fn bus_from_path(p: &str) -> Option<&'static str> {
    [
        ("/usb", "usb"),
        ("/nvme", "nvme"),
        ("/virtio", "virtio"),
        ("/ata", "sata"),
        ("/mmc", "mmc"),
        ("/host", "scsi"),
    ]
    .iter()
    .find(|(k, _)| p.contains(k))
    .map(|(_, v)| *v)
}

/// Reads one disk: identity from sysfs, volumes from its bytes.
pub fn disk(spec: &DiskSpec) -> MachineDisk {
    let sys = Path::new("/sys/block").join(&spec.name);
    let real = std::fs::canonicalize(&sys)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let sectors: u64 = sysfs(&sys.join("size"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut d = MachineDisk {
        name: spec.name.clone(),
        dev: format!("/dev/{}", spec.name),
        model: sysfs(&sys.join("device/model")),
        serial: serial(&sys),
        bus: bus_from_path(&real).map(str::to_string),
        size: sectors.saturating_mul(512),
        volumes: Vec::new(),
        protected: spec.protected,
    };
    if spec.protected {
        if let Ok(dev) = FileDevice::open(Path::new(&d.dev)) {
            let ss = dev.is_block_device().then(|| dev.sector_size());
            let dev: Device = Arc::new(dev);
            d.size = dev.size().max(d.size);
            d.volumes = volumes(&dev, ss);
        }
    }
    d
}

/// The volumes of a disk image or device.
pub fn volumes(dev: &Device, sector_size: Option<u32>) -> Vec<MachineVolume> {
    let parts = match guard(|| read_partition_table(dev.as_ref(), sector_size)) {
        Ok(Ok(t)) if t.kind != TableKind::None => t.partitions,
        _ => vec![Partition::whole_disk(dev.size())],
    };
    let mut out: Vec<MachineVolume> = parts
        .iter()
        .take(256)
        .map(|p| {
            let v: Device = Arc::new(Slice::new(dev.clone(), p.start, p.len));
            let fs = match guard(|| crate::disk::detect::detect(v.as_ref())) {
                Ok(Ok(k)) => k,
                _ => FsKind::Unknown,
            };
            let (label, readable) = label(fs, &v);
            MachineVolume {
                number: p.number,
                fs,
                size: p.len,
                label,
                kind: guess_kind(fs, p, readable),
                // Issue 14: for the duration estimates and the time left.
                allocated: guard(|| crate::fs::allocated::allocated(fs, v.as_ref()))
                    .ok()
                    .flatten(),
            }
        })
        .collect();
    // The largest NTFS volume is the likely Windows system when none is marked otherwise.
    if !out.iter().any(|v| v.kind == VolumeKind::WindowsSystem) {
        if let Some(v) = out
            .iter_mut()
            .filter(|v| v.fs == FsKind::Ntfs && v.kind == VolumeKind::Data)
            .max_by_key(|v| v.size)
        {
            if v.size >= 8 << 30 || v.label.as_deref().is_some_and(looks_windows) {
                v.kind = VolumeKind::WindowsSystem;
            }
        }
    }
    out
}

fn looks_windows(l: &str) -> bool {
    let l = l.to_ascii_lowercase();
    ["windows", "os", "system", "win"]
        .iter()
        .any(|k| l == *k || l.starts_with("windows"))
}

fn label(fs: FsKind, v: &Device) -> (Option<String>, bool) {
    let open = || -> Option<Option<String>> {
        match fs {
            FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => {
                crate::fs::fat::open(v.clone()).ok().map(|w| w.info().label)
            }
            FsKind::Ntfs => crate::fs::ntfs::open(v.clone())
                .ok()
                .map(|w| w.info().label),
            FsKind::Exfat => crate::fs::exfat::open(v.clone())
                .ok()
                .map(|w| w.info().label),
            FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => crate::fs::ext4::open(v.clone())
                .ok()
                .map(|w| w.info().label),
            _ => Some(None),
        }
    };
    match guard(open) {
        Ok(Some(l)) => (l, true),
        _ => (None, false),
    }
}

const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const LINUX_ROOT_X86_64: &str = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
const MS_RESERVED: &str = "e3c9e316-0b5c-4db8-817d-f92df00215ae";
const MS_RECOVERY: &str = "de94bba4-06d1-4d40-a16a-bfd50179d6ac";

/// What a volume looks like, from its content kind, its declared type and whether its
/// filesystem opened.
pub fn guess_kind(fs: FsKind, p: &Partition, readable: bool) -> VolumeKind {
    let gpt = match &p.type_id {
        PartitionType::Gpt(g) => g.as_str(),
        PartitionType::Mbr(_) => "",
    };
    match fs {
        FsKind::Bitlocker | FsKind::Luks => VolumeKind::Encrypted,
        FsKind::Lvm | FsKind::Raid | FsKind::Swap => VolumeKind::Unsupported,
        FsKind::Unknown if gpt == MS_RESERVED => VolumeKind::MsReserved,
        FsKind::Unknown if p.len <= 16 << 20 => VolumeKind::Empty,
        FsKind::Unknown => VolumeKind::Unreadable,
        _ if !readable => VolumeKind::Unreadable,
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32
            if gpt == ESP || p.type_id == PartitionType::Mbr(0xef) =>
        {
            VolumeKind::EfiBoot
        }
        FsKind::Ntfs if p.bootable && p.len >= 4 << 30 => VolumeKind::WindowsSystem,
        FsKind::Ntfs if gpt == MS_RECOVERY => VolumeKind::Data,
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4
            if gpt == LINUX_ROOT_X86_64 || p.len >= 4 << 30 =>
        {
            VolumeKind::LinuxSystem
        }
        _ => VolumeKind::Data,
    }
}

/// PCI storage controllers (SCSI, RAID, SATA, SAS, NVMe classes) that no driver claimed:
/// Intel RST/VMD hides NVMe disks behind one.
pub fn driverless_controllers(pci: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(pci) else {
        return out;
    };
    let mut entries: Vec<_> = rd.flatten().take(4096).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let class = sysfs(&p.join("class")).unwrap_or_default();
        let class = u32::from_str_radix(class.trim_start_matches("0x"), 16).unwrap_or(0);
        let what = match class >> 8 {
            0x0100 => "SCSI",
            0x0104 => "RAID (Intel RST/VMD?)",
            0x0106 => "SATA",
            0x0107 => "SAS",
            0x0108 => "NVMe",
            _ => continue,
        };
        if p.join("driver").exists() {
            continue;
        }
        let id = |f: &str| {
            sysfs(&p.join(f))
                .map(|s| s.trim_start_matches("0x").to_string())
                .unwrap_or_else(|| "?".into())
        };
        out.push(format!(
            "{} {what} [{}:{}]",
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            id("vendor"),
            id("device")
        ));
    }
    out
}

/// Probes every disk PID 1 listed, and the controllers.
pub fn machine(disks: &[DiskSpec]) -> Machine {
    Machine {
        disks: disks.iter().map(disk).collect(),
        controllers: driverless_controllers(Path::new("/sys/bus/pci/devices")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(t: PartitionType, len: u64, bootable: bool) -> Partition {
        Partition {
            number: 1,
            start: 1 << 20,
            len,
            type_id: t,
            name: None,
            bootable,
        }
    }

    #[test]
    fn kinds() {
        let gpt = |g: &str| PartitionType::Gpt(g.into());
        assert_eq!(
            guess_kind(FsKind::Fat32, &part(gpt(ESP), 100 << 20, false), true),
            VolumeKind::EfiBoot
        );
        assert_eq!(
            guess_kind(
                FsKind::Ntfs,
                &part(PartitionType::Mbr(7), 60 << 30, true),
                true
            ),
            VolumeKind::WindowsSystem
        );
        assert_eq!(
            guess_kind(
                FsKind::Ntfs,
                &part(PartitionType::Mbr(7), 60 << 30, true),
                false
            ),
            VolumeKind::Unreadable
        );
        assert_eq!(
            guess_kind(
                FsKind::Ext4,
                &part(gpt(LINUX_ROOT_X86_64), 1 << 30, false),
                true
            ),
            VolumeKind::LinuxSystem
        );
        assert_eq!(
            guess_kind(
                FsKind::Ext4,
                &part(PartitionType::Mbr(0x83), 30 << 20, false),
                true
            ),
            VolumeKind::Data
        );
        assert_eq!(
            guess_kind(
                FsKind::Bitlocker,
                &part(PartitionType::Mbr(7), 60 << 30, false),
                false
            ),
            VolumeKind::Encrypted
        );
        assert_eq!(
            guess_kind(
                FsKind::Lvm,
                &part(PartitionType::Mbr(0x8e), 60 << 30, false),
                false
            ),
            VolumeKind::Unsupported
        );
        assert_eq!(
            guess_kind(
                FsKind::Unknown,
                &part(gpt(MS_RESERVED), 128 << 20, false),
                false
            ),
            VolumeKind::MsReserved
        );
        assert_eq!(
            guess_kind(
                FsKind::Unknown,
                &part(PartitionType::Mbr(7), 1 << 30, false),
                false
            ),
            VolumeKind::Unreadable
        );
    }

    #[test]
    fn device_strings_are_cleaned() {
        assert_eq!(clean(b"  QEMU   HARDDISK \n"), Some("QEMU HARDDISK".into()));
        assert_eq!(
            clean(b"\x00\x80\x00\x14QM00001\t\x1b[2J"),
            Some("QM00001 [2J".into())
        );
        assert_eq!(clean(b" \n"), None);
        assert_eq!(clean(&[b'x'; 100]).map(|s| s.len()), Some(40));
    }

    #[test]
    fn buses() {
        assert_eq!(
            bus_from_path(
                "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
            ),
            Some("sata")
        );
        assert_eq!(
            bus_from_path("/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1"),
            Some("nvme")
        );
        assert_eq!(bus_from_path("/sys/devices/pci0000:00/0000:00:05.0/usb2/2-1/2-1:1.0/host2/target2:0:0/2:0:0:0/block/sdb"), Some("usb"));
        assert_eq!(bus_from_path("/x/virtio3/block/vda"), Some("virtio"));
    }

    #[test]
    fn controllers_without_a_driver_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let dev = |name: &str, class: &str, driver: bool| {
            let p = dir.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("class"), format!("{class}\n")).unwrap();
            std::fs::write(p.join("vendor"), "0x8086\n").unwrap();
            std::fs::write(p.join("device"), "0x467f\n").unwrap();
            if driver {
                std::fs::create_dir(p.join("driver")).unwrap();
            }
        };
        dev("0000:00:0e.0", "0x010400", false); // VMD, no driver
        dev("0000:00:17.0", "0x010601", true); // AHCI with its driver
        dev("0000:00:02.0", "0x030000", false); // VGA: not storage
        dev("0000:01:00.0", "0x010802", false); // NVMe, no driver
        assert_eq!(
            driverless_controllers(dir.path()),
            [
                "0000:00:0e.0 RAID (Intel RST/VMD?) [8086:467f]",
                "0000:01:00.0 NVMe [8086:467f]"
            ]
        );
    }

    #[test]
    fn volumes_of_a_real_image() {
        // An MBR disk with a FAT16 volume made in memory by the FAT test helper is overkill here:
        // a disk of zeros has no table and one unreadable whole-disk volume.
        let dev: Device = Arc::new(crate::io::MemDevice::new(vec![0u8; 64 << 20]));
        let v = volumes(&dev, None);
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].number, v[0].fs, v[0].kind),
            (0, FsKind::Unknown, VolumeKind::Unreadable)
        );
    }
}
