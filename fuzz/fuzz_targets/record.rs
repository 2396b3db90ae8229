//! `scanner report`'s record reader: JSON Lines records (the input split into up to four
//! records at ASCII record separators), merged into a fleet and rendered in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::report::{merge, parse_record, render, Format};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let text = String::from_utf8_lossy(data);
    let scans: Vec<_> = text
        .split('\u{1e}')
        .take(4)
        .enumerate()
        .filter_map(|(i, t)| parse_record(t, &format!("fuzz-{i}.jsonl")))
        .collect();
    let fleet = merge(scans);
    for f in [
        Format::Text,
        Format::Csv,
        Format::Json,
        Format::Html,
        Format::Ecs,
        Format::Cef,
    ] {
        let _ = render(&fleet, f);
    }
});
