//! Saves that no power cut can damage: chains made ahead of time ("tokens").
//!
//! The module comment of [`super`] shows why the ordered writer cannot reach zero damaged cut
//! points: a sector write changes the FAT or a directory, never both, so no sequence of clean
//! states creates a new chain. A token is a chain that already exists: a hidden, system folder
//! (an 8.3 name such as `VGR`) whose clusters all have their FAT entries in ONE FAT sector (up
//! to 128 clusters with 512-byte sectors), zeroed except for `.`/`..`. A save fills it with
//! writes that each leave a volume `fsck.fat -n` finds clean (dosfstools' rules: a folder may
//! be any length and its slots are parsed; a file's content is never parsed but its chain must
//! have exactly `ceil(size / cluster)` clusters; every allocated cluster owned; FAT copies
//! identical):
//!
//! 1. Adjust (one FAT sector write): the folder's chain is cut to, or grown within its FAT
//!    sector to, the `n` clusters the content needs (new clusters are zeroed first: they are
//!    parsed as folder slots). With one FAT copy (what the image builder makes) this is one
//!    atomic write; with two copies it is the one damaged cut point left.
//! 2. Flip (one directory sector write): the folder becomes a hidden file of the content's
//!    size, still under its token name. Its clusters now hold content nobody parses.
//! 3. Data: the content, into the file's clusters.
//! 4. Commit, by the caller: one directory sector that names the file ([`Vol::rename`]; the
//!    long-name slots it needs were left deleted in front of the token by the builder), or,
//!    for the index, one sector that swaps the chains of the old and the new file
//!    ([`Vol::swap`]): the old index becomes a spent token, recycled by the next save (zeroed,
//!    `.`/`..` written, turned back into a folder: data writes then one directory sector).
//!
//! A cut anywhere leaves a clean volume; the save is lost, and a token left half-filled is
//! recycled or skipped by the next one. Tokens are laid down by [`Vol::add_token`] (image
//! builder, desk tool) with the ordered writer, off the stick's power-cut risk.

use super::{le16, Entry, FatError, Store, Vol, ATTR_ARCHIVE, ATTR_DIR, EOC, R};

/// Hidden + system: tokens stay out of Explorer's and mtools' listings.
pub const ATTR_TOKEN: u8 = 0x02 | 0x04;

impl<S: Store> Vol<S> {
    /// Entries of the FAT per FAT sector.
    pub(super) fn per_fat_sector(&self) -> u32 {
        (self.bps / 4) as u32
    }

    /// The clusters whose FAT entries share cluster `c`'s FAT sector.
    pub(super) fn fat_sector_range(&self, c: u32) -> std::ops::Range<u32> {
        let per = self.per_fat_sector();
        let lo = (c / per * per).max(2);
        let hi = (c / per * per + per).min(self.end);
        lo..hi
    }

    /// Whether `e` is a token (hidden, system; a folder, or a spent file with a chain).
    pub fn is_token(e: &Entry) -> bool {
        e.attr & ATTR_TOKEN == ATTR_TOKEN && e.start >= 2
    }

    /// How many clusters the token `e` can hold: its chain plus the free clusters of its FAT
    /// sector; 0 if it is not a usable token (chain across FAT sectors, a loop).
    pub fn token_capacity(&self, e: &Entry) -> u64 {
        if !Self::is_token(e) || e.start >= self.end {
            return 0;
        }
        let Ok(chain) = self.chain(e.start) else {
            return 0;
        };
        let range = self.fat_sector_range(e.start);
        if chain.iter().any(|c| !range.contains(c)) {
            return 0;
        }
        let free = range.filter(|&c| self.fat[c as usize] == 0).count();
        (chain.len() + free) as u64 * self.cluster
    }

    /// Whether two entries sit in the same directory sector (one write reaches both).
    pub fn same_sector(&self, a: &Entry, b: &Entry) -> bool {
        a.pos / self.bps == b.pos / self.bps
    }

    /// Deleted slots just before the entry `e` of folder `dir`, in its sector: how many
    /// long-name slots [`Vol::rename`] can give it.
    pub fn name_room(&mut self, dir: u32, e: &Entry) -> R<usize> {
        let slots = self.slots(dir)?;
        let Some(idx) = slots.iter().position(|(p, _)| *p == e.pos) else {
            return Ok(0);
        };
        let per_sector = (self.bps / 32) as usize;
        let first = idx / per_sector * per_sector;
        Ok(slots[first..idx]
            .iter()
            .rev()
            .take_while(|(_, s)| s[0] == 0xE5)
            .count())
    }

