//! One line on PID 1's console: [`say`] writes `vigie: ...` to the console (and to its serial
//! mirror, see [`mirror_console`]), or to the kernel log while the console UI owns the screen
//! ([`quiet_console`]). It never panics: a closed console must not kill PID 1.
//!
//! Below both `init` (PID 1) and `tui::run` (the UI child, which reports its own failures the
//! same way), so neither imports the other for it.

use std::io::Write;

/// A second console (the serial port when `/dev/console` is the screen), see [`mirror_console`].
static MIRROR: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// While the console UI owns the screen, messages go to the kernel log only.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends [`say`]'s messages to the kernel log instead of the console (the UI is drawing) or
/// back to the console.
pub fn quiet_console(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Prints one line on the console (and its mirror); never panics (a closed console must not
/// kill PID 1).
pub fn say(msg: &str) {
    let line = format!("vigie: {msg}\n");
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        if let Ok(mut k) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
            let _ = k.write_all(line.as_bytes());
        }
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
    if let Ok(mut m) = MIRROR.lock() {
        if let Some(f) = m.as_mut() {
            let _ = f.write_all(line.replace('\n', "\r\n").as_bytes());
        } else if let Ok(mut early) = EARLY.lock() {
            if early.len() < 64 {
                early.push(line);
            }
        }
    }
}

/// Lines said before the mirror was known, replayed on it.
static EARLY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// With `console=ttyS0 console=tty0`, `/dev/console` is the screen (the last one) and only the
/// kernel writes to the serial port: mirror our messages there too (logs, test harnesses).
pub fn mirror_console(cmdline: &str) {
    let consoles: Vec<&str> = cmdline
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("console="))
        .collect();
    let Some(last) = consoles.last() else { return };
    for c in &consoles[..consoles.len() - 1] {
        let dev = c.split(',').next().unwrap_or("");
        if dev.starts_with("ttyS") && !last.starts_with(dev) {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/dev/{dev}"))
            {
                if let Ok(mut early) = EARLY.lock() {
                    for l in early.iter() {
                        let _ = f.write_all(l.replace('\n', "\r\n").as_bytes());
                    }
                    early.clear();
                }
                if let Ok(mut m) = MIRROR.lock() {
                    *m = Some(f);
                }
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_console_only_for_a_serial_console_that_is_not_last() {
        mirror_console("console=tty0 console=ttyS0,115200");
        assert!(MIRROR.lock().unwrap().is_none());
        mirror_console("quiet");
        assert!(MIRROR.lock().unwrap().is_none());
    }
}
