//! `vigie-image`: assembles the stick image from a declared layout (see [`LAYOUT`]): an MBR
//! table with SYSLINUX's MBR code, partition 1 the FAT32 log partition `VIGIE-LOGS` (first, so
//! that Windows shows it), partition 2 the active boot partition (type 0xEF) holding SYSLINUX
//! (BIOS), Debian's signed shim + GRUB (UEFI, Secure Boot), the kernel and the initramfs.
//! A build tool: never linked into `scanner`.
//!
//! ```text
//! vigie-image --inputs .cache/inputs/root --kernel-version V --initramfs build/initramfs.img \
//!     --stick-id ID --notices build/notices --scanner target/.../scanner -o build/vigie.img
//! ```

use anyhow::{bail, ensure, Context, Result};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::Command;

const MIB: u64 = 1 << 20;
const SECTOR: u64 = 512;

/// What a partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The FAT32 log partition (scan records), found by PID 1 through label + `VIGIE.ID`.
    Logs,
    /// The boot partition: bootloaders, kernel, initramfs.
    Boot,
}

/// One declared partition.
#[derive(Debug, Clone, Copy)]
struct PartSpec {
    role: Role,
    label: &'static str,
    mbr_type: u8,
    active: bool,
    size_mib: u64,
    /// FAT copies: 1 on the log partition, so that a FAT change is one sector write (see
    /// `scanner/src/init/fatlog/token.rs`: with two copies every change has a moment where
    /// they differ, which `fsck.fat` reports).
    fats: u8,
}

/// The stick, declared as data. 1 MiB alignment; MBR only (old BIOSes).
const LAYOUT: &[PartSpec] = &[
    PartSpec {
        role: Role::Logs,
        label: "VIGIE-LOGS",
        mbr_type: 0x0C,
        active: false,
        size_mib: 48,
        fats: 1,
    },
    PartSpec {
        role: Role::Boot,
        label: "VIGIE-BOOT",
        mbr_type: 0xEF,
        active: true,
        size_mib: 72,
        fats: 2,
    },
];

/// Files of the boot partition: (path on the partition, source). The licences and notices of
/// everything on it (`--notices`, see `scripts/build-image`) go under `LICENSES/`.
fn boot_files(o: &Options) -> Result<Vec<(String, Source)>> {
    let r = &o.inputs;
    let mut files = vec![
        (
            "vmlinuz".into(),
            Source::File(r.join(format!("boot/vmlinuz-{}", o.kernel_version))),
        ),
        ("initrd.img".into(), Source::File(o.initramfs.clone())),
        (
            "syslinux.cfg".into(),
            Source::Text(syslinux_cfg(&o.default_entry)),
        ),
        (
            "ldlinux.c32".into(),
            Source::File(r.join("usr/lib/syslinux/modules/bios/ldlinux.c32")),
        ),
        (
            "EFI/BOOT/BOOTX64.EFI".into(),
            Source::File(r.join("usr/lib/shim/shimx64.efi.signed")),
        ),
        (
            "EFI/BOOT/grubx64.efi".into(),
            Source::File(r.join("usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed")),
        ),
        // Debian's signed monolithic GRUB reads its config from /EFI/debian on the ESP.
        (
            "EFI/debian/grub.cfg".into(),
            Source::Text(grub_cfg(&o.default_entry)),
        ),
        (
            "EFI/BOOT/grub.cfg".into(),
            Source::Text(grub_cfg(&o.default_entry)),
        ),
    ];
    let notices = notice_files(&o.notices)?;
    ensure!(
        !notices.is_empty(),
        "no licence or notice files in {}",
        o.notices.display()
    );
    for (rel, path) in notices {
        files.push((format!("LICENSES/{rel}"), Source::File(path)));
    }
    Ok(files)
}

