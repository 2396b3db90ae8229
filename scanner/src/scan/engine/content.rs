//! Reading a content into a scan job: whole up to the full-scan limit (handed to a worker),
//! in overlapping blocks through yara-x's block scanner above it (on this thread), and the
//! bounded read that both use.

use std::io::{self, Read};
use std::sync::Arc;

use super::{Run, BLOCK, OVERLAP, READ_CHUNK};
use crate::fs::{guard, SkipReason};
use crate::io::{Device, ReadSeekAdapter, Slice};
use crate::scan::worker::{Done, Job, Outcome, RuleHit};

impl Run<'_, '_> {
    /// Scans the first `len` bytes of a device (boot code, raw partitions) as a job in the
    /// given non-file slot.
    pub(super) fn scan_area(&mut self, slot: usize, dev: &Device, len: u64, name: &str) {
        let len = len.min(dev.size());
        if len == 0 {
            return;
        }
        let mut reader = ReadSeekAdapter::new(Arc::new(Slice::new(dev.clone(), 0, len)));
        self.scan_content(slot, name, None, &mut reader, len);
    }

    /// Reads one file's content (declared `size` within the full-scan limit) and hands it to
    /// a worker; a file that turns out longer than the limit continues in blocks mode.
    pub(super) fn scan_content(
        &mut self,
        slot: usize,
        path: &str,
        stream: Option<String>,
        reader: &mut dyn Read,
        size: u64,
    ) {
        let limit = self.engine.opts.max_file_size;
        let want = size.min(limit);
        self.wait_budget(want);
        // One more byte than declared: a file longer than it says is seen (see `read_up_to`).
        let mut buf = self.pool.take(
            usize::try_from(want)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        );
        let read_error = read_up_to(reader, &mut buf, limit + 1, size)
            .err()
            .map(|e| e.to_string());
        if buf.len() as u64 > limit {
            // The file holds more than it declared: stream the rest with what was read.
            self.scan_blocks(slot, path, stream, reader, buf);
            return;
        }
        self.engine.keep_if_captured(path, &stream, &buf);
        // Containers (issue 13): members of this content are scanned as jobs of their own
        // before it is handed on; the job names the member being read, if any.
        let member = self.nest.member();
        self.expand_members(slot, path, &stream, &buf);
        self.in_flight += 1;
        self.in_flight_bytes += buf.len() as u64;
        self.slots[slot].pending += 1;
        let job = Job {
            slot,
            path: path.to_string(),
            stream,
            data: buf,
            read_error,
            windows: self.slots[slot].windows,
            member,
        };
        self.queue(job);
    }

    /// Blocks mode: overlapping blocks through yara-x's block scanner on this thread.
    /// Modules, `filesize` and matches longer than the overlap are unavailable here, which the
    /// finding's `mode` says.
    pub(super) fn scan_blocks(
        &mut self,
        slot: usize,
        path: &str,
        stream: Option<String>,
        reader: &mut dyn Read,
        prefix: Vec<u8>,
    ) {
        // This thread is busy with the file for a while: the workers get what is queued.
        self.flush();
        let rules = &self.engine.rules.rules;
        let timeout = self.engine.opts.timeout;
        let mut scanner = self.blocks.take().unwrap_or_else(|| {
            let mut s = yara_x::blocks::Scanner::new(rules);
            s.set_timeout(timeout);
            s
        });
        for (k, v) in crate::scan::worker::file_vars(path, self.slots[slot].windows, &prefix) {
            let _ = scanner.set_global(k, v.as_str());
        }
        let mut hasher = crate::scan::iocs::Hasher::new(self.engine.iocs.needs());
        let mut block = prefix;
        let mut hashed = 0usize;
        let mut base = 0usize;
        let mut total = 0u64;
        let mut outcome = Outcome::Scanned;
        let mut crashed = false;
        loop {
            let read = read_up_to(reader, &mut block, BLOCK as u64, BLOCK as u64);
            let eof = read.is_err() || block.len() < BLOCK;
            if base == 0 {
                self.unopened_container(slot, path, &stream, &block);
            }
            if let Err(e) = read {
                outcome = Outcome::Error(e.to_string());
            }
            hasher.update(&block[hashed..]);
            total += (block.len() - hashed) as u64;
            if block.len() > hashed || base == 0 {
                match guard(|| scanner.scan(base, &block).map(|_| ())) {
                    Ok(Ok(())) => {}
                    Ok(Err(yara_x::ScanError::Timeout)) => {
                        outcome = Outcome::Skipped(SkipReason::Timeout);
                        break;
                    }
                    Ok(Err(e)) => {
                        outcome = Outcome::Error(format!("rule engine: {e}"));
                        break;
                    }
                    Err(p) => {
                        outcome = Outcome::Error(format!("rule engine crashed: {p}"));
                        crashed = true;
                        break;
                    }
                }
            }
            if eof {
                break;
            }
            let keep = OVERLAP.min(block.len());
            base += block.len() - keep;
            block.drain(..block.len() - keep);
            hashed = block.len();
        }
        let hits: Vec<RuleHit> = if crashed {
            Vec::new()
        } else {
            match guard(|| {
                scanner.finish().map(|r| {
                    r.matching_rules()
                        .map(|m| (m.identifier().to_string(), m.namespace().to_string()))
                        .collect::<Vec<_>>()
                })
            }) {
                Ok(Ok(h)) => h,
                Ok(Err(yara_x::ScanError::Timeout)) => {
                    outcome = Outcome::Skipped(SkipReason::Timeout);
                    Vec::new()
                }
                Ok(Err(e)) => {
                    outcome = Outcome::Error(format!("rule engine: {e}"));
                    Vec::new()
                }
                Err(p) => {
                    outcome = Outcome::Error(format!("rule engine crashed: {p}"));
                    crashed = true;
                    Vec::new()
                }
            }
        };
        if !crashed {
            self.blocks = Some(scanner);
        }
        block.clear();
        let digests = hasher.finish();
        self.complete(Done {
            slot,
            path: path.to_string(),
            stream,
            data: block,
            outcome,
            hits,
            ioc: self.engine.iocs.find(&digests, total).cloned(),
            sha256: Some(digests.sha256),
            bytes: total,
            blocks: true,
            member: self.nest.member(),
        });
    }
}

/// Reads from `reader` into `buf` until it holds `cap` bytes or the stream ends.
///
/// `hint` is the size the filesystem declares: the buffer is zero-filled once up to it (capped
/// by `cap`, so a lying size cannot make us allocate more) and grows by `READ_CHUNK` only when
/// the stream turns out longer. Readers may return a cluster at a time: the buffer is never
/// re-initialised between their reads.
pub(super) fn read_up_to(
    reader: &mut dyn Read,
    buf: &mut Vec<u8>,
    cap: u64,
    hint: u64,
) -> io::Result<()> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let hint = usize::try_from(hint).unwrap_or(usize::MAX);
    let mut filled = buf.len();
    let mut result = Ok(());
    while filled < cap {
        if filled == buf.len() {
            let grow = if filled == 0 {
                hint.saturating_add(1).max(4096)
            } else {
                READ_CHUNK
            };
            buf.resize(filled.saturating_add(grow).min(cap), 0);
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    buf.truncate(filled);
    result
}
