//! One walk of a volume for the persistence report: remember every path (for "does the target
//! exist"), read the few autostart sources met on the way (bounded), then resolve. Volumes are
//! opened through the same read-only layers as the scan (partition table, detection, readers).

use std::io::Read;
use std::ops::ControlFlow;
#[cfg(feature = "engine")]
use std::path::PathBuf;
#[cfg(feature = "engine")]
use std::sync::Arc;

use super::hive::{self, HiveKind};
use super::{records, text, Raw, Seen, MAX_ENTRIES};
use crate::fs::{guard, Content, FileMeta, Walker};
#[cfg(feature = "engine")]
use crate::io::{Device, ReadAt, Slice};
#[cfg(feature = "engine")]
use crate::record::FsKind;
use crate::record::PersistenceRecord;

/// Largest hive read.
const MAX_HIVE: u64 = 256 << 20;
/// Most bytes of autostart sources read from one volume.
const MAX_VOLUME_BYTES: u64 = 1 << 30;
/// Most source files read from one volume.
const MAX_FILES: usize = 20_000;

/// What a file is for this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Hive(HiveKind),
    Task,
    Startup,
    Systemd,
    Cron { system: bool },
    RcLocal,
    Preload,
    Profile,
}

/// The profile folder of a user file (`/Users/bob/...` → `/Users/bob`).
fn profile_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    let top = parts.first()?.to_ascii_lowercase();
    (parts.len() >= 2 && (top == "users" || top == "documents and settings"))
        .then(|| format!("/{}/{}", parts[0], parts[1]))
}

fn classify(path: &str) -> Option<Source> {
    let p = path.trim_start_matches('/').to_ascii_lowercase();
    let parts: Vec<&str> = p.split('/').collect();
    let name = *parts.last()?;
    let user = matches!(parts[0], "users" | "documents and settings") && parts.len() >= 3;
    Some(match p.as_str() {
        "windows/system32/config/system" => Source::Hive(HiveKind::System),
        "windows/system32/config/software" => Source::Hive(HiveKind::Software),
        "etc/rc.local" | "etc/rc.d/rc.local" => Source::RcLocal,
        "etc/ld.so.preload" => Source::Preload,
        "etc/crontab" => Source::Cron { system: true },
        "etc/profile" | "etc/bash.bashrc" | "etc/bashrc" | "etc/zshrc" => Source::Profile,
        _ if user && parts.len() == 3 && name == "ntuser.dat" => Source::Hive(HiveKind::User),
        _ if p.starts_with("windows/system32/tasks/") => Source::Task,
        _ if p.contains("/start menu/programs/startup/") && name != "desktop.ini" => {
            Source::Startup
        }
        _ if p.starts_with("etc/cron.d/") => Source::Cron { system: true },
        _ if p.starts_with("var/spool/cron/") => Source::Cron { system: false },
        _ if p.starts_with("etc/profile.d/") => Source::Profile,
        _ if (p.starts_with("etc/systemd/system/")
            || p.starts_with("lib/systemd/system/")
            || p.starts_with("usr/lib/systemd/system/")
            || (p.starts_with("home/") && p.contains("/.config/systemd/user/")))
            && (name.ends_with(".service") || name.ends_with(".timer")) =>
        {
            Source::Systemd
        }
        _ if (parts.len() == 3 && parts[0] == "home" || parts.len() == 2 && parts[0] == "root")
            && matches!(
                name,
                ".bashrc" | ".profile" | ".bash_profile" | ".bash_login" | ".zshrc"
            ) =>
        {
            Source::Profile
        }
        _ => return None,
    })
}

fn parse(src: Source, bytes: &[u8]) -> Vec<Raw> {
    guard(|| match src {
        Source::Hive(k) => hive::entries(bytes, k),
        Source::Task => text::task(bytes),
        Source::Startup => Vec::new(),
        Source::Systemd => text::systemd(bytes),
        Source::Cron { system } => text::cron(bytes, system),
        Source::RcLocal => text::each_line(bytes, "rc_local"),
        Source::Preload => text::each_line(bytes, "ld_preload"),
        Source::Profile => text::profile(bytes),
    })
    .unwrap_or_default()
}

/// Entries of one file before resolution, with what resolution needs.
struct Found {
    file: String,
    raws: Vec<Raw>,
    windows: bool,
    profile: Option<String>,
    notes: Vec<String>,
}

