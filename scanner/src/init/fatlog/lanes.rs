//! Saves larger than one FAT sector's clusters, still with no damaged cut point: lanes that
//! meet in one junction FAT sector.
//!
//! A region token ([`super::token`]) can only grow or shrink within its own FAT sector, because
//! a sector write that changes a link into another FAT sector leaves, until the other sector is
//! written, a cluster either owned by nobody or reached as a free one. Read the other way round
//! (dosfstools' rules), a FAT write may only *re-route* links: it may change which cluster of
//! its sector points to a cluster outside it, never remove or add such a link. So chains are
//! built ahead of time and a save only re-routes them, all re-routing that spans FAT sectors
//! happening in ONE sector, the junction:
//!
//! - A *lane* is a run of whole FAT sectors laid down by `scanner logpart prepare`: it starts at
//!   a cluster one junction cluster points to, goes through its sectors and ends by pointing to
//!   its *bridge*, a cluster of the junction. Inside each of its sectors a lane may be trimmed to
//!   one cluster or grown to all of them (one FAT sector write, clusters zeroed first).
//! - A *pool* (`VIGIE/VGLNnn`, a hidden folder whose first cluster is in the junction) owns the
//!   free lanes: pool head -> lane -> bridge -> lane -> bridge ... (a folder may be any length;
//!   every lane cluster is zeroed, so it parses as free slots).
//! - A *tap* is a token whose only cluster is in the junction (a hidden one-cluster folder,
//!   under the name it will be committed as: in a scan folder, `VIGIE/rules`, next to the
//!   index). Filling a tap with `n` clusters: lanes are trimmed to the lengths needed while they
//!   are still in their pool (FAT writes, one per lane sector); then ONE junction write routes
//!   tap -> lane -> bridge -> ... -> last bridge (end) and the pools around the lanes taken;
//!   then the tap becomes a hidden file of the content's size (one directory sector), the data
//!   is written, and the caller commits (rename or swap). A spent tap (a file again after an
//!   index swap) is zeroed, made a folder again, and its lanes go back to a pool in that same
//!   junction write.
//!
//! Every cut leaves a volume `fsck.fat -n` finds clean: each write changes one sector, and
//! between writes every chain is owned once, folders hold zeroed or valid slots, files have
//! exactly the clusters their size needs. Space: a committed file keeps its lanes (and the
//! clusters of the lane sectors it did not use) until the records are copied away and the
//! desk runs `scanner logpart prepare` again.

use super::{Entry, ATTR_TOKEN};
use super::{FatError, Store, Vol, ATTR_DIR, EOC, R};

/// Prefix of the pool folders in `VIGIE`.
pub const POOL_PREFIX: &str = "VGLN";
/// Largest pool folder: the FAT specification's 2 MiB per folder.
const MAX_POOL_BYTES: u64 = 2 << 20;

/// One lane: its clusters grouped by FAT sector (in chain order), and its bridge.
#[derive(Debug, Clone)]
struct Lane {
    groups: Vec<Vec<u32>>,
    bridge: u32,
}

impl Lane {
    fn start(&self) -> u32 {
        self.groups[0][0]
    }
}

/// A chain read as head + lanes (bridges included).
struct Routed {
    head: u32,
    lanes: Vec<Lane>,
}

impl<S: Store> Vol<S> {
    /// The FAT sector (index) of cluster `c`.
    fn fat_sector_of(&self, c: u32) -> u32 {
        c / self.per_fat_sector()
    }

    /// The pools (entries of `VIGIE`) and their junction sectors.
    fn pools(&mut self) -> R<Vec<Entry>> {
        let Some(vigie) = self.find_dir("VIGIE")? else {
            return Ok(Vec::new());
        };
        Ok(self
            .list(vigie)?
            .into_iter()
            .filter(|e| {
                e.is_dir()
                    && Self::is_token(e)
                    && e.name.starts_with(POOL_PREFIX)
                    && e.start < self.end
            })
            .collect())
    }

