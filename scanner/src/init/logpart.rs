//! Writes the scan record to the stick's log partition from userspace with the `fatfs` crate
//! (no kernel FAT mount). The log partition is the only device PID 1 ever opens for writing.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

/// Directory of scan records on the log partition.
pub const SCANS_DIR: &str = "VIGIE/scans";

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC), without a date library.
pub fn utc_stamp(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

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

/// A name for the machine from DMI (product name + serial), for the record's file name.
pub fn host_name() -> String {
    let read =
        |f: &str| std::fs::read_to_string(format!("/sys/class/dmi/id/{f}")).unwrap_or_default();
    let product = read("product_name");
    let serial = read("product_serial");
    let serial = serial.trim();
    if serial.is_empty() || serial.eq_ignore_ascii_case("none") || serial.contains("O.E.M.") {
        sanitize_host(&product)
    } else {
        sanitize_host(&format!("{}-{serial}", product.trim()))
    }
}

/// Appends `lines` (JSON Lines, each without newline) to `/VIGIE/scans/<name>` on the FAT
/// volume `dev`. Returns the path written.
pub fn write_record(dev: &Path, name: &str, lines: &[String]) -> std::io::Result<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)?;
    let path = format!("{SCANS_DIR}/{name}");
    {
        let fs = fatfs::FileSystem::new(&file, fatfs::FsOptions::new())?;
        {
            let root = fs.root_dir();
            // The image builder made these folders (with mtools): fatfs 0.3.6's `create_dir`
            // writes long-name entries before `.`/`..` and a non-zero `..` for the root, which
            // fsck.fat flags. Create them only if someone deleted them.
            let dir = match root.open_dir(SCANS_DIR) {
                Ok(d) => d,
                Err(_) => root.create_dir("VIGIE")?.create_dir("scans")?,
            };
            let mut f = dir.create_file(name)?;
            f.seek(SeekFrom::End(0))?;
            for l in lines {
                f.write_all(l.as_bytes())?;
                f.write_all(b"\n")?;
            }
            f.flush()?;
        }
        fs.unmount()?;
    }
    file.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_795_876_200), "20261128T143000Z");
    }

    #[test]
    fn host_names() {
        assert_eq!(
            sanitize_host("Standard PC (Q35 + ICH9, 2009)\n"),
            "Standard_PC__Q35___ICH9__2009_"
        );
        assert_eq!(sanitize_host("  "), "unknown");
        assert_eq!(sanitize_host("???"), "unknown");
    }

    #[test]
    fn writes_and_appends_on_a_fat32_image() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("logs.img");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&img)
            .unwrap();
        f.set_len(40 << 20).unwrap();
        let opts = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .volume_label(*b"VIGIE-LOGS ");
        fatfs::format_volume(&f, opts).unwrap();
        drop(f);
        let p = write_record(&img, "a.jsonl", &["{\"x\":1}".into()]).unwrap();
        assert_eq!(p, "VIGIE/scans/a.jsonl");
        write_record(&img, "a.jsonl", &["{\"x\":2}".into()]).unwrap();
        let file = std::fs::File::open(&img).unwrap();
        let fs = fatfs::FileSystem::new(file, fatfs::FsOptions::new()).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut fs.root_dir().open_file("VIGIE/scans/a.jsonl").unwrap(),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "{\"x\":1}\n{\"x\":2}\n");
        assert_eq!(fs.volume_label(), "VIGIE-LOGS");
    }
}

#[cfg(test)]
mod fsck_tests {
    use std::process::Command;

    /// The record written on a log partition laid out like the image builder's (mkfs.fat +
    /// mmd) passes `fsck.fat -n` without directory complaints.
    #[test]
    fn record_on_a_mtools_made_partition_passes_fsck() {
        let ok = |c: &mut Command| c.output().map(|o| o.status.success()).unwrap_or(false);
        if !ok(Command::new("mkfs.fat").arg("--help")) && !ok(Command::new("mmd").arg("-V")) {
            eprintln!("mkfs.fat/mtools missing: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("p.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(40 << 20)
            .unwrap();
        assert!(ok(Command::new("mkfs.fat")
            .args(["-F", "32", "-s", "1", "-n", "VIGIE-LOGS"])
            .arg(&img)));
        assert!(ok(Command::new("mmd")
            .arg("-i")
            .arg(&img)
            .args(["::/VIGIE", "::/VIGIE/scans"])));
        super::write_record(
            &img,
            "20261128T143000Z-host.jsonl",
            &["{\"type\":\"summary\"}".into()],
        )
        .unwrap();
        let out = Command::new("fsck.fat")
            .arg("-n")
            .arg(&img)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("Expected a valid"), "{text}");
        assert!(!text.contains("share clusters"), "{text}");
        let typed = Command::new("mtype")
            .arg("-i")
            .arg(&img)
            .arg("::/VIGIE/scans/20261128T143000Z-host.jsonl")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&typed.stdout),
            "{\"type\":\"summary\"}\n"
        );
    }
}
