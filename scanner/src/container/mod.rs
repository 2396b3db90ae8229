//! Inside files: archives, compressed streams, disk images, OLE compound files and mail turned
//! into members that the scan engine schedules like files.
//!
//! Malware reaches a workstation as an attachment or a download (a ZIP, 7z, ISO, VHD, a macro
//! document, a saved mail): scanning only the outer bytes misses whatever is compressed. This
//! layer knows formats, nothing of rules or records: [`sniff`] recognises a format from the
//! first bytes (and the name for formats without a strong magic), [`open`] gives a
//! [`Members`] iterator over a content held in memory, and each member comes to a
//! [`MemberVisitor`] with a reader for its bytes (or the reason it cannot be read), exactly as
//! a filesystem walker hands out files. The engine decides depth, budgets and accounting
//! (see [`limits`]).
//!
//! Every byte is hostile: each format's crate (or our own small parser) runs inside
//! [`crate::fs::guard`], never preallocates by a size read from the data, and a member's reader
//! is bounded by [`limits::Limited`].
//!
//! Member paths: `/`-separated inside one container (backslashes, `.`, empty and leading
//! components removed); nested members are joined with [`SEP`] (`//`), which a normalised
//! member name never contains: `inner.zip//scan/facture.pdf.exe`.

pub mod cab;
pub mod cpio;
pub mod disk;
pub mod iso;
pub mod limits;
pub mod mail;
pub mod ole;
pub mod rtf;
pub mod sevenz;
pub mod single;
pub mod stream;
pub mod szdd;
pub mod tar;
pub mod tnef;
pub mod udf;
pub mod uu;
pub mod vdisk;
pub mod zip;

use std::io::Read;
use std::ops::ControlFlow;

pub use limits::Limits;

use crate::fs::{Content, SkipReason};
use crate::io::Device;

/// Joins the member paths of nested containers.
pub const SEP: &str = "//";

/// Window of the [`stream::DeviceStream`] a container read in place is given (the crates make
/// many small reads of headers and tables; each read of the device is a read of the volume).
pub const STREAM_BUFFER: usize = 256 * 1024;

/// A container format this layer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// ZIP and everything built on it (OOXML, jar, apk, odt).
    Zip,
    /// gzip (one member: the decompressed stream).
    Gzip,
    /// bzip2 (one member).
    Bzip2,
    /// xz (one member).
    Xz,
    /// zstd (one member).
    Zstd,
    /// POSIX/GNU tar.
    Tar,
    /// 7-Zip.
    SevenZ,
    /// OLE compound file (`.doc`, `.xls`, `.msi`, `.msg`, `vbaProject.bin`).
    Ole,
    /// RFC 822 mail (`.eml`) or an mbox mailbox.
    Mail,
    /// cpio (binary little/big endian, odc, newc/crc).
    Cpio,
    /// ISO 9660 (with Joliet names).
    Iso,
    /// UDF (with or without an ISO 9660 bridge: UDF is preferred when both are there).
    Udf,
    /// Microsoft Cabinet (stored, MSZIP, LZX).
    Cab,
    /// A disk image found as a file (raw `.img`, VHD, VHDX, sparse VMDK).
    DiskImage,
    /// An SZDD file (`COMPRESS.EXE`: `SETUP.EX_`).
    Szdd,
    /// TNEF (`winmail.dat`): Outlook's wrapping of attachments.
    Tnef,
    /// An RTF document (its embedded `\objdata` objects).
    Rtf,
    /// Recognised, not decoded here (RAR, differencing VHD, VMDK descriptors).
    Unsupported(&'static str),
}

impl Kind {
    /// Short name for notes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::Gzip => "gzip",
            Self::Bzip2 => "bzip2",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Tar => "tar",
            Self::SevenZ => "7z",
            Self::Ole => "ole",
            Self::Mail => "mail",
            Self::Cpio => "cpio",
            Self::Iso => "iso9660",
            Self::Udf => "udf",
            Self::Cab => "cab",
            Self::DiskImage => "disk image",
            Self::Szdd => "szdd",
            Self::Tnef => "tnef",
            Self::Rtf => "rtf",
            Self::Unsupported(n) => n,
        }
    }
}

/// What is known of one member before its content is read.
#[derive(Debug, Clone, Default)]
pub struct MemberMeta {
    /// Normalised path inside this container (never empty, never holds [`SEP`]).
    pub name: String,
    /// Uncompressed size the container declares (hostile: never preallocate by it).
    pub size: Option<u64>,
    /// Bytes the member occupies in the container, when known (for the ratio limit).
    pub packed: Option<u64>,
}

