//! The ordered writer: adds a new tree (a folder with its files, or one file) under an
//! existing folder, or bytes at the end of a file, with writes ordered as the module comment
//! of [`super`] says (content, barrier, FAT, barrier, one directory sector). Used for what no
//! token takes, and by `scanner logpart prepare` to lay the tokens down.

use super::names::{sfn_checksum, short_display, unique_short};
use super::{
    le32, Entry, FatError, Node, Placer, Store, Token, Vol, ATTR_ARCHIVE, ATTR_DIR, ATTR_LFN, EOC,
    R,
};

impl<S: Store> Vol<S> {
    pub(super) fn set(&mut self, c: u32, v: u32) {
        self.fat[c as usize] = v;
        self.dirty.insert(c, v);
    }

    /// Reserves `n` clusters (in memory) as one chain; nothing is written.
    pub(super) fn alloc(&mut self, n: u64) -> R<Vec<u32>> {
        // From the end of the volume down: tokens are laid down from the start (see `token`),
        // and the free clusters of their FAT sectors are what they grow into.
        let mut got = Vec::new();
        let mut c = self.end;
        while (got.len() as u64) < n && c > 2 {
            c -= 1;
            if self.fat[c as usize] == 0 {
                got.push(c);
            }
        }
        got.reverse();
        if (got.len() as u64) < n {
            let free = self.free_clusters();
            self.rollback();
            return Err(FatError::Full { need: n, free });
        }
        for w in got.windows(2) {
            self.set(w[0], w[1]);
        }
        if let Some(&l) = got.last() {
            self.set(l, EOC);
        }
        Ok(got)
    }

    /// Forgets reservations of a failed transaction (reloads nothing: entries were free).
    pub(super) fn rollback(&mut self) {
        let d = std::mem::take(&mut self.dirty);
        for c in d.keys() {
            self.fat[*c as usize] = 0;
        }
    }

    pub(super) fn write_chain(&mut self, chain: &[u32], data: &[u8]) -> R<()> {
        let cs = self.cluster as usize;
        // Contiguous runs in one write each.
        let mut i = 0;
        while i < chain.len() {
            let mut j = i + 1;
            while j < chain.len() && chain[j] == chain[j - 1] + 1 {
                j += 1;
            }
            let mut buf = vec![0u8; (j - i) * cs];
            let from = (i * cs).min(data.len());
            let to = (j * cs).min(data.len());
            buf[..to - from].copy_from_slice(&data[from..to]);
            let pos = self.cpos(chain[i]);
            self.s.write_at(pos, &buf)?;
            i = j;
        }
        Ok(())
    }

    /// Writes the changed FAT entries: one write per copy spanning the changed sectors.
    pub(super) fn write_fat(&mut self) -> R<()> {
        let (Some(&lo), Some(&hi)) = (self.dirty.keys().next(), self.dirty.keys().next_back())
        else {
            return Ok(());
        };
        let first = u64::from(lo) * 4 / self.bps * self.bps;
        let last = (u64::from(hi) * 4 / self.bps + 1) * self.bps;
        let last = last.min(self.fat_bytes);
        for k in 0..self.nfats {
            let base = self.fat_start + k * self.fat_bytes;
            let mut buf = vec![0u8; (last - first) as usize];
            self.s.read_at(base + first, &mut buf)?;
            for (&c, &v) in &self.dirty {
                let o = (u64::from(c) * 4 - first) as usize;
                let old = le32(&buf, o) & 0xF000_0000;
                buf[o..o + 4].copy_from_slice(&(old | v).to_le_bytes());
            }
            self.s.write_at(base + first, &buf)?;
        }
        self.dirty.clear();
        Ok(())
    }

    /// Directory slot bytes for a new entry (long-name entries then the short entry).
    pub(super) fn entry_bytes(
        &self,
        name: &str,
        short: [u8; 11],
        attr: u8,
        start: u32,
        size: u32,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let units: Vec<u16> = name.encode_utf16().collect();
        let needs_lfn = short_display(&short, 0) != name;
        if needs_lfn {
            let sum = sfn_checksum(&short);
            let n = units.len().div_ceil(13);
            for k in (0..n).rev() {
                let mut e = [0u8; 32];
                e[0] = (k as u8 + 1) | if k == n - 1 { 0x40 } else { 0 };
                e[11] = ATTR_LFN;
                e[13] = sum;
                for (i, o) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                    .iter()
                    .enumerate()
                {
                    let idx = k * 13 + i;
                    let u = match idx.cmp(&units.len()) {
                        std::cmp::Ordering::Less => units[idx],
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 0xFFFF,
                    };
                    e[*o..*o + 2].copy_from_slice(&u.to_le_bytes());
                }
                out.extend_from_slice(&e);
            }
        }
        out.extend_from_slice(&self.short_entry(short, attr, start, size));
        out
    }

