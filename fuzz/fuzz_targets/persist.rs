//! The persistence parsers over one file's bytes: the first byte picks the parser (registry
//! hive of each kind, scheduled task XML, systemd unit, cron table, line lists, shell
//! profile); every command found goes through the program resolvers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::persist::hive::{entries, is_dirty, HiveKind};
use vigie::persist::{resolve, text, Raw};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let raws: Vec<Raw> = match pick % 8 {
        0 => {
            let _ = is_dirty(bytes);
            entries(bytes, HiveKind::System)
        }
        1 => entries(bytes, HiveKind::Software),
        2 => entries(bytes, HiveKind::User),
        3 => text::task(bytes),
        4 => text::systemd(bytes),
        5 => text::cron(bytes, pick & 0x80 != 0),
        6 => text::each_line(bytes, "fuzz"),
        _ => text::profile(bytes),
    };
    let _ = text::decode(bytes);
    for r in raws.iter().take(1000) {
        if let Some(p) = resolve::windows_program(&r.command) {
            let _ = resolve::windows_to_volume(&p, Some("Users/fuzz"));
            let _ = resolve::windows_search(&p);
            let _ = resolve::user_writable(&p);
        }
        if let Some(p) = resolve::unix_program(&r.command) {
            let _ = resolve::user_writable(&p);
        }
    }
});