/// Walks one opened volume and returns its autostart entries. Never panics.
pub fn from_walker(
    walker: &mut dyn Walker,
    disk: &str,
    volume: Option<u32>,
) -> Vec<PersistenceRecord> {
    let mut seen = Seen::default();
    let mut found: Vec<Found> = Vec::new();
    let mut budget = MAX_VOLUME_BYTES;
    let mut total = 0usize;
    let mut visit = |meta: &FileMeta, content: Content<'_>| {
        if meta.stream.is_some() {
            return ControlFlow::Continue(());
        }
        seen.add(&meta.path);
        let Some(src) = classify(&meta.path) else {
            return ControlFlow::Continue(());
        };
        if found.len() >= MAX_FILES || total >= MAX_ENTRIES {
            return ControlFlow::Continue(());
        }
        let windows = !matches!(
            src,
            Source::Systemd
                | Source::Cron { .. }
                | Source::RcLocal
                | Source::Preload
                | Source::Profile
        );
        let (raws, notes) = if src == Source::Startup {
            // The file itself is what runs (shortcut targets are not decoded yet).
            let r = Raw {
                kind: "startup_folder",
                source: String::new(),
                command: format!("C:{}", meta.path.replace('/', "\\")),
                start: None,
            };
            (vec![r], Vec::new())
        } else {
            let max = if matches!(src, Source::Hive(_)) {
                MAX_HIVE
            } else {
                text::MAX_TEXT as u64
            };
            let Content::Data(r) = content else {
                return ControlFlow::Continue(());
            };
            let mut buf = Vec::new();
            let _ = r.take(max.min(budget)).read_to_end(&mut buf);
            budget = budget.saturating_sub(buf.len() as u64);
            let dirty = matches!(src, Source::Hive(_)) && hive::is_dirty(&buf);
            let notes = if dirty {
                vec!["hive_dirty".to_string()]
            } else {
                Vec::new()
            };
            (parse(src, &buf), notes)
        };
        total += raws.len();
        found.push(Found {
            file: meta.path.clone(),
            raws,
            windows,
            profile: profile_of(&meta.path),
            notes,
        });
        ControlFlow::Continue(())
    };
    let _ = guard(|| walker.walk(&mut visit));
    let mut out = Vec::new();
    for f in found {
        out.extend(records(
            disk,
            volume,
            &f.file,
            f.raws,
            f.windows,
            f.profile.as_deref(),
            &seen,
            &f.notes,
        ));
        if out.len() >= MAX_ENTRIES {
            out.truncate(MAX_ENTRIES);
            break;
        }
    }
    out
}

#[cfg(feature = "engine")]
fn open_walker(fs: FsKind, dev: Device) -> Option<Box<dyn Walker>> {
    let w: Box<dyn Walker> = match fs {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => Box::new(crate::fs::fat::open(dev).ok()?),
        FsKind::Ntfs => Box::new(crate::fs::ntfs::open(dev).ok()?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => Box::new(crate::fs::ext4::open(dev).ok()?),
        _ => return None,
    };
    Some(w)
}

/// `(number, start, length)` of each partition of an opened target, or the whole device as
/// volume 0 when it has no readable table (a filesystem on the whole image). The table reader
/// runs under the panic guard. Shared by the persistence report and the evidence re-read.
#[cfg(feature = "engine")]
pub(crate) fn volume_spans(target: &crate::scan::Target) -> Vec<(u32, u64, u64)> {
    let dev = &target.device;
    match guard(|| crate::disk::table::read_partition_table(dev.as_ref(), target.sector_size)) {
        Ok(Ok(table)) if !table.partitions.is_empty() => table
            .partitions
            .iter()
            .map(|p| (p.number, p.start, p.len))
            .collect(),
        _ => vec![(0, 0, dev.size())],
    }
}

/// The autostart entries of every readable volume of every target (image or block device,
/// opened read-only as the scan opens it). Needs the scan's target opener (`engine`).
#[cfg(feature = "engine")]
pub fn report_targets(targets: &[PathBuf]) -> Vec<PersistenceRecord> {
    let mut out = Vec::new();
    for t in targets {
        let Ok(target) = crate::scan::Target::open(t) else {
            continue;
        };
        let dev = target.device.clone();
        let parts = volume_spans(&target);
        for (number, start, len) in parts {
            let vol: Device = Arc::new(Slice::new(dev.clone(), start, len));
            let Ok(Ok(fs)) = guard(|| crate::disk::detect::detect(vol.as_ref())) else {
                continue;
            };
            let Ok(Some(mut w)) = guard(|| open_walker(fs, vol)) else {
                continue;
            };
            out.extend(from_walker(w.as_mut(), &target.name, Some(number)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_autostart_sources() {
        assert_eq!(
            classify("/Windows/System32/config/SYSTEM"),
            Some(Source::Hive(HiveKind::System))
        );
        assert_eq!(
            classify("/Users/bob/NTUSER.DAT"),
            Some(Source::Hive(HiveKind::User))
        );
        assert_eq!(classify("/Users/bob/x/NTUSER.DAT"), None);
        assert_eq!(
            classify("/Windows/System32/Tasks/Microsoft/Windows/X"),
            Some(Source::Task)
        );
        assert_eq!(
            classify("/ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp/a.lnk"),
            Some(Source::Startup)
        );
        assert_eq!(
            classify("/etc/systemd/system/x.service"),
            Some(Source::Systemd)
        );
        assert_eq!(classify("/home/a/.bashrc"), Some(Source::Profile));
        assert_eq!(classify("/etc/passwd"), None);
        assert_eq!(
            profile_of("/Users/bob/NTUSER.DAT").as_deref(),
            Some("/Users/bob")
        );
    }
}