/// Every regular file under `dir` (one level of folders), as (relative path, path), sorted.
fn notice_files(dir: &std::path::Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("notices {}", dir.display()))?;
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_dir() {
            for f in std::fs::read_dir(e.path())? {
                let f = f?;
                if f.file_type()?.is_file() {
                    let sub = f.file_name().to_string_lossy().into_owned();
                    out.push((format!("{name}/{sub}"), f.path()));
                }
            }
        } else if e.file_type()?.is_file() {
            out.push((name, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The boot menu, declared as data: (name, menu label, kernel command line). The default is
/// the console UI; `--default-entry` picks another (the boot tests boot `auto`, the serial UI
/// test boots `serial`).
const ENTRIES: &[(&str, &str, &str)] = &[
    (
        "ui",
        "Vigie: scan this workstation",
        "console=ttyS0,115200 console=tty0 quiet",
    ),
    (
        "serial",
        "Vigie: scan, on the serial console",
        "console=ttyS0,115200 console=tty0 quiet vigie.console=ttyS0",
    ),
    (
        "auto",
        "Vigie: scan all disks (unattended)",
        "console=ttyS0,115200 console=tty0 vigie.auto=1",
    ),
    (
        "debug",
        "Vigie: scan all disks, verbose",
        "console=ttyS0,115200 console=tty0 vigie.auto=1 vigie.debug",
    ),
];

fn syslinux_cfg(default: &str) -> String {
    let mut s = format!("SERIAL 0 115200\nDEFAULT {default}\nPROMPT 0\nTIMEOUT 10\n");
    for (name, label, append) in ENTRIES {
        s.push_str(&format!(
            "LABEL {name}\n  MENU LABEL {label}\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n  APPEND {append}\n"
        ));
    }
    s
}

fn grub_cfg(default: &str) -> String {
    let idx = ENTRIES
        .iter()
        .position(|(n, _, _)| *n == default)
        .unwrap_or(0);
    let mut s = format!(
        "set default={idx}\nset timeout=1\nserial --unit=0 --speed=115200\nterminal_input console serial\nterminal_output console serial\n\
         search --no-floppy --label --set=root VIGIE-BOOT\n"
    );
    for (_, label, append) in ENTRIES {
        s.push_str(&format!(
            "menuentry '{label}' {{\n  linux /vmlinuz {append}\n  initrd /initrd.img\n}}\n"
        ));
    }
    s
}

enum Source {
    File(PathBuf),
    Text(String),
}

#[derive(Debug, Default)]
struct Options {
    inputs: PathBuf,
    kernel_version: String,
    initramfs: PathBuf,
    stick_id: String,
    output: PathBuf,
    /// Name of the default boot entry (see [`ENTRIES`]).
    default_entry: String,
    /// Folder of licence and notice files, copied to `LICENSES/` on the boot partition.
    notices: PathBuf,
    /// The `scanner` binary (host-runnable), for `scanner logpart prepare`.
    scanner: PathBuf,
}

/// A window of the image file, so `fatfs` sees one partition.
struct Region<'a> {
    file: &'a File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Region<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        let n =
            std::os::unix::fs::FileExt::read_at(self.file, &mut buf[..n], self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
impl Write for Region<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "end of partition"));
        }
        let n = std::os::unix::fs::FileExt::write_at(self.file, &buf[..n], self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Seek for Region<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let p = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
        };
        if p < 0 || p > self.len as i128 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the partition",
            ));
        }
        self.pos = p as u64;
        Ok(self.pos)
    }
}

/// Start and size (bytes) of each partition of [`LAYOUT`].
fn placements() -> Vec<(PartSpec, u64, u64)> {
    let mut at = MIB;
    LAYOUT
        .iter()
        .map(|p| {
            let r = (*p, at, p.size_mib * MIB);
            at += p.size_mib * MIB;
            r
        })
        .collect()
}

