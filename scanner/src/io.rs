//! One read-only way to reach the bytes of a disk.
//!
//! Everything that touches a host disk goes through [`ReadAt`]: positional reads, no write
//! method at all. Image files and block devices are opened `O_RDONLY` (block devices are also
//! marked `BLKROSET` before the first read), [`Slice`] narrows a device to a partition,
//! [`BlockCache`] keeps recently read blocks (the filesystem crates re-read the same metadata
//! over and over and do no caching of their own), and [`ReadSeekAdapter`] gives the crates the
//! `Read + Seek` (and, for fatfs, a `Write` that refuses everything) they ask for. [`Overlay`]
//! shows a crate a remapped view of a device (some ranges served from elsewhere), still
//! read-only.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Positional, read-only access to a byte range (a disk, a partition, a test buffer).
///
/// `read_at` fills as much of `buf` as the device holds from `offset` and returns how much it
/// filled: less than `buf.len()` only at the end of the device, 0 at or past the end.
pub trait ReadAt: Send + Sync {
    /// Reads from `offset` into `buf`; see the trait documentation for short reads.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Size in bytes.
    fn size(&self) -> u64;

    /// Fills `buf` completely or fails with `UnexpectedEof`.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let n = self.read_at(offset, buf)?;
        if n == buf.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read of {} bytes at {offset} ran past the end", buf.len()),
            ))
        }
    }
}

/// A shared device handle, cheap to clone across threads.
pub type Device = Arc<dyn ReadAt>;

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        (**self).size()
    }
}

/// An image file or a block device, opened read-only.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    size: u64,
    block_device: bool,
    sector_size: u32,
}

impl FileDevice {
    /// Opens `path` with `O_RDONLY`. On a block device, sets `BLKROSET` before returning, so
    /// no byte is read before the kernel itself refuses writes.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::options().read(true).write(false).open(path)?;
        let meta = file.metadata()?;
        if meta.file_type().is_block_device() {
            crate::sys::set_block_device_read_only(&file).map_err(io::Error::from)?;
            let size = crate::sys::block_device_size(&file).map_err(io::Error::from)?;
            let sector_size = crate::sys::block_device_sector_size(&file).unwrap_or(512);
            Ok(Self {
                file,
                size,
                block_device: true,
                sector_size,
            })
        } else if meta.is_file() {
            Ok(Self {
                file,
                size: meta.len(),
                block_device: false,
                sector_size: 512,
            })
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a disk image file nor a block device",
            ))
        }
    }

    /// Whether this is a block device (as opposed to an image file).
    pub fn is_block_device(&self) -> bool {
        self.block_device
    }

    /// Logical sector size the kernel reports (512 for image files).
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }
}

impl ReadAt for FileDevice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let want = usize::try_from((self.size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        let mut done = 0;
        while done < want {
            match self
                .file
                .read_at(&mut buf[done..want], offset + done as u64)
            {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// A device held in memory: for tests and for small synthetic views.
#[derive(Debug, Clone)]
pub struct MemDevice(pub Arc<Vec<u8>>);

impl MemDevice {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Arc::new(bytes))
    }
}

impl ReadAt for MemDevice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= self.0.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Borrowed bytes seen as a device: a content already held in memory, read by code written
/// for devices (the ISO 9660 reader), without a copy.
#[derive(Debug, Clone, Copy)]
pub struct BytesAt<'a>(pub &'a [u8]);

impl ReadAt for BytesAt<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = self.0.get(start..) else {
            return Ok(0);
        };
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
}

/// A window `[start, start + len)` of another device (a partition of a disk).
#[derive(Clone)]
pub struct Slice {
    inner: Device,
    start: u64,
    len: u64,
}

impl Slice {
    /// The window is clipped to the inner device, so a partition entry that claims to run past
    /// the end of the disk reads as a shorter volume instead of failing every read.
    pub fn new(inner: Device, start: u64, len: u64) -> Self {
        let size = inner.size();
        let start = start.min(size);
        let len = len.min(size - start);
        Self { inner, start, len }
    }
}

impl ReadAt for Slice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = usize::try_from((self.len - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        self.inner.read_at(self.start + offset, &mut buf[..n])
    }
    fn size(&self) -> u64 {
        self.len
    }
}

/// Size of a cache block. Reads at least this long bypass the cache.
pub const CACHE_BLOCK: usize = 64 * 1024;

