//! The real console under the UI: make a tty our controlling terminal (PID 1 has none), give
//! it a size when a serial driver reports 0x0 (the terminal at the other end, asked, or
//! 80x25), clear what the boot left on it, keep kernel messages off the screen.
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

/// The terminal's size (columns, rows). A serial line reports 0x0: the terminal at the
/// other end is asked ([`ask_size`]), else [`DEFAULT_SIZE`]; the size found is set on the tty.
pub fn ensure_size(tty: &File) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize the kernel fills in.
    unsafe { tiocgwinsz(tty.as_raw_fd(), &mut ws) }.map_err(io::Error::from)?;
    if ws.ws_row == 0 || ws.ws_col == 0 {
        let (cols, rows) = ask_size(tty).unwrap_or(DEFAULT_SIZE);
        ws.ws_col = cols;
        ws.ws_row = rows;
        // SAFETY: `ws` is a valid winsize that outlives the call; the kernel only reads it.
        unsafe { tiocswinsz(tty.as_raw_fd(), &ws) }.map_err(io::Error::from)?;
    }
    Ok((ws.ws_col, ws.ws_row))
}

/// Asks the terminal at the other end of a serial line for its size: saves the cursor,
/// moves it to the far corner, requests its position (`CSI 6n`) and restores it. Terminals
/// answer `CSI rows ; cols R`; no answer within a second (nothing attached, a dumb terminal)
/// is `None`. Sizes are clamped to what the UI can use.
pub fn ask_size(tty: &File) -> Option<(u16, u16)> {
    use nix::sys::termios;
    use std::io::{Read, Write};
    let saved = termios::tcgetattr(tty).ok()?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    // Reads never block (VMIN = VTIME = 0): `poll` saying "readable" is no promise when
    // another reader of the same tty (the UI child still exiting, when PID 1 asks) takes the
    // bytes first, and a blocking read there would hang PID 1 for good. The deadline bounds
    // the loop.
    raw.control_chars[termios::SpecialCharacterIndices::VMIN as usize] = 0;
    raw.control_chars[termios::SpecialCharacterIndices::VTIME as usize] = 0;
    termios::tcsetattr(tty, termios::SetArg::TCSANOW, &raw).ok()?;
    let mut out = tty;
    let _ = out.write_all(b"\x1b7\x1b[999;999H\x1b[6n\x1b8");
    let _ = out.flush();
    let mut answer = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while answer.len() < 32 && !answer.ends_with(b"R") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [libc::pollfd {
            fd: tty.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: `fds` is a valid array of one pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, left.as_millis().min(1000) as i32) };
        if n <= 0 {
            break;
        }
        let mut b = [0u8; 16];
        match (&*tty).read(&mut b) {
            // Nothing there after all (taken by another reader): wait on, until the deadline.
            Ok(0) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(_) => break,
            Ok(k) => answer.extend_from_slice(&b[..k]),
        }
    }
    let _ = termios::tcsetattr(tty, termios::SetArg::TCSANOW, &saved);
    parse_position(&answer)
}

/// `ESC [ rows ; cols R` (anything before it ignored) -> (cols, rows), clamped to 40..=500
/// columns and 12..=200 rows.
pub fn parse_position(b: &[u8]) -> Option<(u16, u16)> {
    let s = std::str::from_utf8(b).ok()?;
    let body = s.rsplit_once("\x1b[")?.1.strip_suffix('R')?;
    let (rows, cols) = body.split_once(';')?;
    let rows: u16 = rows.parse().ok()?;
    let cols: u16 = cols.parse().ok()?;
    Some((cols.clamp(40, 500), rows.clamp(12, 200)))
}

/// Clears the whole screen and its scrollback, cursor home, default colours: the boot
/// messages must not show around or under the UI's first frame (a terminal larger than the
/// UI keeps whatever was outside its area).
pub fn clear_screen(out: &mut impl std::io::Write) -> io::Result<()> {
    out.write_all(b"\x1b[0m\x1b[H\x1b[2J\x1b[3J")?;
    out.flush()
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

    #[test]
    fn a_serial_terminal_is_asked_for_its_size() {
        use std::io::{Read, Write};
        // A pty reports 0x0 like a serial line; the "terminal" on the master side answers.
        let pty = nix::pty::openpty(None, None).unwrap();
        let (mut master, slave) = (File::from(pty.master), File::from(pty.slave));
        let term = std::thread::spawn(move || {
            let (mut q, mut b) = (Vec::new(), [0u8; 64]);
            while !q.windows(4).any(|w| w == b"\x1b[6n") {
                match master.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => q.extend_from_slice(&b[..n]),
                }
            }
            master.write_all(b"\x1b[50;132R").unwrap();
            master
        });
        assert_eq!(ensure_size(&slave).unwrap(), (132, 50));
        let _master = term.join().unwrap();
        // The size is now set on the tty: not asked again.
        assert_eq!(ensure_size(&slave).unwrap(), (132, 50));
        // Nobody answers: 80x25 after the timeout.
        let quiet = nix::pty::openpty(None, None).unwrap();
        let _keep = File::from(quiet.master);
        let slave = File::from(quiet.slave);
        assert_eq!(ask_size(&slave), None);
        assert_eq!(ensure_size(&slave).unwrap(), DEFAULT_SIZE);
    }

    #[test]
    fn terminal_size_answers() {
        assert_eq!(parse_position(b"\x1b[50;200R"), Some((200, 50)));
        assert_eq!(parse_position(b"junk\x1b[25;80R"), Some((80, 25)));
        assert_eq!(parse_position(b"\x1b[1;1R"), Some((40, 12)));
        assert_eq!(parse_position(b"\x1b[99999;80R"), None);
        assert_eq!(parse_position(b"\x1b[25;80"), None);
        assert_eq!(parse_position(b""), None);
        let mut v = Vec::new();
        clear_screen(&mut v).unwrap();
        assert!(v.ends_with(b"\x1b[2J\x1b[3J"));
    }
}