    /// Whether `e` is a tap: a token whose first cluster is in a junction (the FAT sector of a
    /// pool's first cluster).
    pub fn is_tap(&mut self, e: &Entry) -> R<bool> {
        if !Self::is_token(e) || e.start >= self.end {
            return Ok(false);
        }
        let js = self.fat_sector_of(e.start);
        Ok(self
            .pools()?
            .iter()
            .any(|p| p.start != e.start && self.fat_sector_of(p.start) == js))
    }

    /// Reads a chain starting in junction sector `js` as head + lanes; `None` if it is not laid
    /// out that way (then no lane work touches it).
    fn routed(&self, head: u32, js: u32) -> Option<Routed> {
        let chain = self.chain(head).ok()?;
        if chain.first() != Some(&head) || self.fat_sector_of(head) != js {
            return None;
        }
        let mut lanes = Vec::new();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        for &c in &chain[1..] {
            if self.fat_sector_of(c) == js {
                if groups.is_empty() {
                    return None;
                }
                lanes.push(Lane {
                    groups: std::mem::take(&mut groups),
                    bridge: c,
                });
                continue;
            }
            match groups.last_mut() {
                Some(g) if self.fat_sector_of(g[0]) == self.fat_sector_of(c) => g.push(c),
                _ => groups.push(vec![c]),
            }
        }
        if !groups.is_empty() {
            return None;
        }
        Some(Routed { head, lanes })
    }

    /// Free clusters of the FAT sector holding `c`.
    fn free_in_sector(&self, c: u32) -> Vec<u32> {
        self.fat_sector_range(c)
            .filter(|&x| self.fat[x as usize] == 0)
            .collect()
    }

    /// Most clusters a lane can hold (each sector: its group plus the sector's free clusters).
    fn lane_room(&self, l: &Lane) -> usize {
        l.groups
            .iter()
            .map(|g| g.len() + self.free_in_sector(g[0]).len())
            .sum()
    }

    /// What the tap `tap` (head in a junction) could hold, in bytes, with its own lanes and
    /// the pools' lanes; 0 when it is not a tap.
    pub fn tap_capacity(&mut self, tap: &Entry) -> R<u64> {
        let Some(plan) = self.tap_lanes(tap)? else {
            return Ok(0);
        };
        let clusters: usize = 1 + plan.iter().map(|l| self.lane_room(l) + 1).sum::<usize>();
        Ok(clusters as u64 * self.cluster)
    }

    /// The tap's own lanes then the pools' (`None`: not a tap). Pools that are not laid out as
    /// lanes are ignored.
    fn tap_lanes(&mut self, tap: &Entry) -> R<Option<Vec<Lane>>> {
        if !self.is_tap(tap)? {
            return Ok(None);
        }
        let js = self.fat_sector_of(tap.start);
        let Some(own) = self.routed(tap.start, js) else {
            return Ok(None);
        };
        let mut lanes = own.lanes;
        for p in self.pools()? {
            if self.fat_sector_of(p.start) != js {
                continue;
            }
            if let Some(r) = self.routed(p.start, js) {
                lanes.extend(r.lanes);
            }
        }
        Ok(Some(lanes))
    }