/// Receives the members of a container. `Break` stops the iteration (limits, cancel).
pub trait MemberVisitor {
    /// Called once per member.
    fn member(&mut self, meta: &MemberMeta, content: Content<'_>) -> ControlFlow<()>;

    /// Called instead of [`MemberVisitor::member`] for a member whose bytes lie, as they are,
    /// on a device the container can hand out (an ISO 9660 file's extent, a file of a
    /// filesystem inside a disk image): `mapped` gives that device, so that a member too large
    /// to hold in memory can itself be opened in place. The default ignores it.
    fn member_mapped(
        &mut self,
        meta: &MemberMeta,
        content: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        let _ = mapped;
        self.member(meta, content)
    }
}

impl<F: FnMut(&MemberMeta, Content<'_>) -> ControlFlow<()>> MemberVisitor for F {
    fn member(&mut self, meta: &MemberMeta, content: Content<'_>) -> ControlFlow<()> {
        self(meta, content)
    }
}

/// The common iteration of every format.
pub trait Members {
    /// Visits every member once, in container order.
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError>;

    /// Remarks on the container worth a note (a disk image's log not replayed, ...).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Why a container (as a whole) could not be opened or was abandoned part-way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// Corrupt or truncated structures.
    #[error("corrupt {0}")]
    Corrupt(String),
    /// A valid container using a method or variant not decoded here.
    #[error("unsupported {0}")]
    Unsupported(String),
    /// Password-protected as a whole (7z with encrypted headers, ...).
    #[error("encrypted container")]
    Encrypted,
    /// A limit (depth, members, expanded bytes, ratio, memory) was reached.
    #[error("limit reached: {0}")]
    Limit(String),
    /// The format's crate panicked (caught).
    #[error("reader crashed: {0}")]
    Panic(String),
}

impl ContainerError {
    /// The skip reason a member (or the container's remaining members) is counted with.
    pub fn reason(&self) -> SkipReason {
        match self {
            Self::Corrupt(_) | Self::Panic(_) => SkipReason::ArchiveError,
            Self::Unsupported(_) => SkipReason::UnsupportedArchive,
            Self::Encrypted => SkipReason::Encrypted,
            Self::Limit(_) => SkipReason::ArchiveLimit,
        }
    }
}

/// Recognises a container from its first bytes, and from its name for the formats whose
/// magic is weak (mail, raw disk images). `data` is the whole content held in memory.
pub fn sniff(data: &[u8], name: &str) -> Option<Kind> {
    let ext = name
        .rsplit('/')
        .next()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let at = |off: usize, magic: &[u8]| data.get(off..off + magic.len()) == Some(magic);
    if at(0, b"PK\x03\x04") || (at(0, b"PK\x05\x06") && data.len() >= 22) {
        return Some(Kind::Zip);
    }
    if at(0, b"\x1f\x8b\x08") {
        return Some(Kind::Gzip);
    }
    if at(0, b"BZh") && data.get(3).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        return Some(Kind::Bzip2);
    }
    if at(0, b"\xfd7zXZ\x00") {
        return Some(Kind::Xz);
    }
    if at(0, b"\x28\xb5\x2f\xfd") {
        return Some(Kind::Zstd);
    }
    if at(0, b"7z\xbc\xaf\x27\x1c") {
        return Some(Kind::SevenZ);
    }
    if at(0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        return Some(Kind::Ole);
    }
    if at(257, b"ustar") {
        return Some(Kind::Tar);
    }
    if cpio::looks_like(data) {
        return Some(Kind::Cpio);
    }
    if at(0, b"Rar!\x1a\x07") {
        return Some(Kind::Unsupported("rar"));
    }
    if at(0, b"MSCF\x00\x00\x00\x00") {
        return Some(Kind::Cab);
    }
    if at(0, szdd::MAGIC) {
        return Some(Kind::Szdd);
    }
    if at(0, tnef::MAGIC) {
        return Some(Kind::Tnef);
    }
    if rtf::looks_like(data) {
        return Some(Kind::Rtf);
    }
    // Before ISO 9660: a bridge disc's ISO side may list only a readme.
    if udf::sniff(data) {
        return Some(Kind::Udf);
    }
    if at(0x8001, b"CD001") {
        return Some(Kind::Iso);
    }
    if let Some(k) = disk::sniff(data, &ext) {
        return Some(k);
    }
    if mail::looks_like(data, &ext) {
        return Some(Kind::Mail);
    }
    None
}

