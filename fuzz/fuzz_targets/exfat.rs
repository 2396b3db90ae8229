//! The exFAT reader over an in-memory volume: open, full walk, every file's content read
//! (see `vigie_fuzz::walk_all` for the properties).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigie::io::{Device, MemDevice};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let dev: Device = Arc::new(MemDevice::new(data.to_vec()));
    if let Ok(mut w) = vigie::fs::exfat::open(dev) {
        let _ = w.serial();
        vigie_fuzz::walk_all(&mut w);
    }
});