/// A least-recently-used cache of `CACHE_BLOCK`-sized blocks over a device.
///
/// The filesystem crates read metadata in small pieces, again and again (fatfs reads one FAT
/// entry per cluster, ntfs re-reads `$MFT` records on every lookup, ext4-view one block at a
/// time). Small reads are served from whole cached blocks; large reads (file contents) go
/// straight to the device so they neither copy twice nor evict the metadata.
pub struct BlockCache {
    inner: Device,
    state: Mutex<CacheState>,
    capacity: usize,
}

struct CacheState {
    blocks: HashMap<u64, (Box<[u8]>, u64)>,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl BlockCache {
    /// Caches at most `capacity_bytes` (rounded down to whole blocks, at least one).
    pub fn new(inner: Device, capacity_bytes: usize) -> Self {
        Self {
            inner,
            state: Mutex::new(CacheState {
                blocks: HashMap::new(),
                clock: 0,
                hits: 0,
                misses: 0,
            }),
            capacity: (capacity_bytes / CACHE_BLOCK).max(1),
        }
    }

    /// (hits, misses) so far, for benchmarks and tests.
    pub fn stats(&self) -> (u64, u64) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.hits, s.misses)
    }

    fn with_block<R>(&self, index: u64, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.clock += 1;
        let now = s.clock;
        if let Some((data, stamp)) = s.blocks.get_mut(&index) {
            *stamp = now;
            let r = f(data);
            s.hits += 1;
            return Ok(r);
        }
        s.misses += 1;
        // A full cache gives its oldest block's buffer to the new block: no allocation,
        // zeroing and free of 64 KiB per miss.
        let mut reused = None;
        if s.blocks.len() >= self.capacity {
            if let Some(oldest) = s
                .blocks
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            {
                reused = s.blocks.remove(&oldest).map(|(b, _)| b);
            }
        }
        let mut data = match reused {
            Some(b) if b.len() == CACHE_BLOCK => b,
            _ => vec![0u8; CACHE_BLOCK].into_boxed_slice(),
        };
        let n = self.inner.read_at(index * CACHE_BLOCK as u64, &mut data)?;
        let data = if n < CACHE_BLOCK {
            data[..n].to_vec().into_boxed_slice()
        } else {
            data
        };
        let r = f(&data);
        s.blocks.insert(index, (data, now));
        Ok(r)
    }
}

impl ReadAt for BlockCache {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() >= CACHE_BLOCK {
            return self.inner.read_at(offset, buf);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let index = pos / CACHE_BLOCK as u64;
            let within = usize::try_from(pos % CACHE_BLOCK as u64).unwrap_or(0);
            let rest = &mut buf[done..];
            let n = self.with_block(index, |block| {
                if within >= block.len() {
                    return 0;
                }
                let n = rest.len().min(block.len() - within);
                rest[..n].copy_from_slice(&block[within..within + n]);
                n
            })?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

/// `Read + Seek` over a device, for crates that want a stream (ntfs, fatfs).
///
/// Its `Write` implementation exists only because fatfs demands it: every write fails with
/// `PermissionDenied`, and `flush` (which fatfs calls on every drop) does nothing.
pub struct ReadSeekAdapter {
    dev: Device,
    pos: u64,
}

impl ReadSeekAdapter {
    /// A stream positioned at 0.
    pub fn new(dev: Device) -> Self {
        Self { dev, pos: 0 }
    }
}

impl Read for ReadSeekAdapter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.dev.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ReadSeekAdapter {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.dev.size().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek out of range",
            )),
        }
    }
}

