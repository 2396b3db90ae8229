//! Test-only fault injection: `vigie.test.crash=` on the kernel command line makes the scan
//! process or the UI thread fail on purpose, so the boot tests can prove that PID 1 survives,
//! explains and records a crashed child.
//!
//! Parsed by `init::cmdline`, acted on by `tui::run`: it lives below both.

/// Test-only fault injection (`vigie.test.crash=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// The scan process aborts after its first volume record (like a reader crash).
    Scan,
    /// The UI thread panics when the scan starts.
    Ui,
}

impl Crash {
    /// From a `vigie.test.crash=` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scan" | "abort" => Some(Self::Scan),
            "ui" | "panic" => Some(Self::Ui),
            _ => None,
        }
    }
}
