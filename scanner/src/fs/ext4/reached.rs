//! What an ext4 walk reached and what its orphan sweep ([`super::orphans`]) found: the walker
//! keeps both, the sweep fills them. Apart from the sweep itself so that the walker's types
//! do not depend on the sweep's module (no import circle).

/// Most unreached inodes taken by one sweep (each is a number in memory until scanned).
pub const MAX_FOUND: usize = 1_000_000;

/// Inode numbers, one bit each, in chunks of [`CHUNK_BITS`] allocated on first use.
#[derive(Default)]
pub struct InodeSet {
    chunks: Vec<Option<Box<[u64; 64]>>>,
    allocated: usize,
}

/// Inodes per chunk of an [`InodeSet`] (512 bytes).
const CHUNK_BITS: u64 = 4096;

impl InodeSet {
    /// Adds `ino`; whether it was not there yet. Callers pass only numbers that
    /// [`Inode::read`](super::inode::Inode::read) accepted (at most `s_inodes_count`, below 2^32).
    pub fn insert(&mut self, ino: u64) -> bool {
        if ino > u64::from(u32::MAX) {
            return false;
        }
        let Ok(chunk) = usize::try_from(ino / CHUNK_BITS) else {
            return false;
        };
        if chunk >= self.chunks.len() {
            self.chunks.resize(chunk + 1, None);
        }
        let slot = &mut self.chunks[chunk];
        let bits = slot.get_or_insert_with(|| {
            self.allocated += 1;
            Box::new([0u64; 64])
        });
        let bit = ino % CHUNK_BITS;
        let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
        let new = bits[word] & mask == 0;
        bits[word] |= mask;
        new
    }

    pub fn contains(&self, ino: u64) -> bool {
        let Ok(chunk) = usize::try_from(ino / CHUNK_BITS) else {
            return false;
        };
        let bit = ino % CHUNK_BITS;
        self.chunks
            .get(chunk)
            .and_then(Option::as_ref)
            .is_some_and(|b| b[(bit / 64) as usize] & (1u64 << (bit % 64)) != 0)
    }

    /// Bytes of memory the set holds.
    pub fn bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Option<Box<[u64; 64]>>>()
            + self.allocated * std::mem::size_of::<[u64; 64]>()
    }
}

/// What one sweep found, for the volume's notes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepCounts {
    /// Unreached directories walked under `/<orphan>/`.
    pub directories: usize,
    /// Unreached regular files scanned under `/<orphan>/` (not those inside walked orphan
    /// directories, which have names).
    pub files: usize,
    /// Files found inside the walked orphan directories.
    pub inside: usize,
    /// In-use regular inodes with no link left: not scanned.
    pub unlinked: usize,
    /// Groups whose descriptor or inode bitmap could not be read.
    pub bad_groups: u64,
    /// Inodes marked in use that could not be read.
    pub unreadable: u64,
    /// Whether [`MAX_FOUND`] cut the sweep short.
    pub capped: bool,
}

impl SweepCounts {
    /// The sentences the volume's notes get (see `text::note`'s catalogue).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let found = self.directories + self.files;
        if found > 0 {
            notes.push(format!(
                "{found} in-use inodes were reached by no directory entry: found by a sweep of the inode bitmaps and scanned under /<orphan>/<inode number> ({} directories, holding {} files)",
                self.directories, self.inside
            ));
        }
        if self.unlinked > 0 {
            notes.push(format!(
                "{} in-use inodes have no link left (deleted while open): not scanned",
                self.unlinked
            ));
        }
        if self.bad_groups > 0 {
            notes.push(format!(
                "{} inode bitmaps could not be read: the orphan sweep skipped their groups",
                self.bad_groups
            ));
        }
        if self.unreadable > 0 {
            notes.push(format!(
                "{} inodes marked in use could not be read by the orphan sweep",
                self.unreadable
            ));
        }
        if self.capped {
            notes.push(format!(
                "more than {MAX_FOUND} inodes were reached by no directory entry: the rest were not scanned"
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_set_is_a_sparse_bitmap() {
        let mut s = InodeSet::default();
        assert!(!s.contains(5));
        assert!(s.insert(5));
        assert!(!s.insert(5));
        assert!(s.contains(5) && !s.contains(4) && !s.contains(6));
        assert!(s.insert(u64::from(u32::MAX)));
        assert!(s.contains(u64::from(u32::MAX)));
        assert!(!s.contains(u64::MAX) && !s.insert(u64::MAX));
        // Two chunks touched: 2 x 512 bytes plus the chunk pointers.
        assert_eq!(s.allocated, 2);
        for i in 0..100_000u64 {
            s.insert(i);
        }
        assert!((0..100_000u64).all(|i| s.contains(i)));
    }

    #[test]
    fn every_sweep_note_has_a_stable_code() {
        let all = SweepCounts {
            directories: 1,
            files: 2,
            inside: 3,
            unlinked: 4,
            bad_groups: 5,
            unreadable: 6,
            capped: true,
        };
        let notes = all.notes();
        assert_eq!(notes.len(), 5);
        for n in &notes {
            let note = crate::text::note::Note::classify(n);
            assert!(note.code.starts_with("ext4_"), "{n}: {}", note.code);
        }
        assert!(SweepCounts::default().notes().is_empty());
    }
}