/// Opens a recognised container over its content.
///
/// `name` is the file's (or member's) name: it names a compressed stream's single member.
pub fn open<'a>(
    kind: Kind,
    data: &'a [u8],
    name: &str,
) -> Result<Box<dyn Members + 'a>, ContainerError> {
    Ok(match kind {
        Kind::Zip => Box::new(zip::open(data)?),
        Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd => {
            Box::new(single::open(kind, data, name))
        }
        Kind::Tar => Box::new(tar::open(data)),
        Kind::SevenZ => Box::new(sevenz::open(data)?),
        Kind::Ole => Box::new(ole::open(data)?),
        Kind::Mail => Box::new(mail::open(data)),
        Kind::Cpio => Box::new(cpio::open(data)),
        Kind::Iso => Box::new(iso::open(data)?),
        Kind::Udf => udf::open_disc(crate::io::BytesAt(data))?,
        Kind::Cab => Box::new(cab::open(data)?),
        Kind::DiskImage => Box::new(disk::open(data)?),
        Kind::Szdd => Box::new(szdd::open(data, name)?),
        Kind::Tnef => Box::new(tnef::open(data)?),
        Kind::Rtf => Box::new(rtf::open(data)),
        Kind::Unsupported(name) => return Err(ContainerError::Unsupported(name.to_string())),
    })
}

/// Whether a container of this kind can be opened in place over a device (random access to
/// the file's own extents on its volume) when it is too large to hold in memory. Mail, cpio,
/// SZDD, TNEF and RTF cannot: their parsers want the whole content in memory.
pub fn opens_in_place(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Mail | Kind::Cpio | Kind::Szdd | Kind::Tnef | Kind::Rtf | Kind::Unsupported(_)
    )
}

/// Opens a recognised container over a device holding exactly its bytes (see
/// [`opens_in_place`]); other kinds are refused as a limit (they need the content in memory).
/// `name` is the file's (or member's) name, as for [`open`].
pub fn open_device(
    kind: Kind,
    dev: Device,
    name: &str,
) -> Result<Box<dyn Members>, ContainerError> {
    Ok(match kind {
        Kind::Iso => Box::new(iso::open_device(dev)?),
        Kind::Udf => udf::open_disc_device(dev)?,
        Kind::DiskImage => Box::new(disk::open_device(dev)?),
        Kind::Zip => Box::new(zip::open_device(dev)?),
        Kind::SevenZ => Box::new(sevenz::open_device(dev)?),
        Kind::Cab => Box::new(cab::open_device(dev)?),
        Kind::Ole => Box::new(ole::open_device(dev)?),
        Kind::Tar => Box::new(tar::open_device(dev)),
        Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd => {
            Box::new(single::open_device(kind, dev, name))
        }
        other @ (Kind::Mail
        | Kind::Cpio
        | Kind::Szdd
        | Kind::Tnef
        | Kind::Rtf
        | Kind::Unsupported(_)) => {
            return Err(ContainerError::Limit(format!(
                "{} larger than the full-scan limit cannot be opened in place",
                other.name()
            )))
        }
    })
}

/// Normalises a member name from a container: `\` to `/`, no leading `/`, no `.`/empty
/// components, `..` kept as a plain name (nothing is extracted, it only names the member),
/// control characters replaced. Empty names become `<unnamed>`.
pub fn member_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c == '\\' {
                '/'
            } else if c.is_control() {
                '?'
            } else {
                c
            }
        })
        .collect();
    let parts: Vec<&str> = cleaned
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        "<unnamed>".to_string()
    } else {
        parts.join("/")
    }
}

/// Name for the single member of a compressed stream: the outer name without its suffix
/// (`a.tar.gz` -> `a.tar`, `x.tgz` -> `x.tar`), or `<data>`.
pub fn stream_member_name(outer: &str, kind: Kind) -> String {
    let base = outer.rsplit(['/', '\\']).next().unwrap_or(outer);
    let lower = base.to_ascii_lowercase();
    for (suffix, repl) in [
        (".tgz", ".tar"),
        (".tbz2", ".tar"),
        (".tbz", ".tar"),
        (".txz", ".tar"),
        (".tzst", ".tar"),
    ] {
        if lower.ends_with(suffix) {
            return format!("{}{repl}", &base[..base.len() - suffix.len()]);
        }
    }
    let suffixes: &[&str] = match kind {
        Kind::Gzip => &[".gz", ".gzip", ".z"],
        Kind::Bzip2 => &[".bz2", ".bz"],
        Kind::Xz => &[".xz"],
        Kind::Zstd => &[".zst", ".zstd"],
        _ => &[],
    };
    for s in suffixes {
        if lower.ends_with(s) && base.len() > s.len() {
            return base[..base.len() - s.len()].to_string();
        }
    }
    "<data>".to_string()
}

