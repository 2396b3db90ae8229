//! The two system calls PID 1 needs that `crate::sys` does not offer: clearing `BLKROSET` on
//! the stick's own log partition (the only device we ever write) and `fork` for the
//! supervised scan child.

use std::os::fd::AsRawFd;

nix::ioctl_write_ptr_bad!(blkroset_raw, nix::request_code_none!(0x12, 93), libc::c_int);

/// Clears the kernel read-only flag of a block device. Only ever called on the stick's log
/// partition and the stick's whole disk, after the stick was identified.
pub fn clear_block_device_read_only(fd: &impl AsRawFd) -> nix::Result<()> {
    let zero: libc::c_int = 0;
    // SAFETY: `fd` is an open descriptor owned by the caller and `zero` outlives the call;
    // BLKROSET only reads the int it is given.
    unsafe { blkroset_raw(fd.as_raw_fd(), &zero) }.map(|_| ())
}

/// `fork()`: `Ok(None)` in the child, `Ok(Some(pid))` in the parent.
pub fn fork() -> nix::Result<Option<nix::unistd::Pid>> {
    // SAFETY: PID 1 forks before it starts any thread (the engine's threads live in the
    // child only), so the child does not inherit locks held by other threads.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(None),
        nix::unistd::ForkResult::Parent { child } => Ok(Some(child)),
    }
}
