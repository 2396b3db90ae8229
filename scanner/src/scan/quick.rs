//! What a quick scan reads ("Analyse rapide", issue 14): the choice, kept apart from the engine.
//!
//! A technician often has an hour, not a night. The quick scan reads, in this order:
//! 1. the boot areas (the disks' first MiB and the volumes' boot sectors, as a full scan does);
//! 2. the files the autostart entries point to (found by [`crate::persist`] on the volume);
//! 3. in the places users and malware write ([`in_risk_area`]), every file whose **content**
//!    (first bytes, [`sniff`]) is an executable, a script, a macro-capable document, an archive
//!    or disk image, or a shortcut.
//!
//! Content type, decided from the first [`SNIFF`] bytes (read once; the scan goes on from
//! them, nothing is read twice): `MZ` (PE, DOS), ELF, Mach-O, `#!`, OLE compound files (Office
//! 97-2003 documents, MSI: all of them, macros cannot be told from the first bytes), ZIP (so
//! OOXML with or without macros, JAR, APK: the central directory is at the end), RTF, 7z, RAR,
//! CAB, gzip/bzip2/xz/zstd, tar, ISO 9660 (only probed further when the first bytes are zeros or
//! an MBR), disk images (MBR signature, VHD, VHDX), LNK shortcuts, CHM, Java class files.
//! Scripts have no magic: a text file (no NUL in its first bytes) is read when its name ends
//! in a script extension or its first bytes hold a script marker (`@echo`, `<script`,
//! `WScript.`, `powershell`, ...). `.com`, `.exe`, `.scr` and `.pif` are read whatever their
//! content (DOS `.com`-format programs have no magic): a renamed file is caught by its magic,
//! a magic-less program by its name.
//!
//! Everything else is seen, not read, and counted (`not_selected` in the volume and summary
//! records). The verdict of a quick scan is never the full scan's green (see `record.rs`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

/// The process's default mode (`vigie.mode=quick` on the stick; the scan child is forked and
/// inherits it, as it inherits the container limits).
static DEFAULT_QUICK: AtomicBool = AtomicBool::new(false);

/// Makes the quick scan the process's default (the options screen's first choice, the
/// unattended scan's mode).
pub fn set_default(quick: bool) {
    DEFAULT_QUICK.store(quick, Ordering::Relaxed);
}

/// Whether the quick scan is the process's default.
pub fn default_quick() -> bool {
    DEFAULT_QUICK.load(Ordering::Relaxed)
}

/// Bytes read first to decide the content type.
pub const SNIFF: usize = 4096;
/// Bytes needed to see the ISO 9660 volume descriptor (`CD001` at 0x8001).
pub const ISO_PROBE: usize = 0x8006;

/// What the quick scan knows of one volume before its walk.
#[derive(Debug, Default, Clone)]
pub struct VolumePlan {
    /// Autostart targets on this volume, lower-case volume paths.
    pub targets: HashSet<String>,
    /// The whole volume is a high-risk area (removable-media-like data volume).
    pub whole: bool,
}

impl VolumePlan {
    /// The plan of a volume with these autostart entries; `whole` for FAT and exFAT volumes
    /// (sticks, cards, EFI system partitions: small, and where malware travels).
    pub fn new(entries: &[crate::record::PersistenceRecord], whole: bool) -> Self {
        let targets = entries
            .iter()
            .filter_map(|e| e.target.as_deref())
            .map(str::to_ascii_lowercase)
            .take(100_000)
            .collect();
        Self { targets, whole }
    }

    /// Whether this path is an autostart target.
    pub fn is_target(&self, path: &str) -> bool {
        self.targets.contains(&path.to_ascii_lowercase())
    }
}

