//! Virtual-disk translators (dynamic VHD, VHDX, sparse and stream-optimized VMDK; issue 13):
//! the input is an image file; the translated device is read as a filesystem would (its
//! start in small pieces, then pieces at offsets taken from the input's last bytes), and its
//! partition table and volumes are detected as the disk-image container does.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigie::container::vdisk;
use vigie::disk::{detect::detect, table::read_partition_table};
use vigie::io::{Device, MemDevice, ReadAt, Slice};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let file: Device = Arc::new(MemDevice::new(data.to_vec()));
    let Ok(opened) = vdisk::open(file) else {
        return;
    };
    let dev = opened.dev;
    let size = dev.size();
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..32u64 {
        let n = dev.read_at(i * 4096, &mut buf[..4096]).unwrap_or(0);
        assert!(n <= 4096);
    }
    for w in data.rchunks(8).take(16) {
        let mut a = [0u8; 8];
        a[..w.len()].copy_from_slice(w);
        let v = u64::from_le_bytes(a);
        let len = (v >> 48) as usize % buf.len() + 1;
        let at = if size == 0 { 0 } else { v % size };
        let n = dev.read_at(at, &mut buf[..len]).unwrap_or(0);
        assert!(n <= len && at + n as u64 <= size);
    }
    let _ = detect(&*dev);
    if let Ok(table) = read_partition_table(&*dev, None) {
        for p in table.partitions.iter().take(64) {
            let part = Slice::new(dev.clone(), p.start, p.len);
            let _ = detect(&part);
        }
    }
});
