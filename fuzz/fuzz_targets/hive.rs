//! The registry hive path of the host record: the computer name and the current control set
//! read from a SYSTEM hive captured on the scanned disk (nt-hive under a panic guard).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::hostinfo::{hive_dword, hive_string, windows_name};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let _ = windows_name(data);
    let _ = hive_dword(data, "Select", "Current");
    let _ = hive_string(
        data,
        "ControlSet001\\Control\\ComputerName\\ComputerName",
        "ComputerName",
    );
});