    /// Fills the tap `tap` (an entry of folder `parent`) with `data` as the module comment
    /// says; returns it as a hidden file holding `data`, to be committed by [`Vol::rename`] or
    /// [`Vol::swap`]. [`FatError::NoToken`] before any write when the lanes cannot take it.
    pub fn fill_tap(&mut self, parent: u32, tap: &Entry, data: &[u8]) -> R<Entry> {
        // Refused before any write (the flip would refuse it after the lane work).
        u32::try_from(data.len()).map_err(|_| FatError::NoToken("content over 4 GiB".into()))?;
        let n = (data.len() as u64).div_ceil(self.cluster).max(1) as usize;
        if !self.is_tap(tap)? {
            return Err(FatError::NoToken(format!("{}: not a tap", tap.name)));
        }
        let js = self.fat_sector_of(tap.start);
        let own = self
            .routed(tap.start, js)
            .ok_or_else(|| FatError::NoToken(format!("{}: not laid out as lanes", tap.name)))?;
        let mut pools = Vec::new();
        for p in self.pools()? {
            if self.fat_sector_of(p.start) == js && p.start != tap.start {
                if let Some(r) = self.routed(p.start, js) {
                    pools.push(r);
                }
            }
        }
        if pools.is_empty() {
            return Err(FatError::NoToken("no pool in the junction".into()));
        }
        // Candidate lanes: the tap's own first (already its own), then the pools'.
        let mut cands: Vec<Lane> = own.lanes.clone();
        for p in &pools {
            cands.extend(p.lanes.iter().cloned());
        }
        let lens = self.plan_lengths(&cands, n - 1)?;
        let taken: Vec<Lane> = cands[..lens.len()].to_vec();
        // Before any write that parses the tap as a folder again: a spent tap (a file) is
        // zeroed, gets `.`/`..`, and becomes a folder (one directory sector).
        let mut tok = tap.clone();
        if !tok.is_dir() {
            let chain = self.chain(tok.start)?;
            let body = self.token_body(tok.start, parent);
            self.write_chain(&chain, &body)?;
            self.s.barrier()?;
            self.write_short(tok.pos, |e| {
                e[11] = ATTR_DIR | ATTR_TOKEN;
                e[28..32].copy_from_slice(&0u32.to_le_bytes());
            })?;
            tok.attr = ATTR_DIR | ATTR_TOKEN;
            tok.size = 0;
        }
        // 1. Each lane taken gets its length, sector by sector, while its owner (a folder)
        //    still holds it: one FAT sector write each.
        let mut shaped = Vec::new();
        for (lane, &len) in taken.iter().zip(&lens) {
            shaped.push(self.shape_lane(lane, len)?);
        }
        // 2. One junction write: the tap takes the lanes, the pools keep the others (and
        //    the tap's own lanes it no longer needs).
        let keep_own: Vec<Lane> = own.lanes.iter().skip(lens.len()).cloned().collect();
        let mut next = tap.start;
        for l in &shaped {
            self.set(next, l.start());
            next = l.bridge;
        }
        self.set(next, EOC);
        let taken_starts: Vec<u32> = taken.iter().map(Lane::start).collect();
        for (i, p) in pools.iter().enumerate() {
            let mut rest: Vec<&Lane> = p
                .lanes
                .iter()
                .filter(|l| !taken_starts.contains(&l.start()))
                .collect();
            if i == 0 {
                rest.extend(keep_own.iter());
            }
            let mut at = p.head;
            for l in rest {
                self.set(at, l.start());
                at = l.bridge;
            }
            self.set(at, EOC);
        }
        // Only junction entries changed: one FAT sector write (entries already right are
        // rewritten as they were).
        if self.dirty.keys().any(|&c| self.fat_sector_of(c) != js) {
            self.rollback_to_disk()?;
            return Err(FatError::Corrupt(
                "junction re-routing left its sector".into(),
            ));
        }
        self.write_fat()?;
        self.s.barrier()?;
        // 3. Flip: a hidden file of the content's size.
        let chain = self.chain(tap.start)?;
        if chain.len() != n {
            return Err(FatError::Corrupt(format!(
                "{}: {} clusters routed, {n} wanted",
                tap.name,
                chain.len()
            )));
        }
        // 4. The content.
        self.flip_and_write(tok, &chain, data)
    }

    /// Lengths for the first lanes of `cands` so that they and their bridges hold `want`
    /// clusters exactly (each lane: at least one cluster per sector).
    fn plan_lengths(&self, cands: &[Lane], want: usize) -> R<Vec<usize>> {
        if want == 0 {
            return Ok(Vec::new());
        }
        let mut los = Vec::new();
        let mut his = Vec::new();
        let mut room = 0usize;
        for l in cands {
            los.push(l.groups.len());
            his.push(self.lane_room(l));
            room += self.lane_room(l) + 1;
            if room >= want {
                break;
            }
        }
        if room < want {
            return Err(FatError::NoToken(format!(
                "lanes hold {} clusters, {want} needed",
                room
            )));
        }
        let m = los.len();
        let body = want - m;
        let lo: usize = los.iter().sum();
        if body < lo {
            return Err(FatError::NoToken("content too small for the lanes".into()));
        }
        let mut lens = los.clone();
        let mut extra = body - lo;
        for (len, hi) in lens.iter_mut().zip(&his) {
            let add = extra.min(hi - *len);
            *len += add;
            extra -= add;
        }
        Ok(lens)
    }