impl Write for ReadSeekAdapter {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        log::error!("refused a write to a host volume");
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "host volumes are read-only",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where the bytes of one [`Overlay`] range come from.
#[derive(Clone)]
pub enum OverlaySource {
    /// Bytes held in memory (the range is exactly as long).
    Bytes(Arc<[u8]>),
    /// The same length of another device, from `offset`.
    Device {
        /// The device read.
        dev: Device,
        /// Where on it the range starts.
        offset: u64,
    },
    /// Zeros (a hole).
    Zeros,
}

/// A read-only view of a device in which some byte ranges are served from elsewhere, and which
/// may extend past the device's end.
///
/// Readers use it to show a crate the bytes it can handle where the disk holds something it
/// cannot (for example NTFS's `$MFT`, scattered over hundreds of fragments, seen as one
/// contiguous run past the end of the volume). Nothing is ever written: the ranges are only
/// read.
#[derive(Clone)]
pub struct Overlay {
    base: Device,
    size: u64,
    /// Sorted by start, non-overlapping: (start, len, source).
    ranges: Vec<(u64, u64, OverlaySource)>,
}

impl Overlay {
    /// A view of `base`, `size` bytes long, with no range replaced yet. Bytes past `base`'s
    /// end and outside every range read as zeros.
    pub fn new(base: Device, size: u64) -> Self {
        Self {
            base,
            size,
            ranges: Vec::new(),
        }
    }

    /// Serves `[start, start + len)` from `source`. Ranges must be added in increasing order,
    /// without overlap, inside the view.
    pub fn push(&mut self, start: u64, len: u64, source: OverlaySource) -> io::Result<()> {
        let bad = |m: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, m.to_string()));
        let Some(end) = start.checked_add(len) else {
            return bad("overlay range overflows");
        };
        if end > self.size {
            return bad("overlay range past the end of the view");
        }
        if let OverlaySource::Bytes(b) = &source {
            if b.len() as u64 != len {
                return bad("overlay bytes and range differ in length");
            }
        }
        if let Some((s, l, _)) = self.ranges.last() {
            if s + l > start {
                return bad("overlay ranges out of order or overlapping");
            }
        }
        if len > 0 {
            self.ranges.push((start, len, source));
        }
        Ok(())
    }
}

