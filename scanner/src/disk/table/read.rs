//! Reads for the table readers that tell a short disk (a truncated image, an offset from a
//! corrupt table) from a failing one.

use std::io;

use crate::io::ReadAt;

/// Reads `buf.len()` bytes at `offset`. `Ok(false)` when the device ends first (a truncated
/// image or an offset from a corrupt table); real I/O errors are returned.
pub(in crate::disk) fn read_full(
    dev: &dyn ReadAt,
    offset: u64,
    buf: &mut [u8],
) -> io::Result<bool> {
    match dev.read_exact_at(offset, buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}
