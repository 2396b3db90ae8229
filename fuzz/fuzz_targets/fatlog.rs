//! The log partition's own FAT32 code on a hostile stick: the loop-checked reader that PID 1
//! uses for kept bundles and settings (every folder listed, every small file read), then a
//! whole save (record folder + index row) through the append-only writer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::init::fatlog::Vol;
use vigie::init::logpart::{save_scan_on, SaveOptions};
use vigie::record::HostRecord;
use vigie_fuzz::MemStore;

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    if let Ok(mut vol) = Vol::open_read_only(MemStore(data.to_vec())) {
        let _ = vol.find_dir("VIGIE/scans");
        let mut dirs = vec![vol.root()];
        let mut seen = 0usize;
        while let Some(d) = dirs.pop() {
            seen += 1;
            if seen > 64 {
                break;
            }
            let Ok(entries) = vol.list(d) else { continue };
            for e in entries.iter().take(1024) {
                if e.is_dir() {
                    if e.start >= 2 {
                        dirs.push(e.start);
                    }
                } else if e.size <= 1 << 20 {
                    let _ = vol.read_file(e);
                }
            }
        }
    }
    let host = HostRecord {
        scan_id: "VIGIE-FUZZ-0001-20261128T143000Z-0000000000000001".into(),
        started: "2026-11-28T14:30:00Z".into(),
        windows_names: vec!["PC-FUZZ".into()],
        ..Default::default()
    };
    let lines = vec![
        r#"{"type":"summary","verdict":"clean","files":1,"scanned":1,"findings":0,"bytes":1,"seconds":1.0,"skipped":0,"errors":0,"cancelled":false}"#.to_string(),
    ];
    let opts = SaveOptions {
        pseudonymise: data.first().is_some_and(|b| b & 1 == 1),
        now: 1_795_876_200,
        folder: None,
    };
    let _ = save_scan_on(MemStore(data.to_vec()), &host, &lines, &opts);
});
