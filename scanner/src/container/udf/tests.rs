//! A UDF 2.50 volume built here, block by block, with a metadata partition (no Debian tool
//! writes one: mkudffs's 2.50 is BD-R with a virtual partition), an extended file entry with
//! a long_ad and a directory embedded in its entry; then the same with its metadata file
//! broken (the mirror is read) and with both broken (the volume is refused).

use std::ops::ControlFlow;

use super::tag::{id, tests::seal};
use super::*;

const BS: usize = 2048;
const PART: usize = 260;

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn long_ad(b: &mut [u8], at: usize, len: u32, lbn: u32, part: u16) {
    put32(b, at, len);
    put32(b, at + 4, lbn);
    put16(b, at + 8, part);
}

/// A FID naming `name` (8-bit OSTA; empty: the parent) at (`lbn`, `part`).
fn fid(name: &str, chars: u8, lbn: u32, part: u16) -> Vec<u8> {
    let raw: Vec<u8> = if name.is_empty() {
        Vec::new()
    } else {
        std::iter::once(8).chain(name.bytes()).collect()
    };
    let mut f = vec![0u8; (38 + raw.len() + 3) & !3];
    f[18] = chars;
    f[19] = raw.len() as u8;
    long_ad(&mut f, 20, BS as u32, lbn, part);
    f[38..38 + raw.len()].copy_from_slice(&raw);
    seal(&mut f, id::FID, 0);
    f
}

fn image(data: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 300 * BS];
    let blk = |n: usize| n * BS..(n + 1) * BS;
    for (s, ident) in [(16, b"BEA01"), (17, b"NSR03"), (18, b"TEA01")] {
        d[s * BS + 1..s * BS + 6].copy_from_slice(ident);
    }
    // Anchor: main and reserve sequences at sector 32.
    let b = &mut d[blk(256)];
    put32(b, 16, 16 * BS as u32);
    put32(b, 20, 32);
    put32(b, 24, 16 * BS as u32);
    put32(b, 28, 32);
    seal(&mut b[..512], id::AVDP, 256);
    // Partition 0 at sector 260, 40 blocks.
    let b = &mut d[blk(32)];
    put32(b, 188, PART as u32);
    put32(b, 192, 40);
    seal(&mut b[..512], id::PD, 32);
    // Logical volume: a type 1 map and a metadata map (file at 0, mirror at 1).
    let b = &mut d[blk(33)];
    put32(b, 212, BS as u32);
    long_ad(b, 248, BS as u32, 0, 1);
    put32(b, 264, 70);
    put32(b, 268, 2);
    b[440..446].copy_from_slice(&[1, 6, 1, 0, 0, 0]);
    let m = &mut b[446..510];
    m[0] = 2;
    m[1] = 64;
    m[5..28].copy_from_slice(b"*UDF Metadata Partition");
    put16(m, 36, 1);
    put32(m, 40, 0);
    put32(m, 44, 1);
    put32(m, 48, u32::MAX);
    seal(&mut b[..512], id::LVD, 33);
    seal(&mut d[blk(34)][..512], id::TD, 34);
    // The metadata file (and its mirror): 3 blocks at physical lbn 10.
    for (lbn, ft) in [(0, 250u8), (1, 251)] {
        let b = &mut d[blk(PART + lbn)];
        b[16 + 11] = ft;
        b[56..64].copy_from_slice(&(3 * BS as u64).to_le_bytes());
        put32(b, 172, 8);
        put32(b, 176, 3 * BS as u32);
        put32(b, 180, 10);
        seal(b, id::FE, lbn as u32);
    }
    // Metadata block 0: the file set; 1: the root (embedded FIDs); 2: an EFE.
    let b = &mut d[blk(PART + 10)];
    long_ad(b, 400, BS as u32, 1, 1);
    seal(&mut b[..512], id::FSD, 0);
    let mut fids = fid("", 0x0a, 1, 1);
    fids.extend(fid("hello.com", 0, 2, 1));
    let b = &mut d[blk(PART + 11)];
    b[16 + 11] = 4;
    put16(b, 16 + 18, 3);
    b[56..64].copy_from_slice(&(fids.len() as u64).to_le_bytes());
    put32(b, 172, fids.len() as u32);
    b[176..176 + fids.len()].copy_from_slice(&fids);
    seal(b, id::FE, 1);
    let b = &mut d[blk(PART + 12)];
    b[16 + 11] = 5;
    put16(b, 16 + 18, 1);
    b[56..64].copy_from_slice(&(data.len() as u64).to_le_bytes());
    put32(b, 212, 16);
    long_ad(b, 216, data.len() as u32, 20, 0);
    seal(b, id::EFE, 2);
    d[(PART + 20) * BS..][..data.len()].copy_from_slice(data);
    d
}

/// The members (name, bytes) and the notes.
type Listed = (Vec<(String, Vec<u8>)>, Vec<String>);

fn list(d: &[u8]) -> Result<Listed, ContainerError> {
    let mut u = open(d)?;
    let mut out = Vec::new();
    let mut each = |meta: &MemberMeta, content: Content<'_>| {
        let mut v = Vec::new();
        if let Content::Data(r) = content {
            r.read_to_end(&mut v).unwrap();
        }
        out.push((meta.name.clone(), v));
        ControlFlow::Continue(())
    };
    u.for_each(&mut each)?;
    Ok((out, u.notes()))
}

#[test]
fn metadata_partition_efe_long_ad_and_embedded_directory() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
    let d = image(&data);
    assert!(sniff(&d));
    let (members, notes) = list(&d).unwrap();
    assert_eq!(members, [("hello.com".to_string(), data.clone())]);
    assert!(notes.is_empty(), "{notes:?}");

    // The metadata file broken: its mirror is read.
    let mut broken = d.clone();
    broken[PART * BS + 100] ^= 1;
    let (members, notes) = list(&broken).unwrap();
    assert_eq!(members, [("hello.com".to_string(), data.clone())]);
    assert!(notes.iter().any(|n| n.contains("mirror")), "{notes:?}");

    // Both broken: the file set cannot be located.
    broken[(PART + 1) * BS + 100] ^= 1;
    assert!(matches!(list(&broken), Err(ContainerError::Corrupt(_))));

    // A loop: the file's FID names the root directory as a directory.
    let mut looped = d.clone();
    let root = (PART + 11) * BS;
    let mut fids = fid("", 0x0a, 1, 1);
    fids.extend(fid("again", 0x02, 1, 1));
    looped[root + 56..root + 64].copy_from_slice(&(fids.len() as u64).to_le_bytes());
    looped[root + 172..root + 176].copy_from_slice(&(fids.len() as u32).to_le_bytes());
    looped[root + 176..root + 176 + fids.len()].copy_from_slice(&fids);
    seal(&mut looped[root..root + BS], id::FE, 1);
    let (members, _) = list(&looped).unwrap();
    assert!(members.is_empty(), "{members:?}");
}
