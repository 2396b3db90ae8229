//! Reading a stream's logical bytes from its data runs: holes and the tail past
//! `initialized_size` read as zeros, LZNT1 compression units are decompressed (see
//! [`crate::fs::lznt1`]). Memory: one compression unit at most.

use std::io::{self, Cursor, Read};

use super::{NonResident, Run, StreamData};
use crate::fs::lznt1;
use crate::io::Device;

/// Fills `buf` with the bytes of a non-compressed stream from `offset` (holes as zeros).
pub(super) fn read_span(
    dev: &Device,
    nr: &NonResident,
    offset: u64,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let pos = offset + done as u64;
        let vcn = pos / nr.cluster;
        let run = nr.run_at(vcn).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no data run maps cluster {vcn}"),
            )
        })?;
        let off = pos - run.vcn * nr.cluster;
        let avail = run.clusters.saturating_mul(nr.cluster).saturating_sub(off);
        let n = usize::try_from(avail.min((buf.len() - done) as u64)).unwrap_or(0);
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty data run"));
        }
        let dst = &mut buf[done..done + n];
        match run.lcn_pos {
            None => dst.fill(0),
            Some(lcn) => dev.read_exact_at(lcn.saturating_add(off), dst)?,
        }
        done += n;
    }
    Ok(())
}

/// Streams the logical bytes of one data stream: holes and the tail past `initialized_size`
/// read as zeros, compressed units are decompressed. Memory: one compression unit at most.
pub(super) struct StreamReader {
    dev: Device,
    data: StreamData,
    pos: u64,
    /// Decoded compression unit: (unit index, bytes).
    unit_buf: Option<(u64, Vec<u8>)>,
}

impl StreamReader {
    pub(super) fn new(dev: Device, data: StreamData) -> Self {
        Self {
            dev,
            data,
            pos: 0,
            unit_buf: None,
        }
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let nr = match &self.data {
            StreamData::Resident(bytes) => {
                let mut c = Cursor::new(bytes.as_slice());
                c.set_position(self.pos);
                let n = c.read(buf)?;
                self.pos += n as u64;
                return Ok(n);
            }
            StreamData::NonResident(nr) => nr.clone_meta(),
        };
        if self.pos >= nr.data_size {
            return Ok(0);
        }
        let want =
            usize::try_from((nr.data_size - self.pos).min(buf.len() as u64)).unwrap_or(buf.len());
        let buf = &mut buf[..want];
        if self.pos >= nr.init_size {
            buf.fill(0);
            self.pos += want as u64;
            return Ok(want);
        }
        let upto_init = usize::try_from((nr.init_size - self.pos).min(want as u64)).unwrap_or(want);
        let buf = &mut buf[..upto_init];
        let n = match nr.unit {
            None => self.read_plain(buf)?,
            Some(unit) => self.read_compressed(buf, unit)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// The scalar fields of a non-resident stream (cheap to copy out of `self`).
struct Meta {
    data_size: u64,
    init_size: u64,
    unit: Option<u64>,
}

impl NonResident {
    fn clone_meta(&self) -> Meta {
        Meta {
            data_size: self.data_size,
            init_size: self.init_size,
            unit: self.unit,
        }
    }

    /// The run holding `vcn`, if any.
    pub(super) fn run_at(&self, vcn: u64) -> Option<&Run> {
        let i = self
            .runs
            .partition_point(|r| r.vcn.saturating_add(r.clusters) <= vcn);
        self.runs.get(i).filter(|r| r.vcn <= vcn)
    }
}

impl StreamReader {
    /// Fills `buf` from byte `pos` of the stream.
    pub(super) fn read_exact_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        self.pos = pos;
        self.read_exact(buf)
    }

    fn nonresident(&self) -> &NonResident {
        match &self.data {
            StreamData::NonResident(nr) => nr,
            StreamData::Resident(_) => unreachable!("only called for non-resident streams"),
        }
    }

    /// Reads from the run under `self.pos` (at most to its end).
    fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let nr = self.nonresident();
        let vcn = self.pos / nr.cluster;
        let run = nr.run_at(vcn).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no data run maps cluster {vcn}"),
            )
        })?;
        let off = self.pos - run.vcn * nr.cluster;
        let avail = run.clusters.saturating_mul(nr.cluster).saturating_sub(off);
        let n = usize::try_from(avail.min(buf.len() as u64)).unwrap_or(buf.len());
        match run.lcn_pos {
            None => buf[..n].fill(0),
            Some(lcn) => {
                let at = lcn.checked_add(off).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "data run position overflows")
                })?;
                self.dev.read_exact_at(at, &mut buf[..n])?;
            }
        }
        Ok(n)
    }

    fn read_compressed(&mut self, buf: &mut [u8], unit: u64) -> io::Result<usize> {
        let index = self.pos / unit;
        if self.unit_buf.as_ref().map(|(i, _)| *i) != Some(index) {
            let bytes = self.load_unit(index, unit)?;
            self.unit_buf = Some((index, bytes));
        }
        let Some((_, bytes)) = &self.unit_buf else {
            return Ok(0);
        };
        let off = usize::try_from(self.pos - index * unit).unwrap_or(0);
        let n = buf.len().min(bytes.len().saturating_sub(off));
        buf[..n].copy_from_slice(&bytes[off..off + n]);
        Ok(n)
    }

    /// Decodes compression unit `index`: all clusters allocated = stored as is; some
    /// allocated then sparse = LZNT1; all sparse (or unmapped) = zeros.
    fn load_unit(&self, index: u64, unit: u64) -> io::Result<Vec<u8>> {
        let nr = self.nonresident();
        let per_unit = unit / nr.cluster;
        let first = index.saturating_mul(per_unit);
        let unit_len = usize::try_from(unit).map_err(|_| io::Error::other("unit too large"))?;
        if nr.run_at(first).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no data run maps cluster {first}"),
            ));
        }
        let mut out = vec![0u8; unit_len];
        // Allocated pieces of the unit, in VCN order: (volume byte position, bytes).
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut allocated = 0u64;
        let mut vcn = first;
        let last = first.saturating_add(per_unit);
        while vcn < last {
            let Some(run) = nr.run_at(vcn) else { break };
            let take = run.vcn.saturating_add(run.clusters).min(last) - vcn;
            if let Some(lcn) = run.lcn_pos {
                let start = lcn
                    .checked_add((vcn - run.vcn).saturating_mul(nr.cluster))
                    .ok_or_else(|| io::Error::other("data run position overflows"))?;
                pieces.push((start, take * nr.cluster));
                allocated += take;
            }
            vcn += take;
        }
        if allocated == 0 {
            return Ok(out);
        }
        let mut raw = Vec::with_capacity(usize::try_from(allocated * nr.cluster).unwrap_or(0));
        for (start, len) in pieces {
            let old = raw.len();
            raw.resize(old + usize::try_from(len).unwrap_or(0), 0);
            self.dev.read_exact_at(start, &mut raw[old..])?;
        }
        if allocated >= per_unit {
            out.copy_from_slice(&raw[..unit_len]);
        } else {
            lznt1::decompress(&raw, &mut out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            // Bytes past the decoded length stay zero (`out` started zeroed).
        }
        Ok(out)
    }
}
