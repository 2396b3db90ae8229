//! What goes in and out of [`App::handle`](super::App::handle): the keys it reacts to, the
//! events the loop feeds it (keys, ticks, rules, probed machine, scan messages, PID 1's save
//! answer) and the actions it hands back.

use super::Layout;
use super::Machine;
use crate::record::{Record, RulesInfo};
use crate::sink::Progress;

/// The keys the UI reacts to (arrows, Enter, Esc and letters present on AZERTY and QWERTY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Tab.
    Tab,
    /// A typed character.
    Char(char),
}

/// Something for the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing.
    None,
    /// Load this keyboard layout into the console.
    ApplyLayout(Layout),
    /// Start the scan of these device paths.
    StartScan(Vec<String>),
    /// Ask the scan to stop.
    Cancel,
    /// Ask PID 1 to save the record.
    Save,
    /// The operator is done: power off.
    PowerOff,
}

/// Inputs of the UI.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // transient, one at a time
pub enum Event {
    /// A key.
    Key(Key),
    /// The ticker, with the seconds since the scan started (if it did).
    Tick(f64),
    /// The rules loaded (or not).
    Rules(Result<RulesInfo, String>),
    /// The disks were probed.
    Machine(Machine),
    /// Scan progress.
    Progress(Progress),
    /// A scan record.
    Record(Record),
    /// PID 1's answer to the save request: where the record went, or why it did not.
    Saved(Result<String, String>),
}
