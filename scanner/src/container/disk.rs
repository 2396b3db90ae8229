//! Disk images found as files (`.img`, `.raw`, `.dd`, `.vhd` fixed and dynamic, `.vhdx`,
//! sparse and stream-optimized `.vmdk`): the virtual-disk layouts are translated into the
//! guest's disk by [`super::vdisk`], then opened through Vigie's own partition-table,
//! detection and filesystem layers, read-only, as a nested target. Each file of each
//! readable volume is a member, named `p<N>/<path>` (`<path>` alone for a filesystem on the
//! whole image; `:stream` for NTFS named streams).
//!
//! Recognised without an extension only by strong signatures (a GPT header, an NTFS boot
//! sector, a VHD footer, `vhdxfile`, `KDMV`); a bare MBR needs a disk-image extension.
//! Differencing VHD/VHDX/VMDK (they need their parent file) and VMDK descriptors whose
//! extents are other files are counted `unsupported_archive`.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::vdisk::{self, VdiskError};
use super::{member_name, ContainerError, Kind, MemberMeta, MemberVisitor, Members};
use crate::disk::table::read_partition_table;
use crate::fs::{guard, Content, FileMeta, Visitor};
use crate::io::{Device, MemDevice, ReadAt, Slice};
use crate::record::{FsKind, TableKind};

const IMAGE_EXTENSIONS: &[&str] = &["img", "raw", "dd", "ima", "vhd", "vhdx", "vmdk", "bin"];

/// The VHD footer's disk type, when the last 512 bytes are one.
fn vhd_type(data: &[u8]) -> Option<u32> {
    let footer = data.get(data.len().checked_sub(512)?..)?;
    (footer.starts_with(b"conectix"))
        .then(|| u32::from_be_bytes([footer[60], footer[61], footer[62], footer[63]]))
}

/// Recognises a disk image.
pub fn sniff(data: &[u8], ext: &str) -> Option<Kind> {
    match vhd_type(data) {
        Some(2 | 3) => return Some(Kind::DiskImage),
        Some(4) => return Some(Kind::Unsupported("differencing vhd")),
        _ => {}
    }
    if data.starts_with(b"conectix") || data.starts_with(b"vhdxfile") || data.starts_with(b"KDMV") {
        return Some(Kind::DiskImage);
    }
    if data.starts_with(b"# Disk DescriptorFile") {
        return Some(Kind::Unsupported(
            "vmdk descriptor (its extents are other files)",
        ));
    }
    let at = |off: usize, magic: &[u8]| data.get(off..off + magic.len()) == Some(magic);
    let boot_sig = at(510, &[0x55, 0xaa]);
    if data.len() < 64 * 1024 || !boot_sig {
        return None;
    }
    if at(512, b"EFI PART") || at(3, b"NTFS    ") {
        return Some(Kind::DiskImage);
    }
    IMAGE_EXTENSIONS.contains(&ext).then_some(Kind::DiskImage)
}

/// A disk image: the guest's disk, translated from the file's layout.
pub struct DiskImage {
    dev: Device,
    notes: Vec<String>,
}

/// Copies the image into a device (the disk layers want an owned device) and opens it.
pub fn open(data: &[u8]) -> Result<DiskImage, ContainerError> {
    open_device(Arc::new(MemDevice::new(data.to_vec())))
}

/// Opens the image file whose bytes `file` reads, whatever its layout.
pub fn open_device(file: Device) -> Result<DiskImage, ContainerError> {
    let opened = vdisk::open(file).map_err(|e| match e {
        VdiskError::Corrupt { .. } => ContainerError::Corrupt(e.to_string()),
        VdiskError::Unsupported { .. } => ContainerError::Unsupported(e.to_string()),
    })?;
    Ok(DiskImage {
        dev: opened.dev,
        notes: opened.notes,
    })
}

