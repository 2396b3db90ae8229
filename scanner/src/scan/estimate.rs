//! How long a scan will take, before it starts and while it runs (issue 14), from the bytes
//! allocated on the volumes (`fs::allocated`), never from partition sizes.
//!
//! Assumptions, stated here and in the README (hypotheses until `scripts/bench` calibrates
//! them on real machines): a full scan reads allocated data at [`FULL_BYTES_PER_SEC`]; a quick
//! scan reads [`QUICK_SHARE`] of it (executables, scripts, documents and archives of the
//! high-risk areas) plus [`QUICK_WALK_SECS`] per readable volume for its directory walks. Once
//! running, the time left uses the measured speed instead.

/// Assumed full-scan throughput of allocated data: 50 MiB/s (a SATA disk, yara-x on 2 cores).
pub const FULL_BYTES_PER_SEC: f64 = 50.0 * 1024.0 * 1024.0;
/// Assumed share of the allocated bytes a quick scan reads.
pub const QUICK_SHARE: f64 = 0.03;
/// Assumed cost of a quick scan's walks (autostart, targets, main) per readable volume.
pub const QUICK_WALK_SECS: f64 = 60.0;

/// Seconds a full scan of `allocated` bytes should take.
pub fn full_secs(allocated: u64) -> f64 {
    allocated as f64 / FULL_BYTES_PER_SEC
}

/// Seconds a quick scan of `volumes` readable volumes holding `allocated` bytes should take.
pub fn quick_secs(allocated: u64, volumes: usize) -> f64 {
    allocated as f64 * QUICK_SHARE / FULL_BYTES_PER_SEC + QUICK_WALK_SECS * volumes as f64
}

/// Seconds left once `done` of `total` bytes were read in `elapsed` seconds (measured speed),
/// `None` until there is a speed to go by.
pub fn time_left(elapsed: f64, done: u64, total: u64) -> Option<f64> {
    if elapsed.is_nan() || elapsed < 1.0 || done == 0 {
        return None;
    }
    let speed = done as f64 / elapsed;
    Some(total.saturating_sub(done) as f64 / speed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        let gib100 = 100u64 << 30;
        assert!((full_secs(gib100) - 2048.0).abs() < 1.0);
        assert!(quick_secs(gib100, 2) < full_secs(gib100) / 5.0);
        assert_eq!(time_left(0.5, 10, 100), None);
        assert_eq!(time_left(10.0, 0, 100), None);
        assert_eq!(time_left(10.0, 50, 100), Some(10.0));
        assert_eq!(time_left(10.0, 150, 100), Some(0.0));
    }
}
