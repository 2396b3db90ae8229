//! The container layer, as the engine drives it: `sniff`, then `open` and every member read to its end through the
//! engine's bounds (`Limited`, one expansion budget per input), members that are containers
//! themselves opened in turn (a few levels, as the engine does). The first byte picks the
//! outer name, which `sniff` needs for the weak-magic formats (mail, raw disk images) and
//! `single` for its member's name; its high bit opens the outer container in place (over a
//! device, through the crate's stream), as the engine does for one over the full-scan limit.
#![no_main]

use std::cell::Cell;
use std::io::Read;
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vigie::container::limits::{Budget, Limited};
use vigie::container::{self, Limits, MemberMeta, Members};
use vigie::fs::{guard, Content};
use vigie::io::{Device, MemDevice};

const NAMES: [&str; 8] = [
    "a.bin", "m.eml", "b.mbox", "d.img", "v.vhd", "a.tar.gz", "x.tgz", "doc.docx",
];
/// Containers inside containers looked into (the engine's default is 5).
const MAX_DEPTH: u32 = 3;
/// Members visited per input, all depths together.
const MAX_MEMBERS: u64 = 20_000;
/// A member's bytes kept in memory to look for a nested container.
const KEEP: usize = 4 << 20;

fn visit(
    data: &[u8],
    name: &str,
    depth: u32,
    in_place: bool,
    limits: &Limits,
    budget: &Budget,
    seen: &mut u64,
) {
    // Under the engine's guards (`scan/engine/members.rs`): a panic in a format's crate is
    // contained there; one in our code still aborts (vigie_fuzz's hook).
    let Ok(Some(kind)) = guard(|| container::sniff(data, name)) else {
        return;
    };
    let opened = guard(|| -> Result<Box<dyn Members + '_>, _> {
        if in_place && container::opens_in_place(kind) {
            let dev: Device = Arc::new(MemDevice::new(data.to_vec()));
            container::open_device(kind, dev, name)
        } else {
            container::open(kind, data, name)
        }
    });
    let Ok(Ok(mut members)) = opened else {
        return;
    };
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut each = |meta: &MemberMeta, content: Content<'_>| {
        *seen += 1;
        if *seen > MAX_MEMBERS || budget.get() == 0 {
            return ControlFlow::Break(());
        }
        assert!(
            !meta.name.is_empty() && !meta.name.contains(container::SEP),
            "member name {:?}",
            meta.name
        );
        if let Content::Data(r) = content {
            let mut limited = Limited::new(r, limits, meta.packed, budget.clone());
            let mut kept = Vec::new();
            loop {
                match limited.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if kept.len() < KEEP {
                            let take = n.min(KEEP - kept.len());
                            kept.extend_from_slice(&buf[..take]);
                        }
                    }
                }
            }
            if depth < MAX_DEPTH && !kept.is_empty() {
                nested.push((meta.name.clone(), kept));
            }
            // Only a few nested members are held at once.
            if nested.len() >= 8 {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    };
    let _ = guard(|| members.for_each(&mut each));
    drop(members);
    for (n, bytes) in nested {
        visit(&bytes, &n, depth + 1, false, limits, budget, seen);
    }
}

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let limits = Limits::builtin();
    // 64 MiB expanded per input at most: keeps one run short.
    let budget: Budget = Rc::new(Cell::new(
        limits.expansion_for(body.len() as u64).min(64 << 20),
    ));
    let mut seen = 0u64;
    visit(body, name, 1, pick & 0x80 != 0, &limits, &budget, &mut seen);
});