    /// Trims or grows `lane` to `len` clusters, sector by sector (each sector: new clusters
    /// zeroed, then one FAT sector write); returns it as it now is.
    fn shape_lane(&mut self, lane: &Lane, len: usize) -> R<Lane> {
        // Per sector: fill sectors in order, at least one cluster each.
        let rooms: Vec<usize> = lane
            .groups
            .iter()
            .map(|g| g.len() + self.free_in_sector(g[0]).len())
            .collect();
        let mut want: Vec<usize> = vec![1; lane.groups.len()];
        let mut extra = len.saturating_sub(lane.groups.len());
        for (w, r) in want.iter_mut().zip(&rooms) {
            let add = extra.min(r - *w);
            *w += add;
            extra -= add;
        }
        let mut out = lane.clone();
        for (gi, (g, &w)) in lane.groups.iter().zip(&want).enumerate() {
            if g.len() == w {
                continue;
            }
            let next = match lane.groups.get(gi + 1) {
                Some(ng) => ng[0],
                None => lane.bridge,
            };
            let mut newg: Vec<u32> = g.clone();
            if w < g.len() {
                for &c in &g[w..] {
                    self.set(c, 0);
                }
                newg.truncate(w);
            } else {
                let add: Vec<u32> = self
                    .free_in_sector(g[0])
                    .into_iter()
                    .take(w - g.len())
                    .collect();
                // Zeroed before they join a folder's chain (its slots are parsed).
                self.write_chain(&add, &[])?;
                self.s.barrier()?;
                newg.extend(add);
            }
            for win in newg.windows(2) {
                self.set(win[0], win[1]);
            }
            if let Some(&last) = newg.last() {
                self.set(last, next);
            }
            self.write_fat()?;
            self.s.barrier()?;
            out.groups[gi] = newg;
        }
        Ok(out)
    }

    /// Forgets in-memory FAT changes of a failed step by reading the FAT again.
    fn rollback_to_disk(&mut self) -> R<()> {
        let dirty = std::mem::take(&mut self.dirty);
        for &c in dirty.keys() {
            let mut b = [0u8; 4];
            self.s.read_at(self.fat_start + u64::from(c) * 4, &mut b)?;
            self.fat[c as usize] = u32::from_le_bytes(b) & 0x0FFF_FFFF;
        }
        Ok(())
    }

