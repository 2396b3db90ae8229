//! The journal's choices of what to replay, each against e2fsck on a small image made here by
//! e2fsprogs (`mke2fs -d`, then `debugfs` `jo`/`jw`/`jc` writing a committed transaction, as
//! e2fsprogs' own j_* tests do), damaged the way e2fsprogs' f_journal and j_corrupt_sb_csum
//! images are: a zeroed journal inode (`debugfs clri`), a journal superblock checksum off by
//! one bit. The reference is e2fsck replaying a copy for real (`-E journal_only -y`), then
//! `debugfs cat`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{superblock_problem, CRC32C_CHKSUM, INCOMPAT_CSUM_V2, INCOMPAT_CSUM_V3};
use crate::fs::ext4::{open, NOTE_NOT_REPLAYED, NOTE_REPLAYED};
use crate::fs::fat::tests::{collect, Outcome};
use crate::fs::Walker as _;
use crate::io::FileDevice;
use crate::testutil::sha256_file;
use crate::text::note::Note;

const BEFORE: &[u8] = b"on disk before the crash\n";
/// The journaled copy of the file's block. Same length as `BEFORE`: the transaction rewrites
/// the data block only, not the inode, so the file keeps `BEFORE`'s size.
const JOURNALED: &[u8] = b"replayed from journal ok\n";
const _: () = assert!(JOURNALED.len() == BEFORE.len());

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn debugfs(img: &Path, cmd: &str) -> String {
    let out = Command::new("debugfs")
        .args(["-R", cmd])
        .arg(img)
        .output()
        .unwrap();
    assert!(out.status.success(), "debugfs {cmd}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An 8 MiB volume of type `kind` holding `/journaled.txt`, whose journal (opened with
/// debugfs' `jo` arguments `jo`) holds one committed transaction rewriting that file's block.
fn journaled(kind: &str, jo: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("journaled.txt"), BEFORE).unwrap();
    let img = dir.path().join("image");
    let st = Command::new("mke2fs")
        .env("E2FSPROGS_FAKE_TIME", "1000000000")
        .args(["-q", "-F", "-t", kind, "-d"])
        .arg(&src)
        .arg(&img)
        .arg("8M")
        .status()
        .unwrap();
    assert!(st.success());
    let block = debugfs(&img, "bmap /journaled.txt 0");
    let data = dir.path().join("block");
    let mut bytes = JOURNALED.to_vec();
    bytes.resize(1024, 0);
    std::fs::write(&data, bytes).unwrap();
    let cmds = dir.path().join("cmds");
    std::fs::write(
        &cmds,
        format!("jo {jo}\njw -b {} {}\njc\n", block.trim(), data.display()),
    )
    .unwrap();
    let st = Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&cmds)
        .arg(&img)
        .output()
        .unwrap();
    assert!(st.status.success());
    assert!(debugfs(&img, "features").contains("needs_recovery"));
    dir
}

/// What e2fsck makes of `/journaled.txt`: on a copy it recovers for real (nothing else fixed).
fn e2fsck_view(img: &Path) -> Vec<u8> {
    let copy = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(img, copy.path()).unwrap();
    let st = Command::new("e2fsck")
        .args(["-E", "journal_only", "-y"])
        .arg(copy.path())
        .output()
        .unwrap();
    assert!(st.status.code().unwrap_or(8) <= 1, "e2fsck {st:?}");
    let out = Command::new("debugfs")
        .args(["-R", "cat /journaled.txt"])
        .arg(copy.path())
        .output()
        .unwrap();
    out.stdout
}

/// Vigie's view: `/journaled.txt`'s size and SHA-256, and the volume's notes.
fn vigie_view(img: &Path) -> (Outcome, Vec<String>, bool) {
    let before = sha256_file(img);
    let mut w = open(Arc::new(FileDevice::open(img).unwrap())).unwrap();
    let walk = collect(&mut w, u64::MAX);
    let info = w.info();
    assert_eq!(sha256_file(img), before, "the image changed");
    for n in &info.notes {
        assert_ne!(Note::classify(n).code, "other", "not catalogued: {n}");
    }
    (walk["/journaled.txt"].clone(), info.notes, info.degraded)
}

fn data(bytes: &[u8]) -> Outcome {
    Outcome::Data(bytes.len() as u64, hex(&Sha256::digest(bytes)))
}

