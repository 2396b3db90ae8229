//! A file of 1 MiB and more seen as a random-access device over the cluster heap, for the
//! scan engine to open a container too large for memory in place (issue 13). The clusters
//! come from the walker's own [`Chain`] (a `NoFatChain` run, or FAT links with every link
//! checked), walked once as far as `ValidDataLength` needs (the walker already checked that
//! the size fits the cluster count) into a [`RunTable`]; bytes past `ValidDataLength` read as
//! zeros, as in [`super::content`]. The walk's record of claimed clusters is not used (the
//! stream claimed them first): a chain that loops or crosses itself is refused by the table.

use std::sync::Arc;

use super::alloc::{Chain, Clusters};
use super::dir::Entry;
use crate::fs::runmap::{Gap, MapRun, RunMap, RunTable};
use crate::io::Device;

/// Most clusters gathered into one run per step of the chain.
const PER_STEP: u64 = 1 << 20;

/// The device over `entry`'s data, or why it cannot be built.
pub(super) fn device(vol: &Clusters, entry: &Entry) -> Result<Device, String> {
    let geo = &vol.geo;
    let cs = geo.cluster_size;
    let clusters = entry.valid.div_ceil(cs);
    if entry.size.div_ceil(cs) > geo.cluster_count {
        return Err(format!("file size {} exceeds the cluster heap", entry.size));
    }
    let mut chain = Chain::unclaimed(entry.first_cluster, clusters, entry.contiguous);
    let mut table = RunTable::default();
    let mut logical = 0u64;
    while let Some((first, count)) = chain.next_run(vol, PER_STEP)? {
        let len = count * cs;
        table.push(MapRun {
            logical,
            len,
            phys: geo.cluster_offset(first),
        })?;
        logical += len;
    }
    let map = RunMap::new(vol.data.clone(), entry.size, entry.valid, Gap::Error, table)?;
    Ok(Arc::new(map))
}
