//! Files compressed by the Windows Overlay Filter (CompactOS, `compact /exe`).
//!
//! Such a file carries a reparse point with tag `IO_REPARSE_TAG_WOF` whose data names the
//! provider (`FILE_PROVIDER`, 2) and the algorithm (XPRESS4K 0, LZX 1, XPRESS8K 2,
//! XPRESS16K 3); its unnamed `$DATA` is empty (sparse) with the logical size, and the content
//! lives in the `WofCompressedData` stream: a table of chunk offsets (4 bytes each, 8 when the
//! file is over 4 GiB; one entry per chunk but the first, counted from the end of the table)
//! then the chunks, each compressed independently, or stored as is when compressing did not
//! make it smaller. [`WofReader`] serves the logical bytes one chunk at a time; nothing is
//! allocated by a size read from disk except one chunk (at most 32 KiB in and out).
//!
//! WOF ties each algorithm to one chunk size (XPRESS 4, 8 or 16 KiB, LZX 32 KiB), so the
//! chunk size alone names the decoder ([`Algorithm::chunk`]). A chunk that fails to decode
//! makes the reader return an error naming it: the walker then skips the file as
//! `wof_compressed` and counts it in the volume's notes. The LZX layout is the same as a WIM
//! resource's (chunk table, then chunks; the tests take theirs from wimlib's WIM files).

use std::io::{self, Read};

use super::{StreamData, StreamReader};
use crate::fs::codec::{lzx, xpress};
use crate::io::Device;

/// Reparse data: WOF_EXTERNAL_INFO then FILE_PROVIDER_EXTERNAL_INFO_V1.
const WOF_PROVIDER_FILE: u32 = 2;
/// Largest chunk accepted, and the only LZX one (32 KiB).
const MAX_CHUNK: u64 = 32 * 1024;

/// How a WOF file's chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    Xpress(u64),
    Lzx,
}

impl Algorithm {
    /// Bytes of logical content per chunk.
    pub(super) fn chunk(self) -> u64 {
        match self {
            Algorithm::Xpress(c) => c,
            Algorithm::Lzx => MAX_CHUNK,
        }
    }
}

