//! Jobs go to the workers in batches (issue 12): one channel send per file cost the
//! coordinator a wake-up of a worker per file, and each worker, waiting for its next file,
//! spun in the channel's back-off (`sched_yield`) once per file, which took CPU from the
//! coordinator that walks and reads. Small files now travel up to [`BATCH_FILES`] or
//! [`BATCH_BYTES`] at a time; a larger content goes alone, at once.
//!
//! Nothing else changes: a job counts as in flight (jobs, bytes, its slot's pending count) from
//! the moment it is queued, as before from its send, and the batch is flushed before every
//! blocking wait ([`Run::drain`] with `block`, which `wait_budget`, `wait_slot` and `finish`
//! use) and before a file is streamed in blocks on this thread, so no wait can be for a job
//! that was never sent.

use super::Run;
use crate::scan::worker::{Job, Outcome};

/// Files per batch at most.
pub(super) const BATCH_FILES: usize = 32;
/// Content bytes per batch at most (a content this large or larger is sent alone).
pub(super) const BATCH_BYTES: u64 = 256 * 1024;

/// The jobs read and not yet sent.
#[derive(Default)]
pub(super) struct Batch {
    jobs: Vec<Job>,
    bytes: u64,
}

impl Run<'_, '_> {
    /// Queues one job whose accounting (in flight, pending) is already done; sends the batch
    /// when it is full.
    pub(super) fn queue(&mut self, job: Job) {
        self.batch.bytes += job.data.len() as u64;
        self.batch.jobs.push(job);
        if self.batch.jobs.len() >= BATCH_FILES || self.batch.bytes >= BATCH_BYTES {
            self.flush();
        }
    }

    /// Sends the queued jobs, if any. If every worker is gone (cannot happen unless they all
    /// panicked), the jobs are accounted here as errors.
    pub(super) fn flush(&mut self) {
        if self.batch.jobs.is_empty() {
            return;
        }
        let jobs = std::mem::take(&mut self.batch.jobs);
        self.batch.bytes = 0;
        let Some(tx) = &self.jobs else {
            return self.no_worker(jobs);
        };
        if let Err(e) = tx.send(jobs) {
            self.no_worker(e.into_inner());
        }
    }

    fn no_worker(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            self.in_flight -= 1;
            self.in_flight_bytes -= job.data.len() as u64;
            self.slots[job.slot].pending -= 1;
            self.slots[job.slot].account(
                &job.path,
                &Outcome::Error("no scan worker left".into()),
                0,
            );
        }
    }
}
