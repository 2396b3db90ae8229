//! The real console under the UI: make a tty our controlling terminal (PID 1 has none), give
//! it a size when a serial driver reports 0x0, keep kernel messages off the screen.
//!
//! crossterm reads no terminfo and takes its input from stdin when it is a tty: after
//! [`take_tty`] fds 0, 1 and 2 are the tty.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);
nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);

/// Size given to a terminal that reports none (a serial line).
pub const DEFAULT_SIZE: (u16, u16) = (80, 25);

/// `tty1` or `ttyS0` -> `/dev/tty1`; anything else falls back to `/dev/tty1`.
pub fn tty_path(name: &str) -> std::path::PathBuf {
    let ok = name.strip_prefix("tty").is_some_and(|r| {
        !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()) && r.len() <= 8
    });
    Path::new("/dev").join(if ok { name } else { "tty1" })
}

/// Starts a new session, makes `path` its controlling tty and puts it on fds 0, 1 and 2.
/// Returns the tty (kept open by the caller).
pub fn take_tty(path: &Path) -> io::Result<File> {
    // Fails only if we already lead a process group: then we keep our session.
    let _ = nix::unistd::setsid();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    // SAFETY: `tty` is an open descriptor; TIOCSCTTY takes an int argument (1: steal the tty
    // from another session if it had one, we are the only user of the console).
    unsafe { tiocsctty(tty.as_raw_fd(), 1) }.map_err(io::Error::from)?;
    for fd in 0..3 {
        // SAFETY: plain dup2 of a descriptor we own onto the standard descriptors.
        if unsafe { libc::dup2(tty.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    ensure_size(&tty)?;
    Ok(tty)
}

/// The terminal's size (columns, rows); sets [`DEFAULT_SIZE`] when it reports 0x0.
pub fn ensure_size(tty: &impl AsRawFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize the kernel fills in.
    unsafe { tiocgwinsz(tty.as_raw_fd(), &mut ws) }.map_err(io::Error::from)?;
    if ws.ws_row == 0 || ws.ws_col == 0 {
        ws.ws_col = DEFAULT_SIZE.0;
        ws.ws_row = DEFAULT_SIZE.1;
        // SAFETY: `ws` is a valid winsize that outlives the call; the kernel only reads it.
        unsafe { tiocswinsz(tty.as_raw_fd(), &ws) }.map_err(io::Error::from)?;
    }
    Ok((ws.ws_col, ws.ws_row))
}

/// Lowers the console log level so kernel messages do not scribble over the UI (1: panics
/// and emergencies only).
pub fn quiet_kernel(level: i32) {
    // SAFETY: SYSLOG_ACTION_CONSOLE_LEVEL (8) takes no buffer.
    let _ = unsafe { libc::klogctl(8, std::ptr::null_mut(), level) };
}

/// Whether `tty` is a virtual console (a keymap applies) rather than a serial line.
pub fn is_vt(name: &str) -> bool {
    name.strip_prefix("tty")
        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
}

/// Puts `tty` in raw mode (no echo, no line buffering, no signals); used by PID 1 for the
/// crash screen (the UI child uses crossterm's raw mode).
pub fn raw_mode(tty: &File) -> io::Result<()> {
    use nix::sys::termios;
    let mut t = termios::tcgetattr(tty).map_err(io::Error::from)?;
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(tty, termios::SetArg::TCSANOW, &t).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_names() {
        assert_eq!(tty_path("ttyS0"), Path::new("/dev/ttyS0"));
        assert_eq!(tty_path("tty1"), Path::new("/dev/tty1"));
        assert_eq!(tty_path("../sda"), Path::new("/dev/tty1"));
        assert_eq!(tty_path("sda"), Path::new("/dev/tty1"));
        assert!(is_vt("tty1") && !is_vt("ttyS0") && !is_vt("tty"));
    }
}
