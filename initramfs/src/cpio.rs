//! A minimal, reproducible writer (and a reader, for tests) of the `newc` cpio format that the
//! Linux kernel unpacks as its initramfs.
//!
//! Entries are written in path order with zeroed owners and a fixed mtime, inode numbers are
//! assigned in that order: the same entries always give the same bytes.

use std::collections::BTreeMap;

const MAGIC: &[u8; 6] = b"070701";
const TRAILER: &str = "TRAILER!!!";
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

/// What one archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A directory.
    Dir,
    /// A regular file with its content.
    File(Vec<u8>),
    /// A character device node (major, minor).
    CharDev(u32, u32),
}

#[cfg_attr(not(test), allow(dead_code))]
/// One entry as read back by [`parse`] (tests) or given to [`Archive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path without a leading `/`.
    pub path: String,
    /// Permission bits (the file type comes from the body).
    pub perm: u32,
    /// Content.
    pub body: Body,
    /// mtime as stored (read back only).
    pub mtime: u32,
    /// uid and gid as stored (read back only).
    pub uid_gid: (u32, u32),
}

/// An archive being assembled; parents of every entry are added as directories.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, (u32, Body)>,
}

impl Archive {
    /// Adds (or replaces) an entry; `path` may start with `/`.
    pub fn add(&mut self, path: &str, perm: u32, body: Body) {
        let path = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string();
        let mut parent = String::new();
        for comp in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(comp);
            self.entries
                .entry(parent.clone())
                .or_insert((0o755, Body::Dir));
        }
        self.entries.insert(path, (perm, body));
    }

    /// Number of entries (without the trailer).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The uncompressed `newc` bytes, entries sorted by path, owners zeroed, mtime fixed.
    pub fn to_newc(&self, mtime: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (path, (perm, body))) in self.entries.iter().enumerate() {
            let (mode, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match body {
                Body::Dir => (S_IFDIR | perm, 2, &[], (0, 0)),
                Body::File(d) => (S_IFREG | perm, 1, d.as_slice(), (0, 0)),
                Body::CharDev(ma, mi) => (S_IFCHR | perm, 1, &[], (*ma, *mi)),
            };
            let ino = u32::try_from(i + 1).unwrap_or(u32::MAX);
            write_entry(&mut out, ino, mode, nlink, mtime, path, data, rdev);
        }
        write_entry(&mut out, 0, 0, 1, 0, TRAILER, &[], (0, 0));
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn write_entry(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    name: &str,
    data: &[u8],
    rdev: (u32, u32),
) {
    let namesize = name.len() + 1;
    let filesize = u32::try_from(data.len()).expect("cpio newc entries are limited to 4 GiB");
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        mtime,
        filesize,
        0,
        0,
        rdev.0,
        rdev.1,
        namesize as u32,
        0,
    ];
    out.extend_from_slice(MAGIC);
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg_attr(not(test), allow(dead_code))]
/// Parses a `newc` archive back (used by the tests to check the format).
pub fn parse(mut data: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let start_len = data.len();
    loop {
        if data.len() < 110 {
            return Err("truncated header".into());
        }
        if &data[..6] != MAGIC {
            return Err(format!("bad magic at {}", start_len - data.len()));
        }
        let mut f = [0u32; 13];
        for (i, v) in f.iter_mut().enumerate() {
            let s = std::str::from_utf8(&data[6 + i * 8..14 + i * 8]).map_err(|e| e.to_string())?;
            *v = u32::from_str_radix(s, 16).map_err(|e| e.to_string())?;
        }
        let namesize = f[11] as usize;
        let filesize = f[6] as usize;
        let name_end = 110 + namesize;
        if data.len() < name_end || namesize == 0 || data[name_end - 1] != 0 {
            return Err("bad name".into());
        }
        let name = std::str::from_utf8(&data[110..name_end - 1])
            .map_err(|e| e.to_string())?
            .to_string();
        let data_start = name_end.div_ceil(4) * 4;
        let data_end = data_start + filesize;
        if data.len() < data_end {
            return Err("truncated data".into());
        }
        if !(start_len - data.len()).is_multiple_of(4) {
            return Err("misaligned entry".into());
        }
        if name == TRAILER {
            return Ok(entries);
        }
        let mode = f[1];
        let body = match mode & 0o170000 {
            S_IFDIR => Body::Dir,
            S_IFREG => Body::File(data[data_start..data_end].to_vec()),
            S_IFCHR => Body::CharDev(f[9], f[10]),
            other => return Err(format!("unexpected file type {other:o}")),
        };
        entries.push(Entry {
            path: name,
            perm: mode & 0o7777,
            body,
            mtime: f[5],
            uid_gid: (f[2], f[3]),
        });
        data = &data[(data_end.div_ceil(4) * 4).min(data.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_parents_sorted_and_zeroed() {
        let mut a = Archive::default();
        a.add("/lib/modules/ahci.ko", 0o644, Body::File(b"abcde".to_vec()));
        a.add("/init", 0o755, Body::File(vec![1, 2, 3]));
        a.add("/dev/console", 0o600, Body::CharDev(5, 1));
        let bytes = a.to_newc(42);
        assert_eq!(bytes.len() % 4, 0);
        let e = parse(&bytes).unwrap();
        let names: Vec<_> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "dev",
                "dev/console",
                "init",
                "lib",
                "lib/modules",
                "lib/modules/ahci.ko"
            ]
        );
        assert_eq!(e[2].body, Body::File(vec![1, 2, 3]));
        assert_eq!(e[2].perm, 0o755);
        assert_eq!(e[1].body, Body::CharDev(5, 1));
        assert_eq!(e[0].body, Body::Dir);
        assert!(e.iter().all(|e| e.mtime == 42 && e.uid_gid == (0, 0)));
        assert_eq!(e[5].body, Body::File(b"abcde".to_vec()));
    }

    #[test]
    fn header_layout_matches_newc() {
        let mut a = Archive::default();
        a.add("x", 0o644, Body::File(b"hi".to_vec()));
        let b = a.to_newc(0);
        // magic, ino 1, mode 0100644, uid 0, gid 0, nlink 1, mtime 0, size 2
        let want = [
            "070701", "00000001", "000081a4", "00000000", "00000000", "00000001", "00000000",
            "00000002",
        ]
        .concat();
        assert_eq!(&b[..62], want.as_bytes());
        assert_eq!(&b[110..112], b"x\0");
        assert_eq!(&b[112..114], b"hi"); // 110 + 2 = 112: already aligned
        let trailer = b.windows(10).position(|w| w == b"TRAILER!!!");
        assert!(trailer.is_some());
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(parse(b"not a cpio archive at all, clearly, no; not at all. padding padding padding padding padding padding padding").is_err());
        assert!(parse(b"0707").is_err());
    }
}
