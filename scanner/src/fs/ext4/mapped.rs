//! A regular file of 1 MiB and more seen as a random-access device over the volume, for the
//! scan engine to open a container too large for memory in place (issue 13). The runs come
//! from the walker's own [`Runs`] (extent trees or block maps, with all their checks: depth,
//! node headers, logical order, node budget, physical runs inside the volume), gathered once
//! into a [`RunTable`]; holes and unwritten extents read as zeros, as in [`super::data`].

use std::sync::Arc;

use super::data::Runs;
use crate::fs::runmap::{Gap, MapRun, RunMap, RunTable, MAX_RUNS};
use crate::io::Device;

/// The device over a file of `size` bytes (already capped by the walker) whose runs are `runs`
/// on `dev`, or why it cannot be built.
pub(super) fn device(
    dev: &Device,
    mut runs: Runs,
    block_size: u64,
    size: u64,
) -> Result<Device, String> {
    let blocks = size.div_ceil(block_size);
    let mut table = RunTable::default();
    let mut from = 0u64;
    // Every step moves `from` on by at least one block; holes of a block map come as runs of
    // their own, so the steps are capped as well as the runs kept.
    let mut steps = 0usize;
    while from < blocks {
        steps += 1;
        if steps > 2 * MAX_RUNS {
            return Err(format!(
                "more than {} runs and holes: not mapped",
                2 * MAX_RUNS
            ));
        }
        let Some(run) = runs.next_from(from)? else {
            break;
        };
        let start = run.logical.max(from);
        let end = run.logical.saturating_add(run.len).min(blocks);
        if end <= start {
            break;
        }
        from = end;
        let Some(phys) = run.phys else { continue };
        let bytes = |blocks: u64| {
            blocks
                .checked_mul(block_size)
                .ok_or_else(|| format!("block {blocks} overflows"))
        };
        table.push(MapRun {
            logical: bytes(start)?,
            len: bytes(end - start)?,
            phys: bytes(phys + (start - run.logical))?,
        })?;
    }
    Ok(Arc::new(RunMap::new(
        dev.clone(),
        size,
        size,
        Gap::Zeros,
        table,
    )?))
}
