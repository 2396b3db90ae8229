//! Tests of the partition table reader: [`images`] on real disks made by other tools (the
//! `partition-tables/` oracles and composed test disks), [`hostile`] on synthetic, corrupt and
//! random tables. The layout helpers here are shared by both.

mod hostile;
mod images;

use super::notes::MAX_NOTES;
use super::*;
use crate::disk::detect::detect;
use crate::disk::testimg::*;
use crate::io::{Device, MemDevice, Slice};
use crate::record::FsKind;
use crate::testutil::oracle;
use std::sync::Arc;

const LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
const BASIC_DATA: &str = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7";

fn table(dev: &dyn ReadAt, ss: Option<u32>) -> PartitionTable {
    read_partition_table(dev, ss).expect("partition table")
}

fn table_of(rel: &str, ss: Option<u32>) -> PartitionTable {
    let path = oracle(rel);
    let dev = open(&path);
    unchanged(&path, || table(dev.as_ref(), ss))
}

/// (number, start sector, sectors, mbr type) for every partition.
fn mbr_layout(t: &PartitionTable) -> Vec<(u32, u64, u64, u8)> {
    let ss = u64::from(t.sector_size);
    t.partitions
        .iter()
        .map(|p| {
            let PartitionType::Mbr(k) = p.type_id else {
                panic!("not an MBR type: {p:?}")
            };
            assert_eq!(p.start % ss, 0);
            assert_eq!(p.len % ss, 0);
            (p.number, p.start / ss, p.len / ss, k)
        })
        .collect()
}

/// (number, first lba, last lba, type guid, name) for every partition.
fn gpt_layout(t: &PartitionTable) -> Vec<(u32, u64, u64, String, Option<String>)> {
    let ss = u64::from(t.sector_size);
    t.partitions
        .iter()
        .map(|p| {
            let PartitionType::Gpt(g) = &p.type_id else {
                panic!("not a GPT type: {p:?}")
            };
            (
                p.number,
                p.start / ss,
                (p.start + p.len) / ss - 1,
                g.clone(),
                p.name.clone(),
            )
        })
        .collect()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn has_note(t: &PartitionTable, needle: &str) -> bool {
    t.notes.iter().any(|n| n.contains(needle))
}

fn mem(v: Vec<u8>) -> MemDevice {
    MemDevice::new(v)
}