/// Whether a volume path is in a place users and malware write: user profiles (`Users/*`,
/// `Documents and Settings/*`, `home/*`, `root`), `ProgramData`, `Windows/Temp`, Linux `tmp`
/// and `var/tmp`, and files at the root of the volume.
pub fn in_risk_area(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    let mut parts = p.split('/');
    let first = parts.next().unwrap_or("").to_ascii_lowercase();
    let second = parts.next();
    let Some(second) = second else {
        return true; // a file at the root of the volume
    };
    match first.as_str() {
        "users" | "documents and settings" | "home" | "root" | "programdata" | "tmp" => true,
        "windows" => second.eq_ignore_ascii_case("temp") && parts.next().is_some(),
        "var" => second.eq_ignore_ascii_case("tmp") && parts.next().is_some(),
        _ => false,
    }
}

/// The content types a quick scan reads (stable codes, for tests and notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PE/DOS, ELF, Mach-O, Java class, CHM.
    Executable,
    /// `#!` or a text file with a script name or marker.
    Script,
    /// OLE compound file, RTF.
    Document,
    /// ZIP (OOXML), 7z, RAR, CAB, compressed streams, tar, ISO, disk images.
    Archive,
    /// Windows shortcut.
    Shortcut,
}

/// Name endings read whatever their content (programs without magic, scripts).
/// Only names a program can run under without a magic (DOS `.com` format, which Windows still
/// runs for these four); `.dll`, `.sys`, `.msi`, `.lnk` have a magic and are caught by it
/// (`pagefile.sys`/`hiberfil.sys` at a volume root are not read).
const PROGRAM_EXT: &[&str] = &[".exe", ".com", ".scr", ".pif"];
const SCRIPT_EXT: &[&str] = &[
    ".ps1", ".psm1", ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".bat", ".cmd", ".hta", ".sh",
    ".py", ".pl", ".reg", ".inf", ".scf",
];
/// Markers of a script in the first bytes of a text file (compared lower-case).
const SCRIPT_MARKERS: &[&str] = &[
    "@echo",
    "<script",
    "hta:application",
    "wscript.",
    "createobject(",
    "activexobject",
    "powershell",
    "invoke-expression",
    "frombase64string",
    "<job",
    "cmd.exe",
    "cmd /c",
];

fn has_ext(name: &str, list: &[&str]) -> bool {
    let n = name.to_ascii_lowercase();
    list.iter().any(|e| n.ends_with(e))
}

fn at(b: &[u8], off: usize, magic: &[u8]) -> bool {
    b.get(off..off + magic.len()) == Some(magic)
}

/// Whether the first bytes want the ISO probe (more bytes, up to [`ISO_PROBE`]).
pub fn wants_iso_probe(prefix: &[u8], size: u64) -> bool {
    size >= ISO_PROBE as u64 && prefix.len() >= 512 && prefix.iter().all(|&b| b == 0)
}