    /// Rewrites the 32 bytes of a short entry through a read-modify-write of its sector: one
    /// sector write.
    pub(super) fn write_short(&mut self, pos: u64, f: impl FnOnce(&mut [u8])) -> R<()> {
        let sector = pos / self.bps * self.bps;
        let mut buf = vec![0u8; self.bps as usize];
        self.s.read_at(sector, &mut buf)?;
        let o = (pos - sector) as usize;
        f(&mut buf[o..o + 32]);
        self.s.write_at(sector, &buf)?;
        self.s.barrier()?;
        Ok(())
    }

    pub(super) fn stamp(&self, e: &mut [u8]) {
        e[22..24].copy_from_slice(&self.time.time.to_le_bytes());
        e[24..26].copy_from_slice(&self.time.date.to_le_bytes());
    }

    /// Fills the token `tok` (an entry of folder `parent`) with `data`, steps 1 to 3 of the
    /// module comment; returns the token as it now is: a hidden file holding `data`, to be
    /// committed by [`Vol::rename`] or [`Vol::swap`]. Fails with [`FatError::NoToken`] before
    /// any write if the token cannot hold `data`.
    pub fn fill_token(&mut self, parent: u32, tok: &Entry, data: &[u8]) -> R<Entry> {
        let size = u32::try_from(data.len())
            .map_err(|_| FatError::NoToken("content over 4 GiB".into()))?;
        let n = (data.len() as u64).div_ceil(self.cluster);
        if n == 0 || n * self.cluster > self.token_capacity(tok) {
            return Err(FatError::NoToken(format!(
                "{}: {} bytes do not fit",
                tok.name,
                data.len()
            )));
        }
        let n = n as usize;
        let mut chain = self.chain(tok.start)?;
        let mut tok = tok.clone();
        if !tok.is_dir() {
            if chain.len() == n {
                // A spent token of the right length: content, then its size (one sector).
                self.write_chain(&chain, data)?;
                self.s.barrier()?;
                self.write_short(tok.pos, |e| {
                    e[28..32].copy_from_slice(&size.to_le_bytes());
                })?;
                tok.size = size;
                return Ok(tok);
            }
            // Recycle: zero it, `.`/`..` first, then one sector makes it a folder again.
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
        // 1. Adjust the folder's chain within its FAT sector: one FAT sector write per copy.
        match chain.len().cmp(&n) {
            std::cmp::Ordering::Greater => {
                for &c in &chain[n..] {
                    self.set(c, 0);
                }
                self.set(chain[n - 1], EOC);
                chain.truncate(n);
            }
            std::cmp::Ordering::Less => {
                let want = n - chain.len();
                let add: Vec<u32> = self
                    .fat_sector_range(tok.start)
                    .filter(|&c| self.fat[c as usize] == 0)
                    .take(want)
                    .collect();
                if add.len() < want {
                    return Err(FatError::NoToken(format!("{}: no room", tok.name)));
                }
                // Zeroed before they join the folder (every slot of a folder is parsed).
                self.write_chain(&add, &[])?;
                self.s.barrier()?;
                let mut prev = chain.last().copied().unwrap_or(tok.start);
                for &c in &add {
                    self.set(prev, c);
                    prev = c;
                }
                self.set(prev, EOC);
                chain.extend_from_slice(&add);
            }
            std::cmp::Ordering::Equal => {}
        }
        if !self.dirty.is_empty() {
            self.write_fat()?;
            self.s.barrier()?;
        }
        // 2. Flip (its chain has exactly `n` clusters), 3. the content.
        self.flip_and_write(tok, &chain, data)
    }

    /// The last steps of a fill (a region or a tap): the token `tok`, whose chain `chain`
    /// has exactly the clusters `data` needs, becomes a hidden file of `data`'s size (one
    /// directory sector), then the content is written into its clusters. Returns it as it now
    /// is, to be committed by [`Vol::rename`] or [`Vol::swap`].
    pub(super) fn flip_and_write(
        &mut self,
        mut tok: Entry,
        chain: &[u32],
        data: &[u8],
    ) -> R<Entry> {
        let size = u32::try_from(data.len())
            .map_err(|_| FatError::NoToken("content over 4 GiB".into()))?;
        let t = self.time;
        self.write_short(tok.pos, |e| {
            e[11] = ATTR_ARCHIVE | ATTR_TOKEN;
            e[28..32].copy_from_slice(&size.to_le_bytes());
            e[22..24].copy_from_slice(&t.time.to_le_bytes());
            e[24..26].copy_from_slice(&t.date.to_le_bytes());
        })?;
        self.write_chain(chain, data)?;
        self.s.barrier()?;
        tok.attr = ATTR_ARCHIVE | ATTR_TOKEN;
        tok.size = size;
        Ok(tok)
    }

    /// Fills any token: a tap through its lanes ([`Vol::fill_tap`]), any other within its FAT
    /// sector ([`Vol::fill_token`]).
    pub fn fill_any(&mut self, parent: u32, tok: &Entry, data: &[u8]) -> R<Entry> {
        if self.is_tap(tok)? {
            self.fill_tap(parent, tok, data)
        } else {
            self.fill_token(parent, tok, data)
        }
    }

    /// What any token can hold, in bytes (see [`Vol::fill_any`]).
    pub fn capacity_any(&mut self, tok: &Entry) -> R<u64> {
        if self.is_tap(tok)? {
            self.tap_capacity(tok)
        } else {
            Ok(self.token_capacity(tok))
        }
    }

    /// Names the entry `e` of folder `dir` `name` with attributes `attr`, in one sector write:
    /// the long-name slots go into the deleted slots just before it in its sector. Fails with
    /// [`FatError::NoToken`] (nothing written) when there are not enough of them.
    pub fn rename(&mut self, dir: u32, e: &Entry, name: &str, attr: u8) -> R<()> {
        self.rename_all(dir, &[(e, name, attr)])
    }

    /// Names several entries of folder `dir` (each as [`Vol::rename`] does) in ONE sector
    /// write, so that after a cut all of them or none are named: they must share one directory
    /// sector. [`FatError::NoToken`] (nothing written) when they do not, or a name has no room.
    pub fn rename_all(&mut self, dir: u32, items: &[(&Entry, &str, u8)]) -> R<()> {
        let slots = self.slots(dir)?;
        let mut taken: Vec<[u8; 11]> = Vec::new();
        for (p, s) in &slots {
            if s[0] == 0 {
                break;
            }
            let renamed = items.iter().any(|(e, _, _)| e.pos == *p);
            if !renamed && s[0] != 0xE5 && s[11] != super::ATTR_LFN {
                let mut a = [0u8; 11];
                a.copy_from_slice(&s[..11]);
                taken.push(a);
            }
        }
        let per_sector = (self.bps / 32) as usize;
        let mut sector: Option<(u64, Vec<u8>)> = None;
        for (e, name, attr) in items {
            let Some(idx) = slots.iter().position(|(p, _)| *p == e.pos) else {
                return Err(FatError::NotFound(e.name.clone()));
            };
            let short = super::names::unique_short(name, &mut taken);
            taken.push(short);
            let bytes = self.entry_bytes(name, short, *attr, e.start, e.size);
            let lfn = bytes.len() / 32 - 1;
            let no_room = || FatError::NoToken(format!("{}: no room for the name", e.name));
            let first = idx
                .checked_sub(lfn)
                .filter(|f| f / per_sector == idx / per_sector)
                .ok_or_else(no_room)?;
            if slots[first..idx].iter().any(|(_, s)| s[0] != 0xE5) {
                return Err(no_room());
            }
            let at = slots[first].0 / self.bps * self.bps;
            if sector.is_none() {
                let mut buf = vec![0u8; self.bps as usize];
                self.s.read_at(at, &mut buf)?;
                sector = Some((at, buf));
            }
            let Some((sec, buf)) = sector.as_mut() else {
                continue;
            };
            if *sec != at {
                return Err(FatError::NoToken("entries in different sectors".into()));
            }
            let o = (slots[first].0 - *sec) as usize;
            buf[o..o + bytes.len()].copy_from_slice(&bytes);
            // Keep the entry's creation time, take the new write time.
            let short_at = o + bytes.len() - 32;
            self.stamp(&mut buf[short_at..short_at + 32]);
        }
        if let Some((sec, buf)) = sector {
            self.s.write_at(sec, &buf)?;
            self.s.barrier()?;
        }
        Ok(())
    }

    /// Turns the named file `e` of folder `dir` back into a spent token `short` (8.3, hidden,
    /// system, same chain and size) in one sector write: its long-name slots, which
    /// [`Vol::rename`] put just before it in its sector, become deleted slots again.
    pub fn unname(&mut self, dir: u32, e: &Entry, short: &str) -> R<()> {
        let raw = short_of(short)?;
        let slots = self.slots(dir)?;
        let Some(idx) = slots.iter().position(|(p, _)| *p == e.pos) else {
            return Err(FatError::NotFound(e.name.clone()));
        };
        let sector = e.pos / self.bps * self.bps;
        let mut buf = vec![0u8; self.bps as usize];
        self.s.read_at(sector, &mut buf)?;
        let sum = super::sfn_checksum(&e.short);
        let mut i = idx;
        while i > 0 {
            i -= 1;
            let (p, s) = &slots[i];
            if *p < sector || s[11] != super::ATTR_LFN || s[13] != sum || s[0] == 0xE5 {
                break;
            }
            buf[(*p - sector) as usize] = 0xE5;
        }
        let o = (e.pos - sector) as usize;
        buf[o..o + 11].copy_from_slice(&raw);
        buf[o + 11] = ATTR_ARCHIVE | ATTR_TOKEN;
        buf[o + 12] = 0;
        self.s.write_at(sector, &buf)?;
        self.s.barrier()?;
        Ok(())
    }

    /// Swaps the chains and sizes of two short entries of the same directory sector in one
    /// write: `live` takes `fresh`'s content, `fresh` becomes a spent token holding `live`'s
    /// old chain.
    pub fn swap(&mut self, live: &Entry, fresh: &Entry) -> R<()> {
        let sector = live.pos / self.bps * self.bps;
        if fresh.pos / self.bps * self.bps != sector {
            return Err(FatError::NoToken("entries in different sectors".into()));
        }
        let mut buf = vec![0u8; self.bps as usize];
        self.s.read_at(sector, &mut buf)?;
        let (a, b) = ((live.pos - sector) as usize, (fresh.pos - sector) as usize);
        let fields = |e: &[u8]| {
            let mut f = [0u8; 10];
            f[..2].copy_from_slice(&e[20..22]);
            f[2..4].copy_from_slice(&e[26..28]);
            f[4..8].copy_from_slice(&e[28..32]);
            f
        };
        let (fa, fb) = (fields(&buf[a..a + 32]), fields(&buf[b..b + 32]));
        let put = |e: &mut [u8], f: &[u8; 10]| {
            e[20..22].copy_from_slice(&f[..2]);
            e[26..28].copy_from_slice(&f[2..4]);
            e[28..32].copy_from_slice(&f[4..8]);
        };
        put(&mut buf[a..a + 32], &fb);
        put(&mut buf[b..b + 32], &fa);
        buf[b + 11] = ATTR_ARCHIVE | ATTR_TOKEN;
        let t = self.time;
        buf[a + 22..a + 24].copy_from_slice(&t.time.to_le_bytes());
        buf[a + 24..a + 26].copy_from_slice(&t.date.to_le_bytes());
        // A spent token with no chain (the old file was empty) is just a hidden empty file.
        if le16(&buf, b + 20) == 0 && le16(&buf, b + 26) == 0 {
            buf[b + 28..b + 32].copy_from_slice(&0u32.to_le_bytes());
        }
        self.s.write_at(sector, &buf)?;
        self.s.barrier()?;
        Ok(())
    }

    /// Reserves, in memory, the lowest FAT sector whose entries are all free, as one chain.
    pub(super) fn alloc_region(&mut self) -> R<Vec<u32>> {
        let per = self.per_fat_sector();
        let mut s = 0u32;
        while s * per < self.end {
            let range = self.fat_sector_range(s * per);
            if range.len() as u32 == per && range.clone().all(|c| self.fat[c as usize] == 0) {
                let got: Vec<u32> = range.collect();
                for w in got.windows(2) {
                    self.set(w[0], w[1]);
                }
                if let Some(&l) = got.last() {
                    self.set(l, EOC);
                }
                self.last_region = got.first().copied();
                return Ok(got);
            }
            s += 1;
        }
        let free = self.free_clusters();
        self.rollback();
        Err(FatError::Full {
            need: u64::from(per),
            free,
        })
    }

    /// One free cluster in the FAT sector of the last region laid ([`Token::Beside`]).
    fn alloc_beside(&mut self) -> R<u32> {
        let Some(r) = self.last_region else {
            return Ok(self.alloc(1)?[0]);
        };
        match self
            .fat_sector_range(r)
            .find(|&c| self.fat[c as usize] == 0)
        {
            Some(c) => {
                self.set(c, EOC);
                Ok(c)
            }
            None => Ok(self.alloc(1)?[0]),
        }
    }

    /// The zeroed body of a new token folder: `.` and `..` (its `..` names `parent`).
    pub(super) fn token_body(&self, me: u32, parent: u32) -> Vec<u8> {
        let up = if parent == self.root { 0 } else { parent };
        let mut body = Vec::new();
        body.extend_from_slice(&self.short_entry(*b".          ", ATTR_DIR, me, 0));
        body.extend_from_slice(&self.short_entry(*b"..         ", ATTR_DIR, up, 0));
        body
    }

    /// Lays out a token node (see [`Token`]) into reserved clusters; returns its entry bytes.
    pub(super) fn place_token(&mut self, t: &Token, parent: u32) -> R<Vec<u8>> {
        let short = short_of(t.name())?;
        match t {
            Token::Region(_) => {
                let chain = self.alloc_region()?;
                let body = self.token_body(chain[0], parent);
                self.write_chain(&chain, &body)?;
                Ok(self
                    .short_entry(short, ATTR_DIR | ATTR_TOKEN, chain[0], 0)
                    .to_vec())
            }
            Token::Small(_) | Token::Tap(_) | Token::Beside(_) => {
                let first = match t {
                    Token::Tap(_) => self.alloc_tap()?,
                    Token::Beside(_) => self.alloc_beside()?,
                    _ => self.alloc(1)?[0],
                };
                let body = self.token_body(first, parent);
                self.write_chain(&[first], &body)?;
                Ok(self
                    .short_entry(short, ATTR_DIR | ATTR_TOKEN, first, 0)
                    .to_vec())
            }
            Token::Holder(_, kids) => {
                let per_sector = (self.bps / 32) as usize;
                let first = self.alloc(1)?[0];
                let mut body = self.token_body(first, parent);
                for (room, kid) in kids {
                    let e = self.place_token(kid, first)?;
                    let len = room + e.len() / 32;
                    if len > per_sector {
                        self.rollback();
                        return Err(FatError::NoToken("name room over one sector".into()));
                    }
                    let at = body.len() / 32;
                    if at % per_sector + len > per_sector {
                        let pad = per_sector - at % per_sector;
                        body.extend(std::iter::repeat_n(deleted(), pad).flatten());
                    }
                    body.extend(std::iter::repeat_n(deleted(), *room).flatten());
                    body.extend_from_slice(&e);
                }
                let n = (body.len() as u64).div_ceil(self.cluster) as usize;
                let mut chain = vec![first];
                if n > 1 {
                    let more = self.alloc(n as u64 - 1)?;
                    self.set(first, more[0]);
                    chain.extend(more);
                }
                self.write_chain(&chain, &body)?;
                Ok(self
                    .short_entry(short, ATTR_DIR | ATTR_TOKEN, first, 0)
                    .to_vec())
            }
        }
    }
}

/// A token to lay down ([`Vol::add_token`]).
#[derive(Debug, Clone)]
pub enum Token {
    /// A hidden folder owning the clusters of one whole free FAT sector (8.3 name).
    Region(String),
    /// A hidden one-cluster folder holding tokens, each after `room` deleted slots (the
    /// long-name slots of the name it will get).
    Holder(String, Vec<(usize, Token)>),
    /// A hidden one-cluster folder anywhere: small contents (a key, a checkpoint), grown
    /// within its FAT sector's free clusters like a region.
    Small(String),
    /// A hidden one-cluster folder in the junction: grows through lanes (see `lanes`).
    Tap(String),
    /// A hidden one-cluster folder in the FAT sector of the region laid just before: the two
    /// share that sector's free clusters (a file rewritten by swaps between them).
    Beside(String),
}

impl Token {
    /// The 8.3 name.
    pub fn name(&self) -> &str {
        match self {
            Token::Region(n)
            | Token::Holder(n, _)
            | Token::Small(n)
            | Token::Tap(n)
            | Token::Beside(n) => n,
        }
    }
}

fn deleted() -> [u8; 32] {
    let mut d = [0u8; 32];
    d[0] = 0xE5;
    d
}

/// The raw 8.3 form of an upper-case name without extension or with one.
pub(super) fn short_of(name: &str) -> R<[u8; 11]> {
    let (b, e) = name.split_once('.').unwrap_or((name, ""));
    let ok = |s: &str, n: usize| {
        !s.is_empty()
            && s.len() <= n
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if !ok(b, 8) || !(e.is_empty() || ok(e, 3)) {
        return Err(FatError::NoToken(format!("token name {name:?} is not 8.3")));
    }
    let mut s = [b' '; 11];
    s[..b.len()].copy_from_slice(b.as_bytes());
    s[8..8 + e.len()].copy_from_slice(e.as_bytes());
    Ok(s)
}