/// Hands `data`, held in memory, to the visitor as one member named `name` (the formats whose
/// members are slices of the content: mail parts, TNEF attachments, RTF objects).
pub(crate) fn member_bytes(
    visitor: &mut dyn MemberVisitor,
    name: String,
    mut data: &[u8],
) -> ControlFlow<()> {
    let meta = MemberMeta {
        name,
        size: Some(data.len() as u64),
        packed: None,
    };
    visitor.member(&meta, Content::Data(&mut data))
}

/// Members read whole, as (name, bytes), and how the iteration ended.
#[cfg(test)]
pub(crate) type ReadMembers = (Vec<(String, Vec<u8>)>, Result<(), ContainerError>);

/// Every member of `members` read whole: the format tests' common reader.
#[cfg(test)]
pub(crate) fn read_members(members: &mut dyn Members) -> ReadMembers {
    let mut out = Vec::new();
    let mut visit = |m: &MemberMeta, c: Content<'_>| {
        if let Content::Data(r) = c {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            out.push((m.name.clone(), v));
        }
        ControlFlow::Continue(())
    };
    let r = members.for_each(&mut visit);
    (out, r)
}

/// Reads `r` to its end into nothing, counting bytes (for members a visitor declined).
pub fn drain(r: &mut dyn Read) -> std::io::Result<u64> {
    std::io::copy(r, &mut std::io::sink())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_normalised_and_never_hold_the_separator() {
        assert_eq!(member_name("/a//b\\c.exe"), "a/b/c.exe");
        assert_eq!(member_name("./x/./y"), "x/y");
        assert_eq!(member_name(""), "<unnamed>");
        assert_eq!(member_name("a\u{0}b"), "a?b");
        assert!(!member_name("a//b").contains(SEP));
    }

    #[test]
    fn stream_members_drop_the_compression_suffix() {
        assert_eq!(stream_member_name("/d/a.tar.gz", Kind::Gzip), "a.tar");
        assert_eq!(stream_member_name("x.TGZ", Kind::Gzip), "x.tar");
        assert_eq!(stream_member_name("log.xz", Kind::Xz), "log");
        assert_eq!(stream_member_name("blob", Kind::Zstd), "<data>");
    }

    #[test]
    fn sniff_recognises_magics() {
        assert_eq!(sniff(b"PK\x03\x04rest", "a.bin"), Some(Kind::Zip));
        assert_eq!(sniff(b"\x1f\x8b\x08\x00", "a"), Some(Kind::Gzip));
        assert_eq!(sniff(b"BZh9xx", "a"), Some(Kind::Bzip2));
        assert_eq!(sniff(b"BZhx", "a"), None);
        assert_eq!(
            sniff(b"Rar!\x1a\x07\x01\x00", "a"),
            Some(Kind::Unsupported("rar"))
        );
        assert_eq!(sniff(b"MZ\x90\x00", "a.exe"), None);
        let mut udf = vec![0u8; 24 * 2048];
        udf[16 * 2048 + 1..16 * 2048 + 6].copy_from_slice(b"BEA01");
        assert_eq!(sniff(&udf, "a.iso"), None);
        udf[17 * 2048 + 1..17 * 2048 + 6].copy_from_slice(b"NSR02");
        assert_eq!(sniff(&udf, "a.iso"), Some(Kind::Udf));
        // A bridge disc: ISO 9660 descriptors first, then the UDF sequence: read as UDF.
        let mut bridge = vec![0u8; 24 * 2048];
        for (s, id) in [
            (16, b"CD001"),
            (17, b"CD001"),
            (18, b"BEA01"),
            (19, b"NSR03"),
        ] {
            bridge[s * 2048 + 1..s * 2048 + 6].copy_from_slice(id);
        }
        assert_eq!(sniff(&bridge, "a.iso"), Some(Kind::Udf));
        bridge[19 * 2048 + 1..19 * 2048 + 6].copy_from_slice(b"TEA01");
        assert_eq!(sniff(&bridge, "a.iso"), Some(Kind::Iso));
        assert_eq!(sniff(b"", "a"), None);
    }
}
