//! The `Read + Seek` stream a container crate gets when its container is read in place, over
//! a device holding the file's own extents.
//!
//! Why not `BufReader` over [`crate::io::ReadSeekAdapter`]: `BufReader` drops its buffer on
//! every `seek`, and the ZIP, 7z, CAB and OLE crates seek before every member or sector they
//! read (to an absolute offset, usually just ahead of where they are). Over a ZIP of ten
//! thousand small members that is ten thousand refills of the whole buffer. This stream keeps
//! its window across seeks: a seek only moves the position, and a read inside the window is
//! served from it. Reads as large as the window go straight to the device.

use std::io::{self, Read, Seek, SeekFrom};

use crate::io::Device;

/// A buffered, seekable, read-only stream over a device.
pub struct DeviceStream {
    dev: Device,
    pos: u64,
    /// Bytes of the device from `start`, `buf.len()` of them valid.
    buf: Vec<u8>,
    start: u64,
    capacity: usize,
}

impl DeviceStream {
    /// A stream at offset 0 with a window of `capacity` bytes (allocated on the first read).
    pub fn new(dev: Device, capacity: usize) -> Self {
        Self {
            dev,
            pos: 0,
            buf: Vec::new(),
            start: 0,
            capacity: capacity.max(512),
        }
    }

    /// The window's bytes at the position, if the position is inside it.
    fn buffered(&self) -> Option<&[u8]> {
        let off = self.pos.checked_sub(self.start)?;
        let off = usize::try_from(off).ok()?;
        self.buf.get(off..).filter(|b| !b.is_empty())
    }
}

impl Read for DeviceStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(b) = self.buffered() {
            let n = b.len().min(out.len());
            out[..n].copy_from_slice(&b[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        if out.len() >= self.capacity {
            let n = self.dev.read_at(self.pos, out)?;
            self.pos += n as u64;
            return Ok(n);
        }
        self.buf.resize(self.capacity, 0);
        let got = match self.dev.read_at(self.pos, &mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                self.buf.clear();
                return Err(e);
            }
        };
        self.buf.truncate(got);
        self.start = self.pos;
        let n = got.min(out.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for DeviceStream {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.dev.size().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let p =
            new.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.pos = p;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::io::{MemDevice, ReadAt};

    /// Counts the reads that reach the device.
    struct Counting(MemDevice, AtomicU64);

    impl ReadAt for Counting {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.read_at(offset, buf)
        }
        fn size(&self) -> u64 {
            self.0.size()
        }
    }

    #[test]
    fn reads_match_the_device_across_seeks_and_the_window_survives_them() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let dev = Arc::new(Counting(MemDevice::new(data.clone()), AtomicU64::new(0)));
        let mut s = DeviceStream::new(dev.clone(), 1024);
        let mut b = [0u8; 100];
        // Small reads and forward seeks inside one window: one device read.
        for at in [0u64, 150, 300, 900] {
            s.seek(SeekFrom::Start(at)).unwrap();
            let n = s.read(&mut b).unwrap();
            assert!(n > 0);
            assert_eq!(&b[..n], &data[at as usize..at as usize + n]);
        }
        assert_eq!(dev.1.load(Ordering::Relaxed), 1);
        // Backwards, from the end, past the end.
        s.seek(SeekFrom::End(-10)).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[data.len() - 10..]);
        s.seek(SeekFrom::Start(20_000)).unwrap();
        assert_eq!(s.read(&mut b).unwrap(), 0);
        assert!(s.seek(SeekFrom::Current(-30_000)).is_err());
        // A read larger than the window goes to the device whole.
        s.seek(SeekFrom::Start(5)).unwrap();
        let mut big = vec![0u8; 4096];
        s.read_exact(&mut big).unwrap();
        assert_eq!(big, &data[5..4101]);
        // The whole content, read in odd sizes, is the device's.
        s.seek(SeekFrom::Start(0)).unwrap();
        let mut all = Vec::new();
        let mut chunk = [0u8; 333];
        loop {
            let n = s.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(all, data);
    }
}