    /// Lays down a junction (prepare only, with the ordered writer): a fully free FAT sector,
    /// `lanes` lanes of `sectors` whole free FAT sectors each, owned by pools added to folder
    /// `vigie` (`VGLN01`...). Returns the junction sector's first cluster, or `None` when there
    /// is no room for even one lane.
    pub fn add_junction(&mut self, vigie: u32, lanes: usize, sectors: usize) -> R<Option<u32>> {
        let per = self.per_fat_sector();
        let full: Vec<u32> = (0..self.end.div_ceil(per))
            .filter(|&s| {
                let r = self.fat_sector_range(s * per);
                r.len() as u32 == per && r.clone().all(|c| self.fat[c as usize] == 0)
            })
            .collect();
        if full.len() < 1 + sectors || sectors == 0 {
            return Ok(None);
        }
        let js = full[0];
        let junction: Vec<u32> = self.fat_sector_range(js * per).collect();
        let lanes = lanes.min((full.len() - 1) / sectors);
        let per_pool = self.lanes_per_pool(sectors);
        let pools = lanes.div_ceil(per_pool);
        if lanes == 0 || pools + lanes > junction.len() {
            return Ok(None);
        }
        // Junction clusters: pool heads, then bridges; the rest stays free for taps. Pool
        // names go on from those of earlier junctions.
        let taken: Vec<String> = self.pools()?.into_iter().map(|p| p.name).collect();
        let mut names = (1..1000)
            .map(|i| format!("{POOL_PREFIX}{i:02}"))
            .filter(|n| !taken.contains(n));
        let mut jfree = junction.into_iter();
        let mut lane_sectors = full[1..].iter();
        let mut made = 0;
        for _ in 0..pools {
            let head = jfree
                .next()
                .ok_or_else(|| FatError::Corrupt("junction".into()))?;
            let mut chain = vec![head];
            for _ in 0..per_pool.min(lanes - made) {
                for _ in 0..sectors {
                    let s = *lane_sectors
                        .next()
                        .ok_or_else(|| FatError::Corrupt("lane sectors".into()))?;
                    chain.extend(self.fat_sector_range(s * per));
                }
                chain.push(
                    jfree
                        .next()
                        .ok_or_else(|| FatError::Corrupt("junction".into()))?,
                );
                made += 1;
            }
            let name = names
                .next()
                .ok_or_else(|| FatError::NoToken("no pool name left".into()))?;
            let chain2 = chain.clone();
            self.add_entry(vigie, &name, 0, &mut |v, _| {
                for w in chain2.windows(2) {
                    v.set(w[0], w[1]);
                }
                if let Some(&l) = chain2.last() {
                    v.set(l, EOC);
                }
                let body = v.token_body(chain2[0], vigie);
                v.write_chain(&chain2, &body)?;
                Ok(v.short_entry(
                    super::token::short_of(&name)?,
                    ATTR_DIR | ATTR_TOKEN,
                    chain2[0],
                    0,
                )
                .to_vec())
            })?;
        }
        self.junction = Some(js);
        Ok(Some(js * per))
    }

    /// Lanes of `sectors` sectors one pool folder holds (at most 2 MiB).
    fn lanes_per_pool(&self, sectors: usize) -> usize {
        let per = self.per_fat_sector() as usize;
        ((MAX_POOL_BYTES / self.cluster) as usize / (sectors * per + 1)).max(1)
    }

    /// How to lay about `reserve` whole sectors as lanes when the junction can give `room`
    /// clusters to pools and bridges: `(lanes, sectors per lane)`, the most sectors in all
    /// (fewer sectors per lane on a tie: finer grain).
    pub fn junction_plan(
        &self,
        reserve: usize,
        room: usize,
        max_sectors: usize,
    ) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for s in 1..=max_sectors.max(1) {
            let per_pool = self.lanes_per_pool(s);
            let mut lanes = reserve / s;
            while lanes > 0 && lanes + lanes.div_ceil(per_pool) > room {
                lanes -= 1;
            }
            if lanes > 0 && best.is_none_or(|(l, bs)| lanes * s > l * bs) {
                best = Some((lanes, s));
            }
        }
        best
    }

    /// A free cluster of the junction for a tap's head (prepare only).
    pub(super) fn alloc_tap(&mut self) -> R<u32> {
        let Some(js) = self.junction else {
            return Err(FatError::NoToken("no junction".into()));
        };
        let per = self.per_fat_sector();
        let c = self
            .fat_sector_range(js * per)
            .find(|&c| self.fat[c as usize] == 0)
            .ok_or_else(|| FatError::NoToken("junction full".into()))?;
        self.set(c, EOC);
        Ok(c)
    }

    /// Sets the junction later taps are laid into (prepare: the one with free clusters).
    pub fn use_junction_of(&mut self, c: u32) {
        self.junction = Some(self.fat_sector_of(c));
    }

    /// Free clusters left in the current junction (taps that can still be laid).
    pub fn junction_free(&self) -> usize {
        let per = self.per_fat_sector();
        self.junction
            .map(|js| {
                self.fat_sector_range(js * per)
                    .filter(|&c| self.fat[c as usize] == 0)
                    .count()
            })
            .unwrap_or(0)
    }

    /// The first clusters of the pools (for `prepare` to find an existing junction).
    pub fn pool_heads(&mut self) -> R<Vec<u32>> {
        Ok(self.pools()?.iter().map(|p| p.start).collect())
    }
}
