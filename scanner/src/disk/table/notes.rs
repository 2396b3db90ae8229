//! The problems a table reader meets (overlaps, entries past the end, chain loops, CRC
//! mismatch, ...), kept for the disk record and capped: a hostile table could otherwise produce
//! thousands.

/// At most this many notes per disk; a hostile table could otherwise produce thousands.
pub(super) const MAX_NOTES: usize = 32;

/// Notes for the disk record, capped at [`MAX_NOTES`].
#[derive(Debug, Default)]
pub(in crate::disk) struct Notes {
    pub(super) list: Vec<String>,
    dropped: usize,
}

impl Notes {
    /// Adds a note (or counts it once the cap is reached).
    pub(in crate::disk) fn push(&mut self, note: impl Into<String>) {
        if self.list.len() < MAX_NOTES {
            self.list.push(note.into());
        } else {
            self.dropped += 1;
        }
    }

    pub(super) fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("{} more problems were not listed", self.dropped));
        }
        self.list
    }
}