/// The volume byte offset of journal block 0 (its superblock), journal inode 8.
fn journal_superblock_at(img: &Path) -> u64 {
    let block: u64 = debugfs(img, "bmap <8> 0").trim().parse().unwrap();
    let bs: u64 = debugfs(img, "stats")
        .lines()
        .find_map(|l| l.strip_prefix("Block size:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    block * bs
}

#[test]
fn zeroed_journal_inode_is_replayed_from_the_superblock_backup_like_e2fsck() {
    // ext3: a block-mapped journal, the case e2fsck's backup handles (f_journal's).
    let dir = journaled("ext3", "");
    let img = dir.path().join("image");
    debugfs(&img, "stat <8>"); // present before
    let st = Command::new("debugfs")
        .args(["-w", "-R", "clri <8>"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(st.status.success());
    let reference = e2fsck_view(&img);
    assert_eq!(reference, JOURNALED, "e2fsck replays from the backup");
    let (file, notes, degraded) = vigie_view(&img);
    assert_eq!(file, data(&reference), "{notes:?}");
    assert!(!degraded, "{notes:?}");
    assert!(
        notes.iter().any(|n| n.starts_with(NOTE_REPLAYED)),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(
            |n| n.starts_with("journal inode 8 unusable (inode 8 is not a journal")
                && n.ends_with("the superblock's backup of it was used")
        ),
        "{notes:?}"
    );
}

#[test]
fn zeroed_extent_journal_inode_is_replayed_from_its_extent_backup() {
    // ext4: the backup is an extent tree's root. e2fsck 1.47 reads it as a block map and
    // gives the journal up (it clears it); read as the extent root it is, it replays what
    // e2fsck replays from the undamaged inode.
    let dir = journaled("ext4", "-c");
    let img = dir.path().join("image");
    let reference = e2fsck_view(&img);
    assert_eq!(reference, JOURNALED);
    let st = Command::new("debugfs")
        .args(["-w", "-R", "clri <8>"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(st.status.success());
    let (file, notes, degraded) = vigie_view(&img);
    assert_eq!(file, data(&reference), "{notes:?}");
    assert!(!degraded, "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("backup of it was used")),
        "{notes:?}"
    );
}

#[test]
fn journal_superblock_with_a_bad_checksum_is_not_replayed_like_e2fsck() {
    for jo in ["-c", "-c -v 2"] {
        let dir = journaled("ext4", jo);
        let img = dir.path().join("image");
        assert_eq!(vigie_view(&img).0, data(JOURNALED), "{jo}: replayed intact");
        // One bit of s_checksum (offset 0xFC of the journal superblock).
        let at = journal_superblock_at(&img) + 0xFC;
        let mut raw = std::fs::read(&img).unwrap();
        raw[usize::try_from(at).unwrap()] ^= 1;
        std::fs::write(&img, raw).unwrap();
        let reference = e2fsck_view(&img);
        assert_eq!(reference, BEFORE, "{jo}: e2fsck resets, does not replay");
        let (file, notes, degraded) = vigie_view(&img);
        assert_eq!(file, data(&reference), "{jo}: {notes:?}");
        assert!(degraded, "{jo}");
        assert!(
            notes.iter().any(|n| n.starts_with(NOTE_NOT_REPLAYED)
                && n.contains("journal superblock checksum mismatch")),
            "{jo}: {notes:?}"
        );
    }
}

#[test]
fn journal_superblock_problems_e2fsck_calls_corrupt() {
    // A v3 journal superblock with a valid checksum, then each thing e2fsck refuses.
    let mut jsb = vec![0u8; 1024];
    jsb[0x50] = CRC32C_CHKSUM;
    let seal = |b: &mut Vec<u8>| {
        b[0xFC..0x100].fill(0);
        let sum = crate::fs::ext4::superblock::crc32c_raw(!0, &b[..1024]);
        b[0xFC..0x100].copy_from_slice(&sum.to_be_bytes());
    };
    seal(&mut jsb);
    assert_eq!(superblock_problem(&jsb, INCOMPAT_CSUM_V3), None);
    assert_eq!(superblock_problem(&jsb, 0), None, "no checksum feature");
    assert!(superblock_problem(&jsb, INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3).is_some());
    let mut v1_too = jsb.clone();
    v1_too[0x27] = 1; // compat: checksum v1
    seal(&mut v1_too);
    assert!(superblock_problem(&v1_too, INCOMPAT_CSUM_V3).is_some());
    let mut crc32 = jsb.clone();
    crc32[0x50] = 1;
    seal(&mut crc32);
    assert!(superblock_problem(&crc32, INCOMPAT_CSUM_V2).is_some());
    let mut flipped = jsb.clone();
    flipped[0x200] ^= 0x80; // inside the 1024 bytes the checksum covers
    assert_eq!(
        superblock_problem(&flipped, INCOMPAT_CSUM_V3).as_deref(),
        Some("journal superblock checksum mismatch")
    );
    // Beyond them (a 4 KiB block) nothing counts.
    let mut big = jsb.clone();
    big.resize(4096, 0xAA);
    assert_eq!(superblock_problem(&big, INCOMPAT_CSUM_V3), None);
}