/// The content type of a file from its name and first bytes (up to [`SNIFF`], or
/// [`ISO_PROBE`] after [`wants_iso_probe`]), or `None` when a quick scan does not read it.
pub fn sniff(name: &str, b: &[u8]) -> Option<Kind> {
    let exec: [&[u8]; 8] = [
        b"MZ",
        b"ZM",
        b"\x7fELF",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe", // Java class or Mach-O fat binary
        b"ITSF",             // compiled HTML help
    ];
    if exec.iter().any(|m| at(b, 0, m)) {
        return Some(Kind::Executable);
    }
    if at(b, 0, b"#!") {
        return Some(Kind::Script);
    }
    if at(b, 0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") || at(b, 0, b"{\\rt") {
        return Some(Kind::Document);
    }
    if at(b, 0, b"L\0\0\0\x01\x14\x02\0") {
        return Some(Kind::Shortcut);
    }
    let archive: [&[u8]; 12] = [
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"7z\xbc\xaf\x27\x1c",
        b"Rar!\x1a\x07",
        b"MSCF",
        b"\x1f\x8b",
        b"BZh",
        b"\xfd7zXZ\0",
        b"\x28\xb5\x2f\xfd",
        b"conectix",
        b"vhdxfile",
        b"KDMV", // VMDK sparse extent
    ];
    if archive.iter().any(|m| at(b, 0, m))
        || at(b, 257, b"ustar")
        || at(b, 0x8001, b"CD001")
        || at(b, 0x8001, b"BEA01") // UDF without an ISO 9660 bridge
        || (b.len() >= 512 && at(b, 510, b"\x55\xaa") && b[..446].iter().any(|&x| x != 0))
    {
        return Some(Kind::Archive);
    }
    if has_ext(name, PROGRAM_EXT) {
        return Some(Kind::Executable);
    }
    let text = !b.is_empty() && !b.contains(&0);
    if text && has_ext(name, SCRIPT_EXT) {
        return Some(Kind::Script);
    }
    if text {
        let lower = String::from_utf8_lossy(b).to_ascii_lowercase();
        if SCRIPT_MARKERS.iter().any(|m| lower.contains(m)) {
            return Some(Kind::Script);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_areas() {
        for p in [
            "/Users/x/AppData/Roaming/a.exe",
            "/Documents and Settings/x/a.exe",
            "/home/u/a",
            "/root/.x",
            "/ProgramData/x/y.dll",
            "/Windows/Temp/a.exe",
            "/WINDOWS/TEMP/sub/a.exe",
            "/tmp/a",
            "/var/tmp/a",
            "/autorun.inf",
            "/a.exe",
        ] {
            assert!(in_risk_area(p), "{p}");
        }
        for p in [
            "/Windows/System32/a.exe",
            "/Windows/Temp",
            "/Program Files/x/a.exe",
            "/data/dicom/1.dcm",
            "/usr/bin/ls",
            "/var/log/x",
        ] {
            assert!(!in_risk_area(p), "{p}");
        }
    }

    #[test]
    fn content_types_from_first_bytes() {
        assert_eq!(sniff("x.dat", b"MZ\x90\0"), Some(Kind::Executable));
        assert_eq!(sniff("x", b"\x7fELF\x02"), Some(Kind::Executable));
        assert_eq!(sniff("x.txt", b"#!/bin/sh\n"), Some(Kind::Script));
        assert_eq!(
            sniff("x.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0"),
            Some(Kind::Document)
        );
        assert_eq!(sniff("x.jpg", b"PK\x03\x04"), Some(Kind::Archive));
        assert_eq!(sniff("x", b"7z\xbc\xaf\x27\x1c"), Some(Kind::Archive));
        assert_eq!(
            sniff("x", b"L\0\0\0\x01\x14\x02\0\0\0"),
            Some(Kind::Shortcut)
        );
        let mut tar = vec![b'a'; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff("x", &tar), Some(Kind::Archive));
        let mut iso = vec![0u8; ISO_PROBE];
        assert!(wants_iso_probe(&iso[..SNIFF], ISO_PROBE as u64));
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(sniff("x.bin", &iso), Some(Kind::Archive));
        assert_eq!(sniff("x.bin", &iso[..SNIFF]), None);
        iso[0x8001..0x8006].copy_from_slice(b"BEA01");
        assert_eq!(sniff("x.bin", &iso), Some(Kind::Archive));
    }

    #[test]
    fn scripts_by_name_or_marker_and_programs_by_name() {
        assert_eq!(sniff("run.PS1", b"Get-Item x"), Some(Kind::Script));
        assert_eq!(sniff("a.txt", b"@ECHO OFF\r\n"), Some(Kind::Script));
        assert_eq!(
            sniff("a.log", b"Set o = CreateObject(\"x\")"),
            Some(Kind::Script)
        );
        assert_eq!(sniff("eicar.com", b"X5O!P%@AP"), Some(Kind::Executable));
        // Plain documents, images and binary data are not read.
        assert_eq!(sniff("notes.txt", b"hello"), None);
        assert_eq!(sniff("a.ps1", b"\0\0binary"), None);
        assert_eq!(sniff("scan.dcm", &[0u8; 200]), None);
        assert_eq!(sniff("a.png", b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(sniff("a.pdf", b"%PDF-1.7"), None);
        assert_eq!(sniff("pagefile.sys", &[0u8; 4096]), None);
        assert_eq!(sniff("empty", b""), None);
    }
}
