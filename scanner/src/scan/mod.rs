//! The scan pipeline: disks -> volumes -> files -> yara-x + hash IOCs -> records.
//!
//! [`Engine`] holds the compiled rules and indicators; [`Engine::scan_paths`] scans disks and
//! pushes records into a [`crate::sink::Sink`]. Every file ends in exactly one outcome
//! (scanned, skipped with a reason, or error) and the records add up.

#[cfg(feature = "engine")]
mod engine;
pub mod estimate;
pub mod iocs;
pub mod quick;
#[cfg(feature = "engine")]
pub mod rules;
#[cfg(feature = "engine")]
mod worker;

#[cfg(feature = "engine")]
pub use engine::{Engine, EngineError, ScanOptions, Target};
