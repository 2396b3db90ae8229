//! Bounds on what one file may expand to: nesting depth, members per container, bytes per
//! member, bytes expanded per top-level file, compression ratio.
//!
//! A 42-byte file that claims a petabyte must end quickly, finding-free and accounted: the
//! member readers are wrapped in [`Limited`], which fails with an error whose message starts
//! with [`LIMIT_PREFIX`] as soon as a bound is crossed, whatever the container declared. The
//! engine turns that error into an `archive_limit` skip and a note.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Start of the I/O error message of a crossed limit (the engine recognises it).
pub const LIMIT_PREFIX: &str = "archive_limit: ";

/// Ratio checks start only past this many expanded bytes (small, very compressible members
/// such as XML are fine).
pub const RATIO_FLOOR: u64 = 16 << 20;

/// The bounds, all settable by options and the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Look inside files at all.
    pub enabled: bool,
    /// Containers inside containers, the top-level file's members being depth 1.
    pub max_depth: u32,
    /// Members looked at per container; the rest are counted once as `archive_limit`.
    pub max_members: u64,
    /// Uncompressed bytes of one member.
    pub max_member_size: u64,
    /// Bytes expanded from one top-level file, all depths together.
    pub max_expanded: u64,
    /// Uncompressed/packed ratio above which a member is a bomb (after [`RATIO_FLOOR`]).
    pub max_ratio: u64,
}

/// Defaults set once for the process (PID 1, from the kernel command line), inherited by its
/// forked scan child.
static DEFAULTS: std::sync::Mutex<Option<Limits>> = std::sync::Mutex::new(None);

/// Makes `l` the process's default limits.
pub fn set_defaults(l: Limits) {
    if let Ok(mut d) = DEFAULTS.lock() {
        *d = Some(l);
    }
}

impl Default for Limits {
    /// The process's defaults if [`set_defaults`] was called, the built-in ones otherwise.
    fn default() -> Self {
        DEFAULTS
            .lock()
            .ok()
            .and_then(|d| *d)
            .unwrap_or_else(Self::builtin)
    }
}

impl Limits {
    /// The built-in bounds.
    pub const fn builtin() -> Self {
        Self {
            enabled: true,
            max_depth: 5,
            max_members: 10_000,
            max_member_size: 8 << 30,
            max_expanded: 16 << 30,
            max_ratio: 250,
        }
    }

    /// Bytes a top-level file of `outer` bytes may expand to: the absolute bound, and no more
    /// than `max_ratio` times its size (with a 64 MiB floor), so that a tiny bomb stops early.
    pub fn expansion_for(&self, outer: u64) -> u64 {
        self.max_expanded
            .min(outer.saturating_mul(self.max_ratio).max(64 << 20))
    }
}

/// The shared remainder of a top-level file's expansion budget.
pub type Budget = Rc<Cell<u64>>;

/// A member's reader, bounded by the member size, the top-level budget and the ratio.
pub struct Limited<'a> {
    inner: &'a mut dyn Read,
    read: u64,
    max_member: u64,
    packed: Option<u64>,
    max_ratio: u64,
    budget: Budget,
    tripped: Option<String>,
}

impl<'a> Limited<'a> {
    /// Wraps `inner` for a member of `packed` bytes in its container (when known).
    pub fn new(
        inner: &'a mut dyn Read,
        limits: &Limits,
        packed: Option<u64>,
        budget: Budget,
    ) -> Self {
        Self {
            inner,
            read: 0,
            max_member: limits.max_member_size,
            packed,
            max_ratio: limits.max_ratio,
            budget,
            tripped: None,
        }
    }

    /// Why the reader stopped, if a bound was crossed.
    pub fn tripped(&self) -> Option<&str> {
        self.tripped.as_deref()
    }

    /// Bytes handed out so far.
    pub fn bytes(&self) -> u64 {
        self.read
    }

    fn check(&self, next: u64) -> Option<String> {
        if next > self.max_member {
            return Some(format!("member larger than {} bytes", self.max_member));
        }
        if next - self.read > self.budget.get() {
            return Some("expanded bytes of this file exceed the limit (compression bomb?)".into());
        }
        if let Some(p) = self.packed {
            if next > RATIO_FLOOR && next / p.max(1) > self.max_ratio {
                return Some(format!(
                    "compression ratio above {}:1 (compression bomb)",
                    self.max_ratio
                ));
            }
        }
        None
    }
}

impl Read for Limited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(t) = &self.tripped {
            return Err(io::Error::other(format!("{LIMIT_PREFIX}{t}")));
        }
        let n = self.inner.read(buf)?;
        let next = self.read.saturating_add(n as u64);
        if let Some(why) = self.check(next) {
            let e = io::Error::other(format!("{LIMIT_PREFIX}{why}"));
            self.tripped = Some(why);
            return Err(e);
        }
        self.budget.set(self.budget.get() - n as u64);
        self.read = next;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_member_size: 1000,
            ..Limits::default()
        }
    }

    #[test]
    fn member_size_and_budget_stop_the_reader() {
        let data = vec![0u8; 5000];
        let budget: Budget = Rc::new(Cell::new(u64::MAX));
        let mut src = &data[..];
        let mut r = Limited::new(&mut src, &limits(), None, budget.clone());
        let e = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
        assert!(e.to_string().starts_with(LIMIT_PREFIX), "{e}");
        assert!(r.tripped().unwrap().contains("larger"));

        let budget: Budget = Rc::new(Cell::new(100));
        let mut src = &data[..];
        let mut r = Limited::new(&mut src, &Limits::default(), None, budget.clone());
        assert!(std::io::copy(&mut r, &mut std::io::sink()).is_err());
        assert!(r.tripped().unwrap().contains("bomb"));
    }

    #[test]
    fn ratio_applies_past_the_floor_only() {
        let data = vec![0u8; (RATIO_FLOOR + 10) as usize];
        let budget: Budget = Rc::new(Cell::new(u64::MAX));
        let mut src = &data[..1000];
        let mut r = Limited::new(&mut src, &Limits::default(), Some(1), budget.clone());
        assert_eq!(std::io::copy(&mut r, &mut std::io::sink()).unwrap(), 1000);
        let mut src = &data[..];
        let mut r = Limited::new(&mut src, &Limits::default(), Some(1000), budget);
        assert!(std::io::copy(&mut r, &mut std::io::sink()).is_err());
        assert!(r.tripped().unwrap().contains("ratio"));
    }

    #[test]
    fn expansion_budget_follows_the_outer_size() {
        let l = Limits::default();
        assert_eq!(l.expansion_for(42), 64 << 20);
        assert_eq!(l.expansion_for(1 << 30), 16 << 30);
    }
}