/// A FAT volume id from the stick id (stable for a given id).
fn volume_id(stick_id: &str, salt: u32) -> u32 {
    stick_id.bytes().fold(0x811c_9dc5u32 ^ salt, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn mbr(mbr_code: &[u8], stick_id: &str) -> Result<[u8; 512]> {
    ensure!(mbr_code.len() <= 440, "mbr.bin larger than 440 bytes");
    let mut s = [0u8; 512];
    s[..mbr_code.len()].copy_from_slice(mbr_code);
    s[440..444].copy_from_slice(&volume_id(stick_id, 0x4d42).to_le_bytes());
    for (i, (p, start, size)) in placements().iter().enumerate() {
        let e = &mut s[446 + 16 * i..462 + 16 * i];
        e[0] = if p.active { 0x80 } else { 0 };
        e[1..4].copy_from_slice(&[0xFE, 0xFF, 0xFF]); // CHS: use LBA
        e[4] = p.mbr_type;
        e[5..8].copy_from_slice(&[0xFE, 0xFF, 0xFF]);
        e[8..12].copy_from_slice(&u32::try_from(start / SECTOR)?.to_le_bytes());
        e[12..16].copy_from_slice(&u32::try_from(size / SECTOR)?.to_le_bytes());
    }
    s[510] = 0x55;
    s[511] = 0xAA;
    Ok(s)
}

#[derive(Debug)]
struct FixedTime;
impl fatfs::TimeProvider for FixedTime {
    fn get_current_date(&self) -> fatfs::Date {
        fatfs::Date {
            year: 1980,
            month: 1,
            day: 1,
        }
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        fatfs::DateTime {
            date: self.get_current_date(),
            time: fatfs::Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        }
    }
}
static FIXED_TIME: FixedTime = FixedTime;

fn format(file: &File, start: u64, len: u64, label: &str, id: u32, fats: u8) -> Result<()> {
    let mut l = [b' '; 11];
    l[..label.len()].copy_from_slice(label.as_bytes());
    let opts = fatfs::FormatVolumeOptions::new()
        .fat_type(fatfs::FatType::Fat32)
        .fats(fats)
        .volume_label(l)
        .volume_id(id);
    fatfs::format_volume(
        Region {
            file,
            start,
            len,
            pos: 0,
        },
        opts,
    )
    .with_context(|| format!("formatting {label}"))
}

fn write_files(file: &File, start: u64, len: u64, files: &[(String, Vec<u8>)]) -> Result<()> {
    let fs = fatfs::FileSystem::new(
        Region {
            file,
            start,
            len,
            pos: 0,
        },
        fatfs::FsOptions::new().time_provider(&FIXED_TIME),
    )?;
    {
        let root = fs.root_dir();
        for (path, data) in files {
            let mut dir = root.clone();
            let parts: Vec<&str> = path.split('/').collect();
            for d in &parts[..parts.len() - 1] {
                dir = dir.create_dir(d)?;
            }
            let mut f = dir.create_file(parts[parts.len() - 1])?;
            f.truncate()?;
            f.write_all(data)
                .with_context(|| format!("writing {path} (partition full?)"))?;
        }
    }
    fs.unmount()?;
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    ensure!(st.success(), "{cmd:?} failed: {st}");
    Ok(())
}

fn build(o: &Options) -> Result<()> {
    // Check every input before any work.
    let files = boot_files(o)?;
    let mut loaded = Vec::new();
    for (dst, src) in &files {
        let data = match src {
            Source::File(p) => {
                std::fs::read(p).with_context(|| format!("input {} for {dst}", p.display()))?
            }
            Source::Text(t) => t.clone().into_bytes(),
        };
        loaded.push((dst.clone(), data));
    }
    let mbr_code =
        std::fs::read(o.inputs.join("usr/lib/syslinux/mbr/mbr.bin")).context("mbr.bin")?;
    let installer = o.inputs.join("usr/bin/syslinux");
    ensure!(installer.exists(), "missing {}", installer.display());

    let places = placements();
    let total = places.last().map(|(_, s, l)| s + l).unwrap_or(MIB);
    let tmp = o.output.with_extension("img.tmp");
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    file.set_len(total)?;
    std::os::unix::fs::FileExt::write_at(&file, &mbr(&mbr_code, &o.stick_id)?, 0)?;
    println!(
        "image: {:<12} {:>9} KiB at {:>6} KiB  (MBR, SYSLINUX mbr.bin)",
        "table", 1024, 0
    );
    let mut boot_offset = 0;
    for (i, (p, start, len)) in places.iter().enumerate() {
        format(
            &file,
            *start,
            *len,
            p.label,
            volume_id(&o.stick_id, i as u32 + 1),
            p.fats,
        )?;
        let content: Vec<(String, Vec<u8>)> = match p.role {
            Role::Logs => vec![
                ("VIGIE.ID".into(), format!("{}\n", o.stick_id).into_bytes()),
                (
                    "README.TXT".into(),
                    b"Vigie scan records are in VIGIE\\scans (JSON Lines, one file per scan).\r\n\
                      Rule updates: copy a signed bundle (.vgb) into the updates folder; it is\r\n\
                      checked and used at the next boot, then kept in VIGIE\\rules.\r\n"
                        .to_vec(),
                ),
            ],
            Role::Boot => {
                boot_offset = *start;
                loaded.clone()
            }
        };
        // Folders are made by mtools: fatfs 0.3.6's create_dir writes long-name entries before
        // `.`/`..` (and `..` = 2 for the root), which fsck.fat and strict readers reject.
        let mut dirs: Vec<String> = match p.role {
            Role::Logs => vec![
                "VIGIE".into(),
                "VIGIE/scans".into(),
                "VIGIE/rules".into(),
                "updates".into(),
            ],
            Role::Boot => Vec::new(),
        };
        for (path, _) in &content {
            let parts: Vec<&str> = path.split('/').collect();
            for n in 1..parts.len() {
                dirs.push(parts[..n].join("/"));
            }
        }
        dirs.sort();
        dirs.dedup();
        if !dirs.is_empty() {
            let img = format!("{}@@{}", tmp.display(), start);
            let mut cmd = Command::new("mmd");
            cmd.arg("-i")
                .arg(&img)
                .args(dirs.iter().map(|d| format!("::/{d}")));
            run(&mut cmd)?;
        }
        let used: usize = content.iter().map(|(_, d)| d.len()).sum();
        write_files(&file, *start, *len, &content)?;
        if p.role == Role::Logs {
            // The prepared space that makes every save power-cut safe, laid down by the
            // scanner's own writer (`scanner logpart prepare`, the desk's replenish command).
            file.sync_all()?;
            let mut cmd = Command::new(&o.scanner);
            cmd.args(["logpart", "prepare"])
                .arg(&tmp)
                .arg("--offset")
                .arg(start.to_string());
            run(&mut cmd)?;
        }
        println!(
            "image: part {} {:<10} {:>6} KiB at {:>6} KiB, type {:#04x}{}, files {} KiB",
            i + 1,
            p.label,
            len / 1024,
            start / 1024,
            p.mbr_type,
            if p.active { " active" } else { "" },
            used / 1024
        );
        if p.role == Role::Boot {
            for (n, d) in &content {
                println!("image:     {:<24} {:>8} KiB", n, d.len() / 1024);
            }
        }
    }
    drop(file);
    // SYSLINUX's own installer (mtools flavour, from the locked Debian package) writes
    // ldlinux.sys and patches the boot partition's boot sector.
    run(Command::new(&installer)
        .arg("--install")
        .arg("--offset")
        .arg(boot_offset.to_string())
        .arg(&tmp))?;
    std::fs::rename(&tmp, &o.output)?;
    let used: u64 = loaded.iter().map(|(_, d)| d.len() as u64).sum();
    println!(
        "image: wrote {} ({} MiB, {:.1} MiB of files)",
        o.output.display(),
        total / MIB,
        used as f64 / MIB as f64
    );
    if used > 64 * MIB {
        bail!("the stick's files exceed 64 MiB");
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut o = Options {
        default_entry: "ui".into(),
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--inputs" => o.inputs = val()?.into(),
            "--kernel-version" => o.kernel_version = val()?,
            "--initramfs" => o.initramfs = val()?.into(),
            "--stick-id" => o.stick_id = val()?,
            "-o" | "--output" => o.output = val()?.into(),
            "--default-entry" => o.default_entry = val()?,
            "--notices" => o.notices = val()?.into(),
            "--scanner" => o.scanner = val()?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    ensure!(
        !o.inputs.as_os_str().is_empty() && !o.kernel_version.is_empty(),
        "--inputs and --kernel-version are required"
    );
    ensure!(
        !o.stick_id.is_empty() && o.stick_id.len() <= 64,
        "--stick-id (1..64 chars) is required"
    );
    ensure!(!o.output.as_os_str().is_empty(), "-o is required");
    ensure!(
        !o.notices.as_os_str().is_empty(),
        "--notices DIR is required (the licences shipped on the stick)"
    );
    ensure!(
        !o.scanner.as_os_str().is_empty(),
        "--scanner PATH is required (it lays down the log partition's prepared space)"
    );
    ensure!(
        ENTRIES.iter().any(|(n, _, _)| *n == o.default_entry),
        "--default-entry must be one of: {}",
        ENTRIES.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
    );
    build(&o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_menus_default_to_the_chosen_entry() {
        let s = syslinux_cfg("ui");
        assert!(s.contains("DEFAULT ui\n"));
        assert!(s.contains("LABEL auto\n"));
        assert!(s.contains("vigie.auto=1"));
        assert!(syslinux_cfg("auto").contains("DEFAULT auto\n"));
        assert!(grub_cfg("ui").starts_with("set default=0\n"));
        assert!(grub_cfg("auto").starts_with("set default=2\n"));
        assert!(grub_cfg("serial").contains("vigie.console=ttyS0"));
        // The interactive entries never scan unattended.
        for (n, _, a) in ENTRIES {
            assert_eq!(
                a.contains("vigie.auto=1"),
                *n == "auto" || *n == "debug",
                "{n}"
            );
        }
    }

    #[test]
    fn notices_go_under_licenses_and_an_empty_folder_is_refused() {
        let dir = std::env::temp_dir().join(format!("vigie-notices-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("debian")).unwrap();
        let mut o = Options {
            default_entry: "ui".into(),
            notices: dir.clone(),
            ..Options::default()
        };
        assert!(boot_files(&o).is_err(), "a stick without its licences");
        std::fs::write(dir.join("VIGIE.TXT"), "GPL-3.0-or-later").unwrap();
        std::fs::write(dir.join("debian/shim-signed.txt"), "copyright").unwrap();
        let paths: Vec<String> = boot_files(&o).unwrap().into_iter().map(|f| f.0).collect();
        assert!(
            paths.contains(&"LICENSES/VIGIE.TXT".to_string()),
            "{paths:?}"
        );
        assert!(paths.contains(&"LICENSES/debian/shim-signed.txt".to_string()));
        o.notices = dir.join("missing");
        assert!(boot_files(&o).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mbr_table_follows_the_layout() {
        let s = mbr(&[0x33; 440], "abc").unwrap();
        assert_eq!(&s[510..], &[0x55, 0xAA]);
        assert_eq!(s[446 + 4], 0x0C);
        assert_eq!(s[446], 0);
        assert_eq!(s[462 + 4], 0xEF);
        assert_eq!(s[462], 0x80);
        assert_eq!(u32::from_le_bytes(s[454..458].try_into().unwrap()), 2048);
        assert_eq!(
            u32::from_le_bytes(s[470..474].try_into().unwrap()),
            2048 + 48 * 2048
        );
        assert!(mbr(&[0; 441], "abc").is_err());
    }

    #[test]
    fn log_partition_is_first_and_fat32_with_id() {
        let dir = std::env::temp_dir().join(format!("vigie-image-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.img");
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        let (spec, start, len) = placements()[0];
        assert_eq!(spec.role, Role::Logs);
        f.set_len(start + len).unwrap();
        format(&f, start, len, spec.label, 7, spec.fats).unwrap();
        let mut bs = [0u8; 512];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut bs, start).unwrap();
        assert_eq!(bs[16], 1, "one FAT copy on the log partition");
        write_files(
            &f,
            start,
            len,
            &[
                ("VIGIE.ID".into(), b"id\n".to_vec()),
                ("A/B/c.txt".into(), b"x".to_vec()),
            ],
        )
        .unwrap();
        let fs = fatfs::FileSystem::new(
            Region {
                file: &f,
                start,
                len,
                pos: 0,
            },
            fatfs::FsOptions::new(),
        )
        .unwrap();
        assert_eq!(fs.fat_type(), fatfs::FatType::Fat32);
        assert_eq!(fs.volume_label(), "VIGIE-LOGS");
        assert_eq!(fs.volume_id(), 7);
        let mut s = String::new();
        fs.root_dir()
            .open_file("VIGIE.ID")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "id\n");
        drop(fs);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
