//! The UDF reader (issue 13, container/udf): the input is a disc image, opened as the engine
//! opens a disc sniffed as UDF (its ISO 9660 side when the UDF one cannot be opened); every
//! member is read to its end, and no member may yield more bytes than its declared size.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use vigie::container::{udf, MemberMeta};
use vigie::fs::Content;
use vigie::io::BytesAt;

/// Bytes read from the members of one input, all together (unrecorded extents read as
/// zeros: a tiny image may declare huge files; the engine's `Limited` bounds those).
const MAX_TOTAL: u64 = 256 << 20;

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let Ok(mut disc) = udf::open_disc(BytesAt(data)) else {
        return;
    };
    let _ = disc.notes();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut each = |meta: &MemberMeta, content: Content<'_>| {
        assert!(
            !meta.name.is_empty() && !meta.name.contains("//"),
            "{:?}",
            meta.name
        );
        if let Content::Data(r) = content {
            let mut got = 0u64;
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        got += n as u64;
                        total += n as u64;
                        if let Some(size) = meta.size {
                            assert!(got <= size, "{} yields {got} of {size} bytes", meta.name);
                        }
                        if total > MAX_TOTAL {
                            return ControlFlow::Break(());
                        }
                    }
                }
            }
        }
        ControlFlow::Continue(())
    };
    let _ = disc.for_each(&mut each);
});
