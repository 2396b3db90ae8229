//! Partition tables (MBR with its extended chain, GPT primary and backup) and volume detection
//! by signature, on the whole input and on every partition found, as the engine does.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigie::disk::{detect::detect, table::read_partition_table};
use vigie::io::{Device, MemDevice, Slice};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let dev: Device = Arc::new(MemDevice::new(data.to_vec()));
    let _ = detect(&*dev);
    if let Ok(table) = read_partition_table(&*dev, None) {
        for p in table.partitions.iter().take(512) {
            let part = Slice::new(dev.clone(), p.start, p.len);
            let _ = detect(&part);
        }
    }
});