    pub(super) fn short_entry(&self, short: [u8; 11], attr: u8, start: u32, size: u32) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(&short);
        e[11] = attr;
        let t = self.time;
        e[14..16].copy_from_slice(&t.time.to_le_bytes());
        e[16..18].copy_from_slice(&t.date.to_le_bytes());
        e[18..20].copy_from_slice(&t.date.to_le_bytes());
        e[20..22].copy_from_slice(&((start >> 16) as u16).to_le_bytes());
        e[22..24].copy_from_slice(&t.time.to_le_bytes());
        e[24..26].copy_from_slice(&t.date.to_le_bytes());
        e[26..28].copy_from_slice(&(start as u16).to_le_bytes());
        e[28..32].copy_from_slice(&size.to_le_bytes());
        e
    }

    /// Lays out a node into reserved clusters and writes its content; returns the short entry
    /// fields (start, size).
    pub(super) fn place(
        &mut self,
        node: &Node,
        parent: u32,
        taken: &mut Vec<[u8; 11]>,
    ) -> R<Vec<u8>> {
        let short = unique_short(node.name(), taken);
        taken.push(short);
        match node {
            Node::File(name, data) => {
                let size = u32::try_from(data.len())
                    .map_err(|_| FatError::Corrupt(format!("{name}: over 4 GiB")))?;
                let n = (data.len() as u64).div_ceil(self.cluster);
                let chain = self.alloc(n)?;
                self.write_chain(&chain, data)?;
                let start = chain.first().copied().unwrap_or(0);
                Ok(self.entry_bytes(name, short, ATTR_ARCHIVE, start, size))
            }
            Node::Dir(name, kids) => {
                let slots: u64 = 2 + kids
                    .iter()
                    .map(|k| 1 + k.name().encode_utf16().count().div_ceil(13) as u64)
                    .sum::<u64>();
                let n = (slots * 32).div_ceil(self.cluster).max(1);
                let chain = self.alloc(n)?;
                let me = chain[0];
                let mut body = Vec::new();
                let dot = *b".          ";
                let dotdot = *b"..         ";
                body.extend_from_slice(&self.short_entry(dot, ATTR_DIR, me, 0));
                // `..` of a folder in the root is 0 on FAT32 (what fsck.fat expects).
                let up = if parent == self.root { 0 } else { parent };
                body.extend_from_slice(&self.short_entry(dotdot, ATTR_DIR, up, 0));
                let mut kid_taken = Vec::new();
                for k in kids {
                    let b = self.place(k, me, &mut kid_taken)?;
                    body.extend_from_slice(&b);
                }
                self.write_chain(&chain, &body)?;
                Ok(self.entry_bytes(name, short, ATTR_DIR, me, 0))
            }
        }
    }

    /// The folder `name` at the root, made (empty, one transaction) when it is missing:
    /// someone may have emptied the stick to make room.
    pub fn root_dir(&mut self, name: &str) -> R<u32> {
        if let Some(d) = self.find_dir(name)? {
            return Ok(d);
        }
        let root = self.root();
        self.add(root, &Node::Dir(name.into(), Vec::new()))?;
        self.find_dir(name)?
            .ok_or_else(|| FatError::NotFound(name.into()))
    }

    /// Adds `node` (a file, or a folder tree) under folder `dir`, in the order described in
    /// the module comment. Fails with `Exists` if the name is taken.
    pub fn add(&mut self, dir: u32, node: &Node) -> R<()> {
        self.add_entry(dir, node.name(), 0, &mut |v, taken| {
            v.place(node, dir, taken)
        })
    }

    /// Lays down a token (see [`token`]) under folder `dir`, after `room` deleted slots in
    /// the same sector (the long-name slots of the name it will get), with the ordered writer.
    pub fn add_token(&mut self, dir: u32, room: usize, t: &Token) -> R<()> {
        self.add_entry(dir, t.name(), room, &mut |v, _| v.place_token(t, dir))
    }

    pub(super) fn add_entry(
        &mut self,
        dir: u32,
        name: &str,
        room: usize,
        place: &mut Placer<'_, S>,
    ) -> R<()> {
        let slots = self.slots(dir)?;
        let mut taken = Vec::new();
        for (_, e) in &slots {
            if e[0] == 0 {
                break;
            }
            if e[0] != 0xE5 && e[11] != ATTR_LFN {
                let mut s = [0u8; 11];
                s.copy_from_slice(&e[..11]);
                taken.push(s);
            }
        }
        if self.find(dir, name)?.is_some() {
            return Err(FatError::Exists(name.to_string()));
        }
        // Everything below is reserved in memory first: a full partition fails before any write.
        let need = {
            let mut t = taken.clone();
            let short = unique_short(name, &mut t);
            room + self.entry_bytes(name, short, 0, 0, 0).len() / 32
        };
        let per_sector = (self.bps / 32) as usize;
        // First end-of-directory slot, and the first sector-aligned run of `need` slots at or
        // after it.
        let end_idx = slots.iter().position(|(_, e)| e[0] == 0);
        let fits = |i: usize| i % per_sector + need <= per_sector;
        let mut at = None;
        if let Some(i) = end_idx {
            let mut j = i;
            while j < slots.len() {
                if fits(j) && j + need <= slots.len() {
                    at = Some(j);
                    break;
                }
                j += 1;
            }
        }
        let mut entry = vec![0u8; 0];
        for _ in 0..room {
            let mut d = [0u8; 32];
            d[0] = 0xE5;
            entry.extend_from_slice(&d);
        }
        let placed = place(self, &mut taken).inspect_err(|_| self.rollback())?;
        entry.extend_from_slice(&placed);
        match (end_idx, at) {
            (Some(i), Some(j)) => {
                // Filler between the end marker and the run: deleted entries (free slots).
                for (pos, _) in &slots[i..j] {
                    let mut d = [0u8; 32];
                    d[0] = 0xE5;
                    self.s.write_at(*pos, &d)?;
                }
                self.s.barrier()?;
                self.write_fat()?;
                self.s.barrier()?;
                self.s.write_at(slots[j].0, &entry)?;
                self.s.barrier()?;
            }
            (end, _) => {
                // The folder is full (to the end of its chain): extend it by one cluster that
                // holds the entry; the FAT write commits it.
                let new = match self.alloc(1) {
                    Ok(c) => c[0],
                    Err(e) => {
                        self.rollback();
                        return Err(e);
                    }
                };
                let mut body = vec![0u8; self.cluster as usize];
                body[..entry.len()].copy_from_slice(&entry);
                let pos = self.cpos(new);
                self.s.write_at(pos, &body)?;
                if let Some(i) = end {
                    for (pos, _) in &slots[i..] {
                        let mut d = [0u8; 32];
                        d[0] = 0xE5;
                        self.s.write_at(*pos, &d)?;
                    }
                }
                let last = self.chain(dir)?.last().copied().unwrap_or(dir);
                // `alloc` marked `new` EOC; link the folder's last cluster to it.
                self.set(last, new);
                self.s.barrier()?;
                self.write_fat()?;
                self.s.barrier()?;
            }
        }
        Ok(())
    }

    /// Appends bytes to an existing file: into the last cluster's slack and new clusters,
    /// then the FAT, then the size in the directory entry (the commit).
    pub fn append(&mut self, e: &Entry, data: &[u8]) -> R<()> {
        if e.is_dir() {
            return Err(FatError::Corrupt(format!("{} is a folder", e.name)));
        }
        let new_size = u64::from(e.size) + data.len() as u64;
        let new_size32 = u32::try_from(new_size)
            .map_err(|_| FatError::Corrupt(format!("{}: over 4 GiB", e.name)))?;
        let mut chain = self.chain(e.start)?;
        let mut start = e.start;
        let keep = u64::from(e.size).div_ceil(self.cluster);
        if (chain.len() as u64) < keep {
            return Err(FatError::Corrupt(format!(
                "{}: chain shorter than size",
                e.name
            )));
        }
        if chain.len() as u64 > keep {
            // A cut between the FAT and the size update of an earlier append: give the extra
            // clusters back in this transaction's FAT write.
            let keep = keep as usize;
            for &c in &chain[keep..] {
                self.set(c, 0);
            }
            match keep {
                0 => start = 0,
                k => self.set(chain[k - 1], EOC),
            }
            chain.truncate(keep);
        }
        let have = chain.len() as u64;
        let need = new_size.div_ceil(self.cluster);
        let extra = if need > have {
            self.alloc(need - have)?
        } else {
            Vec::new()
        };
        let mut first_data = data;
        if let Some(&last) = chain.last() {
            let used = u64::from(e.size) - (have - 1) * self.cluster;
            let room = (self.cluster - used) as usize;
            let n = room.min(data.len());
            if n > 0 {
                let pos = self.cpos(last) + used;
                self.s.write_at(pos, &data[..n])?;
            }
            first_data = &data[n..];
        }
        self.write_chain(&extra, first_data)?;
        if let Some(&f) = extra.first() {
            match chain.last() {
                Some(&l) => self.set(l, f),
                None => start = f,
            }
        }
        self.s.barrier()?;
        if !self.dirty.is_empty() {
            self.write_fat()?;
            self.s.barrier()?;
        }
        // The short entry: start (if it was empty) and size, one 32-byte write.
        let mut raw = [0u8; 32];
        self.s.read_at(e.pos, &mut raw)?;
        raw[20..22].copy_from_slice(&((start >> 16) as u16).to_le_bytes());
        raw[26..28].copy_from_slice(&(start as u16).to_le_bytes());
        raw[28..32].copy_from_slice(&new_size32.to_le_bytes());
        raw[22..24].copy_from_slice(&self.time.time.to_le_bytes());
        raw[24..26].copy_from_slice(&self.time.date.to_le_bytes());
        self.s.write_at(e.pos, &raw)?;
        self.s.barrier()?;
        Ok(())
    }
}
