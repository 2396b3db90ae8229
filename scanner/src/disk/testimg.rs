//! Test helpers for the disk layer: oracle images opened read-only, archives whose members
//! only matter by their first bytes, a sparse device that gives a one-sector table its real
//! disk size, a synthetic GPT builder and a tiny PRNG for the robustness loops.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::io::{Device, FileDevice, ReadAt};
use crate::testutil::{cache_dir, oracle, oracles_dir, sha256_file};

/// Opens an image read-only.
pub fn open(path: &Path) -> Device {
    Arc::new(FileDevice::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())))
}

/// Opens an oracle file (unpacked if compressed).
pub fn open_oracle(rel: &str) -> Device {
    open(&oracle(rel))
}

/// `data` followed by zeros up to `size` bytes: a truncated oracle seen at its real size.
pub struct SparseDevice {
    pub data: Vec<u8>,
    pub size: u64,
}

impl ReadAt for SparseDevice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let n = usize::try_from((self.size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        buf[..n].fill(0);
        if let Ok(start) = usize::try_from(offset) {
            if start < self.data.len() {
                let m = n.min(self.data.len() - start);
                buf[..m].copy_from_slice(&self.data[start..start + m]);
            }
        }
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// Unpacks the first `head` bytes of every member of a tar archive (in one streaming pass:
/// the BitLocker images are 100+ MiB each, their signatures sit in the first sector) into a
/// cache folder, once. Returns the folder.
pub fn tar_heads(rel: &str, head: usize) -> PathBuf {
    let src = oracles_dir().join(rel);
    assert!(src.exists(), "missing oracle {}", src.display());
    let name = Path::new(rel)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let dst = cache_dir().join("heads").join(&name);
    if !dst.join(".done").exists() {
        let tmp = cache_dir()
            .join("heads")
            .join(format!("{name}.tmp{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let cmd = format!(
            "head -c {head} > \"{}/$(basename \"$TAR_FILENAME\")\"; cat > /dev/null",
            tmp.display()
        );
        let st = Command::new("tar")
            .arg("-xJf")
            .arg(&src)
            .arg(format!("--to-command=sh -c '{cmd}'"))
            .status()
            .expect("run tar");
        assert!(st.success(), "tar {} failed", src.display());
        std::fs::write(tmp.join(".done"), b"").unwrap();
        if std::fs::rename(&tmp, &dst).is_err() {
            // Another test thread got there first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    dst
}

/// Extracts one member of a zip oracle into the cache, once.
pub fn unzip_member(rel: &str, member: &str) -> PathBuf {
    let src = oracles_dir().join(rel);
    assert!(src.exists(), "missing oracle {}", src.display());
    let dst = cache_dir().join("unzipped").join(member);
    if !dst.exists() {
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let out = Command::new("unzip")
            .arg("-p")
            .arg(&src)
            .arg(member)
            .output()
            .expect("run unzip");
        assert!(out.status.success(), "unzip {member} failed");
        let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, out.stdout).unwrap();
        std::fs::rename(&tmp, &dst).unwrap();
    }
    dst
}

/// Runs `f` and checks the image's bytes did not change.
pub fn unchanged<R>(path: &Path, f: impl FnOnce() -> R) -> R {
    let before = sha256_file(path);
    let r = f();
    assert_eq!(before, sha256_file(path), "{} changed", path.display());
    r
}

/// xorshift64*: deterministic, dependency-free randomness for the robustness loops.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

/// One GPT entry for [`build_gpt`].
pub struct GptEntry {
    pub index: usize,
    pub type_guid: [u8; 16],
    pub first: u64,
    pub last: u64,
    pub attrs: u64,
    pub name: &'static str,
}

pub const LINUX_FS: [u8; 16] = [
    0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4,
];

/// Writes a GPT header (with both CRCs) into `disk` at sector `lba`, entries at `entries_lba`.
#[allow(clippy::too_many_arguments)]
pub fn write_gpt_header(
    disk: &mut [u8],
    ss: usize,
    lba: u64,
    alternate: u64,
    entries_lba: u64,
    num_entries: u32,
    entry_size: u32,
    array: &[u8],
) {
    let off = lba as usize * ss;
    let h = &mut disk[off..off + ss];
    h.fill(0);
    h[0..8].copy_from_slice(b"EFI PART");
    h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&lba.to_le_bytes());
    h[32..40].copy_from_slice(&alternate.to_le_bytes());
    h[40..48].copy_from_slice(&34u64.to_le_bytes());
    h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
    h[80..84].copy_from_slice(&num_entries.to_le_bytes());
    h[84..88].copy_from_slice(&entry_size.to_le_bytes());
    h[88..92].copy_from_slice(&crc32fast::hash(array).to_le_bytes());
    let crc = crc32fast::hash(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
}

/// A complete GPT disk of `sectors` sectors of `ss` bytes: protective MBR, primary header and
/// 128-entry array, backup array and header.
pub fn build_gpt(ss: usize, sectors: u64, entries: &[GptEntry]) -> Vec<u8> {
    let mut disk = vec![0u8; ss * sectors as usize];
    // Protective MBR.
    disk[446 + 4] = 0xEE;
    disk[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
    disk[446 + 12..446 + 16].copy_from_slice(&((sectors - 1) as u32).to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xAA;
    let mut array = vec![0u8; 128 * 128];
    for e in entries {
        let a = &mut array[e.index * 128..(e.index + 1) * 128];
        a[0..16].copy_from_slice(&e.type_guid);
        a[16] = e.index as u8 + 1;
        a[32..40].copy_from_slice(&e.first.to_le_bytes());
        a[40..48].copy_from_slice(&e.last.to_le_bytes());
        a[48..56].copy_from_slice(&e.attrs.to_le_bytes());
        for (i, u) in e.name.encode_utf16().enumerate() {
            a[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
    }
    let array_sectors = array.len().div_ceil(ss) as u64;
    let last = sectors - 1;
    let backup_entries = last - array_sectors;
    disk[2 * ss..2 * ss + array.len()].copy_from_slice(&array);
    let b = backup_entries as usize * ss;
    disk[b..b + array.len()].copy_from_slice(&array);
    write_gpt_header(&mut disk, ss, 1, last, 2, 128, 128, &array);
    write_gpt_header(&mut disk, ss, last, 1, backup_entries, 128, 128, &array);
    disk
}

/// Sets MBR slot `slot` (0-3) of the 512-byte table at `sector_off`.
pub fn set_mbr_entry(
    disk: &mut [u8],
    sector_off: usize,
    slot: usize,
    boot: u8,
    kind: u8,
    start: u32,
    len: u32,
) {
    let e = sector_off + 446 + 16 * slot;
    disk[e] = boot;
    disk[e + 4] = kind;
    disk[e + 8..e + 12].copy_from_slice(&start.to_le_bytes());
    disk[e + 12..e + 16].copy_from_slice(&len.to_le_bytes());
    disk[sector_off + 510] = 0x55;
    disk[sector_off + 511] = 0xAA;
}