/// What the reparse point says, when it is a file-provider WOF point.
pub(super) fn parse_reparse(v: &[u8]) -> Option<Result<Algorithm, String>> {
    let u32_at = |at: usize| {
        v.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Header: tag (4), data length (2), reserved (2); then WOF_EXTERNAL_INFO (version,
    // provider) and the provider's own (version, algorithm).
    let provider = u32_at(12)?;
    if provider != WOF_PROVIDER_FILE {
        return Some(Err(format!(
            "WOF provider {provider} (only the file provider is read)"
        )));
    }
    Some(match u32_at(20)? {
        0 => Ok(Algorithm::Xpress(4096)),
        1 => Ok(Algorithm::Lzx),
        2 => Ok(Algorithm::Xpress(8192)),
        3 => Ok(Algorithm::Xpress(16384)),
        a => Err(format!("unknown WOF algorithm {a}")),
    })
}

/// Streams the logical content of a WOF file from its `WofCompressedData` stream.
pub(super) struct WofReader {
    stream: StreamReader,
    /// Bytes of the compressed stream.
    stream_size: u64,
    size: u64,
    chunk: u64,
    chunks: u64,
    entry: u64,
    table: u64,
    pos: u64,
    /// The decoded chunk under `pos`: (index, bytes).
    current: Option<(u64, Vec<u8>)>,
}

impl WofReader {
    /// `compressed` is the `WofCompressedData` stream (of `stream_size` bytes), `size` the
    /// file's logical size.
    pub(super) fn new(
        dev: Device,
        compressed: StreamData,
        stream_size: u64,
        size: u64,
        chunk: u64,
    ) -> Result<Self, String> {
        if chunk == 0 || chunk > MAX_CHUNK {
            return Err(format!("WOF chunk size {chunk}"));
        }
        let chunks = size.div_ceil(chunk);
        let entry = if size > u64::from(u32::MAX) { 8 } else { 4 };
        let table = chunks.saturating_sub(1).saturating_mul(entry);
        if table > stream_size {
            return Err(format!(
                "WOF chunk table ({table} bytes) larger than its stream ({stream_size} bytes)"
            ));
        }
        Ok(Self {
            stream: StreamReader::new(dev, compressed),
            stream_size,
            size,
            chunk,
            chunks,
            entry,
            table,
            pos: 0,
            current: None,
        })
    }

    /// Start of chunk `i` in the stream (after the table).
    fn chunk_start(&mut self, i: u64) -> io::Result<u64> {
        if i == 0 {
            return Ok(self.table);
        }
        if i >= self.chunks {
            return Ok(self.stream_size);
        }
        let mut b = [0u8; 8];
        let n = usize::try_from(self.entry).unwrap_or(8);
        self.stream
            .read_exact_at((i - 1) * self.entry, &mut b[..n])?;
        let off = u64::from_le_bytes(b);
        off.checked_add(self.table)
            .filter(|&p| p <= self.stream_size)
            .ok_or_else(|| bad(format!("WOF chunk {i} starts past its stream")))
    }

    fn load(&mut self, i: u64) -> io::Result<Vec<u8>> {
        let start = self.chunk_start(i)?;
        let end = self.chunk_start(i + 1)?;
        let out_len = self.chunk.min(self.size - i * self.chunk);
        let Some(len) = end.checked_sub(start).filter(|&l| l <= out_len && l > 0) else {
            return Err(bad(format!("WOF chunk {i} has an impossible length")));
        };
        let mut raw = vec![0u8; usize::try_from(len).unwrap_or(0)];
        self.stream.read_exact_at(start, &mut raw)?;
        if len == out_len {
            return Ok(raw); // stored uncompressed
        }
        let mut out = vec![0u8; usize::try_from(out_len).unwrap_or(0)];
        let decoded = if self.chunk == MAX_CHUNK {
            lzx::decompress(&raw, &mut out).map_err(|e| e.to_string())
        } else {
            xpress::decompress(&raw, &mut out).map_err(|e| e.to_string())
        };
        decoded.map_err(|e| bad(format!("WOF chunk {i} does not decode: {e}")))?;
        Ok(out)
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Read for WofReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let i = self.pos / self.chunk;
        if self.current.as_ref().map(|c| c.0) != Some(i) {
            let bytes = self.load(i)?;
            self.current = Some((i, bytes));
        }
        let Some((_, bytes)) = &self.current else {
            return Ok(0);
        };
        let off = usize::try_from(self.pos - i * self.chunk).unwrap_or(usize::MAX);
        let n = buf.len().min(bytes.len().saturating_sub(off));
        buf[..n].copy_from_slice(&bytes[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reparse_data_names_the_algorithm() {
        let mut v = vec![
            0x17, 0, 0, 0x80, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0,
        ];
        for (a, want) in [
            (0u8, Algorithm::Xpress(4096)),
            (1, Algorithm::Lzx),
            (2, Algorithm::Xpress(8192)),
            (3, Algorithm::Xpress(16384)),
        ] {
            let mut r = v.clone();
            r.extend_from_slice(&[a, 0, 0, 0]);
            assert_eq!(parse_reparse(&r), Some(Ok(want)));
            assert!(want.chunk().is_power_of_two() && want.chunk() <= MAX_CHUNK);
        }
        v.extend_from_slice(&[9, 0, 0, 0]);
        assert!(matches!(parse_reparse(&v), Some(Err(_))));
        v[12] = 1; // WIM provider
        assert!(matches!(parse_reparse(&v), Some(Err(_))));
        assert_eq!(parse_reparse(&v[..10]), None);
    }
}
