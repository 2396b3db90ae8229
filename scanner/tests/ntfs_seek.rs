//! The NTFS seek figure of `scripts/bench --small-files` (issue 12, reading order for spinning
//! disks): backward jumps between consecutive files' first data clusters, in the order the
//! NTFS walker hands the files out and in `$MFT` record order (the order of an `$MFT`-order
//! walk), on one image:
//! `VIGIE_SEEK_IMAGE=IMG cargo test -p scanner --test ntfs_seek -- --ignored --nocapture`.
//!
//! The first clusters come from the `ntfs` crate, record by record, with each record's path
//! rebuilt from its long `$FILE_NAME` and parent; the walker gives only paths, which are
//! matched to them. Files whose content is resident in their record (no cluster) or that no
//! path matches do not count.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use ntfs::attribute_value::NtfsAttributeValue;
use ntfs::structured_values::NtfsFileNamespace;
use ntfs::Ntfs;
use vigie::fs::{Content, FileMeta};
use vigie::io::FileDevice;
use vigie::record::FsKind;

/// Highest record number looked at (the bench images have about 25,000).
const MAX_RECORDS: u64 = 4_000_000;
const ROOT_RECORD: u64 = 5;
const FIRST_USER_RECORD: u64 = 24;

/// A user record: its parent, its long name, whether it is a directory, and the volume
/// offset of its unnamed data stream's first cluster (`None` when resident or empty).
struct Rec {
    parent: u64,
    name: String,
    dir: bool,
    first: Option<u64>,
}

fn records(img: &PathBuf) -> HashMap<u64, Rec> {
    let mut f = BufReader::new(File::open(img).expect("image"));
    let fs = Ntfs::new(&mut f).expect("ntfs");
    let mft_len = fs
        .file(&mut f, 0)
        .ok()
        .and_then(|m| {
            let item = m.data(&mut f, "")?.ok()?;
            Some(item.to_attribute().ok()?.value_length())
        })
        .unwrap_or(0);
    let count = (mft_len / u64::from(fs.file_record_size())).min(MAX_RECORDS);
    let mut out = HashMap::new();
    for n in FIRST_USER_RECORD..count {
        let Ok(file) = fs.file(&mut f, n) else {
            continue;
        };
        if !file.flags().contains(ntfs::NtfsFileFlags::IN_USE) {
            continue;
        }
        let name = [
            NtfsFileNamespace::Win32AndDos,
            NtfsFileNamespace::Win32,
            NtfsFileNamespace::Posix,
        ]
        .into_iter()
        .find_map(|ns| file.name(&mut f, Some(ns), None).and_then(Result::ok));
        let Some(name) = name else { continue };
        let first = file
            .data(&mut f, "")
            .and_then(Result::ok)
            .and_then(|item| {
                let attr = item.to_attribute().ok()?;
                match attr.value(&mut f).ok()? {
                    NtfsAttributeValue::NonResident(v) => v.data_position().value(),
                    NtfsAttributeValue::AttributeListNonResident(v) => v.data_position().value(),
                    NtfsAttributeValue::Resident(_) => None,
                }
            })
            .map(|p| p.get());
        out.insert(
            n,
            Rec {
                parent: name.parent_directory_reference().file_record_number(),
                name: name.name().to_string_lossy(),
                dir: file.is_directory(),
                first,
            },
        );
    }
    out
}

/// The path of a record from the root, as the walker writes it (`None` if a parent is missing
/// or the chain does not end at the root within 512 steps).
fn path_of(recs: &HashMap<u64, Rec>, mut n: u64) -> Option<String> {
    let mut parts = Vec::new();
    for _ in 0..512 {
        if n == ROOT_RECORD {
            parts.reverse();
            return Some(format!("/{}", parts.join("/")));
        }
        let r = recs.get(&n)?;
        parts.push(r.name.clone());
        n = r.parent;
    }
    None
}

/// Backward jumps in a sequence of first-cluster offsets.
fn backward_jumps(firsts: impl Iterator<Item = u64>) -> u64 {
    let mut last = 0;
    let mut jumps = 0;
    for p in firsts {
        if p < last {
            jumps += 1;
        }
        last = p;
    }
    jumps
}

#[test]
#[ignore = "benchmark helper: needs VIGIE_SEEK_IMAGE"]
fn ntfs_seek_figure_of_an_image() {
    let img = PathBuf::from(std::env::var_os("VIGIE_SEEK_IMAGE").expect("VIGIE_SEEK_IMAGE"));
    let recs = records(&img);
    let by_path: HashMap<String, u64> = recs
        .iter()
        .filter(|(_, r)| !r.dir)
        .filter_map(|(&n, _)| Some((path_of(&recs, n)?, n)))
        .collect();
    let dev = Arc::new(FileDevice::open(&img).expect("open"));
    let mut walker = vigie::fs::open::walker(FsKind::Ntfs, dev).expect("walker");
    let mut read_order = Vec::new();
    let mut files = 0u64;
    walker
        .walk(&mut |meta: &FileMeta, _: Content<'_>| {
            files += 1;
            if meta.stream.is_none() {
                if let Some(&n) = by_path.get(&meta.path) {
                    read_order.push(n);
                }
            }
            ControlFlow::Continue(())
        })
        .expect("walk");
    assert!(
        read_order.len() as u64 * 2 > files,
        "only {} of {files} walked files matched a $MFT record: the figure would mean nothing",
        read_order.len()
    );
    let first = |n: &u64| recs.get(n).and_then(|r| r.first);
    let mut mft_order = read_order.clone();
    mft_order.sort_unstable();
    // What sorting each directory's files by first cluster would give (the walker hands a
    // directory's files out together, in index order).
    let mut dir_sorted = read_order.clone();
    for run in dir_sorted.chunk_by_mut(|a, b| recs[a].parent == recs[b].parent) {
        run.sort_by_key(|n| first(n));
    }
    let with_clusters = read_order.iter().filter_map(first).count();
    let moved = read_order
        .iter()
        .zip(&mft_order)
        .filter(|(a, b)| a != b)
        .count();
    println!(
        "seek figure {}: {files} files, {} matched, {with_clusters} with clusters, {moved} read \
         out of MFT order; backward jumps: MFT order {}, order read {}, each directory sorted by \
         first cluster {}",
        img.display(),
        read_order.len(),
        backward_jumps(mft_order.iter().filter_map(first)),
        backward_jumps(read_order.iter().filter_map(first)),
        backward_jumps(dir_sorted.iter().filter_map(first)),
    );
}
