//! The few system calls the standard library does not offer, in one place.
//!
//! Every `unsafe` block of the crate that talks to the kernel lives here, each with its
//! `// SAFETY:` argument, so that the rest of the code stays safe Rust.

use std::os::fd::AsRawFd;

// <linux/fs.h>: _IO(0x12, 93) and _IOR(0x12, 114, size_t). Not in libc.
nix::ioctl_write_ptr_bad!(blkroset_raw, nix::request_code_none!(0x12, 93), libc::c_int);
nix::ioctl_read!(blkgetsize64_raw, 0x12, 114, u64);
nix::ioctl_read_bad!(
    blksszget_raw,
    nix::request_code_none!(0x12, 104),
    libc::c_int
);
nix::ioctl_read_bad!(
    blkrosget_raw,
    nix::request_code_none!(0x12, 94),
    libc::c_int
);

/// Marks a block device read-only in the kernel (`BLKROSET`), so that nothing, not even a
/// bug of ours or a later mount, can write to it until it is reset or the machine reboots.
pub fn set_block_device_read_only(fd: &impl AsRawFd) -> nix::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `fd` is an open descriptor owned by the caller and `one` outlives the call;
    // BLKROSET only reads the int it is given.
    unsafe { blkroset_raw(fd.as_raw_fd(), &one) }.map(|_| ())
}

/// Whether the kernel has the block device marked read-only (`BLKROGET`).
pub fn block_device_is_read_only(fd: &impl AsRawFd) -> nix::Result<bool> {
    let mut ro: libc::c_int = 0;
    // SAFETY: `fd` is open; the kernel writes one int into `ro`, which we own.
    unsafe { blkrosget_raw(fd.as_raw_fd(), &mut ro) }?;
    Ok(ro != 0)
}

/// Size of a block device in bytes (`BLKGETSIZE64`).
pub fn block_device_size(fd: &impl AsRawFd) -> nix::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: `fd` is open; the kernel writes one u64 into `size`, which we own.
    unsafe { blkgetsize64_raw(fd.as_raw_fd(), &mut size) }?;
    Ok(size)
}

/// Logical sector size of a block device (`BLKSSZGET`).
pub fn block_device_sector_size(fd: &impl AsRawFd) -> nix::Result<u32> {
    let mut size: libc::c_int = 0;
    // SAFETY: `fd` is open; the kernel writes one int into `size`, which we own.
    unsafe { blksszget_raw(fd.as_raw_fd(), &mut size) }?;
    Ok(u32::try_from(size).unwrap_or(512))
}