impl Members for DiskImage {
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let table = read_partition_table(self.dev.as_ref(), None)
            .map_err(|e| ContainerError::Corrupt(format!("disk image: {e}")))?;
        let volumes: Vec<(Option<u32>, Device)> = if table.kind == TableKind::None {
            vec![(None, self.dev.clone())]
        } else {
            table
                .partitions
                .iter()
                .map(|p| {
                    let d: Device = Arc::new(Slice::new(self.dev.clone(), p.start, p.len));
                    (Some(p.number), d)
                })
                .collect()
        };
        let mut stopped = false;
        let mut unreadable = Vec::new();
        for (number, dev) in volumes {
            if stopped {
                break;
            }
            let prefix = number.map(|n| format!("p{n}/")).unwrap_or_default();
            let fs = guard(|| crate::disk::detect::detect(dev.as_ref()))
                .ok()
                .and_then(Result::ok)
                .unwrap_or(FsKind::Unknown);
            if matches!(fs, FsKind::Unknown | FsKind::Swap) && is_blank(dev.as_ref()) {
                continue;
            }
            let mut w = match guard(|| crate::fs::open::walker(fs, dev)) {
                Ok(Ok(w)) => w,
                Ok(Err(e)) => {
                    unreadable.push(format!("{prefix}{}: {e}", fs.as_str()));
                    continue;
                }
                Err(p) => {
                    unreadable.push(format!("{prefix}: reader crashed: {p}"));
                    continue;
                }
            };
            let mut visit = Bridge {
                prefix: &prefix,
                visitor: &mut *visitor,
                stopped: &mut stopped,
            };
            match guard(|| w.walk(&mut visit)) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => unreadable.push(format!("{prefix}walk stopped: {e}")),
                Err(p) => unreadable.push(format!("{prefix}reader crashed: {p}")),
            }
        }
        if unreadable.is_empty() {
            Ok(())
        } else {
            Err(ContainerError::Unsupported(format!(
                "disk image volume(s): {}",
                unreadable.join("; ")
            )))
        }
    }
}

/// Hands the files of a volume inside the image to the container's visitor as members, with
/// the filesystem's mapped device when it offers one.
struct Bridge<'a> {
    prefix: &'a str,
    visitor: &'a mut dyn MemberVisitor,
    stopped: &'a mut bool,
}

impl Bridge<'_> {
    fn meta(&self, m: &FileMeta) -> MemberMeta {
        let mut name = format!("{}{}", self.prefix, m.path.trim_start_matches('/'));
        if let Some(s) = &m.stream {
            name.push(':');
            name.push_str(s);
        }
        MemberMeta {
            name: member_name(&name),
            size: Some(m.size),
            packed: None,
        }
    }
}

impl Visitor for Bridge<'_> {
    fn visit(&mut self, m: &FileMeta, c: Content<'_>) -> ControlFlow<()> {
        let flow = self.visitor.member(&self.meta(m), c);
        *self.stopped |= flow.is_break();
        flow
    }

    fn visit_mapped(
        &mut self,
        m: &FileMeta,
        c: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        let flow = self.visitor.member_mapped(&self.meta(m), c, mapped);
        *self.stopped |= flow.is_break();
        flow
    }
}

/// Whether the first 64 KiB of a volume are zeros (an empty or reserved partition).
fn is_blank(dev: &dyn ReadAt) -> bool {
    let mut head = vec![0u8; 64 * 1024];
    match dev.read_at(0, &mut head) {
        Ok(n) => head[..n].iter().all(|&b| b == 0),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::sync::OnceLock;

    use super::super::{open, sniff, Kind, MemberMeta};
    use crate::fs::Content;

    /// A bare exFAT filesystem found as a `.img` file (the image of a USB stick) is opened like
    /// any other filesystem: its files are members. (This module once had its own list of
    /// readers, without exFAT: the image was then read as no filesystem at all.)
    #[test]
    fn a_bare_exfat_image_is_opened_and_its_files_are_members() {
        static ONCE: OnceLock<()> = OnceLock::new();
        let dir = crate::fs::fat::tests::images("exfat.sh", &ONCE);
        let data = std::fs::read(dir.join("exfat.img")).unwrap();
        let kind = sniff(&data, "stick.img").expect("recognised as a disk image");
        assert_eq!(kind, Kind::DiskImage);
        let mut members = open(kind, &data, "stick.img").unwrap();
        let mut names = Vec::new();
        let mut visit = |m: &MemberMeta, c: Content<'_>| {
            if matches!(c, Content::Data(_)) {
                names.push(m.name.clone());
            }
            ControlFlow::Continue(())
        };
        members.for_each(&mut visit).unwrap();
        assert!(names.iter().any(|n| n == "eicar.com"), "{names:?}");
        assert!(names.len() > 10, "{names:?}");
    }
}