impl ReadAt for Overlay {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let want = usize::try_from((self.size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        let mut done = 0usize;
        while done < want {
            let pos = offset + done as u64;
            let rest = (want - done) as u64;
            // The first range that ends past `pos`.
            let i = self.ranges.partition_point(|(s, l, _)| s + l <= pos);
            let n = match self.ranges.get(i) {
                Some((s, l, src)) if *s <= pos => {
                    let within = pos - s;
                    let n = usize::try_from((l - within).min(rest)).unwrap_or(0);
                    let dst = &mut buf[done..done + n];
                    match src {
                        OverlaySource::Bytes(b) => {
                            let at = usize::try_from(within).unwrap_or(usize::MAX);
                            dst.copy_from_slice(&b[at..at + n]);
                        }
                        OverlaySource::Device { dev, offset } => {
                            let from = offset.checked_add(within).ok_or_else(|| {
                                io::Error::new(io::ErrorKind::InvalidData, "overlay overflows")
                            })?;
                            dev.read_exact_at(from, dst)?;
                        }
                        OverlaySource::Zeros => dst.fill(0),
                    }
                    n
                }
                next => {
                    // Identity up to the next range (or the end).
                    let stop = next.map_or(u64::MAX, |(s, _, _)| *s);
                    let n = usize::try_from((stop - pos).min(rest)).unwrap_or(0);
                    let dst = &mut buf[done..done + n];
                    let got = self.base.read_at(pos, dst)?;
                    dst[got..].fill(0);
                    n
                }
            };
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
    fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn slice_clips_to_device_and_reads_short_at_end() {
        let dev: Device = Arc::new(MemDevice::new(pattern(1000)));
        let s = Slice::new(dev, 900, 500);
        assert_eq!(s.size(), 100);
        let mut buf = [0u8; 64];
        assert_eq!(s.read_at(80, &mut buf).unwrap(), 20);
        assert_eq!(buf[0], (980 % 251) as u8);
        assert_eq!(s.read_at(100, &mut buf).unwrap(), 0);
        assert!(s.read_exact_at(90, &mut buf).is_err());
    }

    #[test]
    fn cache_returns_same_bytes_as_device_across_block_edges() {
        let data = pattern(3 * CACHE_BLOCK + 123);
        let dev: Device = Arc::new(MemDevice::new(data.clone()));
        let cache = BlockCache::new(dev, 2 * CACHE_BLOCK);
        for &(off, len) in &[
            (0u64, 10usize),
            (CACHE_BLOCK as u64 - 5, 10),
            (100, CACHE_BLOCK + 7),
            (3 * CACHE_BLOCK as u64 + 100, 50),
        ] {
            let mut buf = vec![0u8; len];
            let n = cache.read_at(off, &mut buf).unwrap();
            let end = (off as usize + len).min(data.len());
            assert_eq!(
                &buf[..n],
                &data[off as usize..end],
                "offset {off} len {len}"
            );
        }
        // Capacity 2: a third block evicts the least recently used one, the cache stays bounded.
        assert!(cache.state.lock().unwrap().blocks.len() <= 2);
        let (hits, misses) = cache.stats();
        assert!(misses >= 3 && hits + misses >= 4);
    }

    #[test]
    fn evicted_buffers_reused_for_new_blocks_hold_only_the_new_bytes() {
        let data = pattern(4 * CACHE_BLOCK + 300);
        let dev: Device = Arc::new(MemDevice::new(data.clone()));
        let cache = BlockCache::new(dev, 2 * CACHE_BLOCK);
        // Round and round over five blocks (the last one short) through a cache of two:
        // every miss after the second takes an evicted block's buffer.
        for round in 0..3 {
            for block in [0u64, 2, 4, 1, 3] {
                let off = block * CACHE_BLOCK as u64 + 7;
                let mut buf = vec![0u8; 200];
                let n = cache.read_at(off, &mut buf).unwrap();
                assert_eq!(n, 200);
                assert_eq!(
                    &buf[..],
                    &data[off as usize..off as usize + 200],
                    "round {round}, block {block}"
                );
            }
        }
        assert!(cache.state.lock().unwrap().blocks.len() <= 2);
        // A read past the short last block's end stops there.
        let mut buf = vec![0u8; 1000];
        let n = cache.read_at(4 * CACHE_BLOCK as u64, &mut buf).unwrap();
        assert_eq!(n, 300);
        assert_eq!(&buf[..n], &data[4 * CACHE_BLOCK..]);
    }

    #[test]
    fn adapter_refuses_every_write() {
        let dev: Device = Arc::new(MemDevice::new(pattern(10)));
        let mut a = ReadSeekAdapter::new(dev.clone());
        assert_eq!(
            a.write(b"x").unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        a.flush().unwrap();
        a.seek(SeekFrom::End(-2)).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(a.read(&mut buf).unwrap(), 2);
        assert!(a.seek(SeekFrom::Current(-100)).is_err());
    }

    #[test]
    fn file_device_opens_read_only() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&pattern(4096)).unwrap();
        let d = FileDevice::open(f.path()).unwrap();
        assert!(!d.is_block_device());
        assert_eq!(d.size(), 4096);
        // The descriptor itself cannot write: O_RDONLY.
        assert!((&d.file).write(b"x").is_err());
    }

    #[test]
    fn overlay_serves_ranges_and_identity_elsewhere() {
        let base: Device = Arc::new(MemDevice::new(pattern(1000)));
        let mut o = Overlay::new(base.clone(), 1500);
        o.push(10, 4, OverlaySource::Bytes(Arc::from(&b"abcd"[..])))
            .unwrap();
        o.push(
            1100,
            100,
            OverlaySource::Device {
                dev: base.clone(),
                offset: 500,
            },
        )
        .unwrap();
        o.push(1200, 50, OverlaySource::Zeros).unwrap();
        assert!(o.push(1210, 5, OverlaySource::Zeros).is_err());
        assert!(o.push(1490, 20, OverlaySource::Zeros).is_err());
        assert!(o
            .push(1300, 3, OverlaySource::Bytes(Arc::from(&b"ab"[..])))
            .is_err());
        let mut buf = vec![0u8; 1500];
        assert_eq!(o.read_at(0, &mut buf).unwrap(), 1500);
        let p = pattern(1000);
        assert_eq!(&buf[..10], &p[..10]);
        assert_eq!(&buf[10..14], b"abcd");
        assert_eq!(&buf[14..1000], &p[14..]);
        assert!(buf[1000..1100].iter().all(|&b| b == 0));
        assert_eq!(&buf[1100..1200], &p[500..600]);
        assert!(buf[1200..].iter().all(|&b| b == 0));
        let mut small = [0u8; 3];
        assert_eq!(o.read_at(12, &mut small).unwrap(), 3);
        assert_eq!(&small, &[b'c', b'd', p[14]]);
        assert_eq!(o.read_at(1499, &mut small).unwrap(), 1);
        assert_eq!(o.read_at(1500, &mut small).unwrap(), 0);
    }
}
