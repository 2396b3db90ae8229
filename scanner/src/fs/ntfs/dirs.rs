//! Directory listings: a directory's index entries through the crate (minus the self-reference,
//! metadata files and DOS duplicates), each child record opened and checked against its entry,
//! and the index record size checked before the crate allocates by it.

use super::index;
use super::{
    Budget, Child, Listing, NtfsWalker, Opened, DIR_READ_BUDGET, FILE_READ_BUDGET,
    FIRST_USER_RECORD, MAX_ATTRIBUTES, MAX_DIR_ENTRIES, MAX_INDEX_RECORD, MAX_REPEATS,
};
use crate::fs::guard;
use ntfs::structured_values::{NtfsFileNamespace, NtfsIndexRoot};
use ntfs::{NtfsAttributeType, NtfsFile, NtfsFileFlags};
use std::collections::HashSet;

impl NtfsWalker {
    /// Reads a directory's index: its children (minus the self-reference, metadata files and
    /// DOS duplicates) and its own streams.
    pub(super) fn list_directory(&self, record: u64) -> Result<Listing, String> {
        let mut fs = self.fs(DIR_READ_BUDGET);
        let dir = self.ntfs.file(&mut fs, record).map_err(|e| e.to_string())?;
        if !dir.flags().contains(NtfsFileFlags::IN_USE) {
            return Err("directory record is not in use".to_string());
        }
        check_index_record_size(&dir)?;
        let raw = match self.crate_entries(&mut fs, &dir) {
            Ok(r) => r,
            // The crate cannot follow an index split by an attribute list: read it ourselves.
            Err(e) => match &self.mft {
                Some(map) => {
                    let cluster = u64::from(self.ntfs.cluster_size());
                    match guard(|| index::list(&self.base, map, cluster, record)) {
                        Ok(Ok(r)) => r,
                        Ok(Err(e2)) => return Err(format!("{e}; read directly: {e2}")),
                        Err(p) => return Err(format!("{e}; reading it directly crashed: {p}")),
                    }
                }
                None => return Err(e),
            },
        };
        // A DOS 8.3 name is only kept when the record has no other name here.
        let mut long_named: HashSet<u64> = HashSet::new();
        for (_, rec, _, dos) in &raw {
            if !dos {
                long_named.insert(*rec);
            }
        }
        let mut children = Vec::new();
        let mut kept: HashSet<(u64, String)> = HashSet::new();
        for (name, rec, sequence, dos) in raw {
            if rec == record {
                continue; // the root's entry for itself
            }
            if rec < FIRST_USER_RECORD {
                continue; // NTFS metadata files (see FIRST_USER_RECORD)
            }
            if dos && long_named.contains(&rec) {
                continue;
            }
            if !kept.insert((rec, name.clone())) {
                continue;
            }
            children.push(Child {
                name,
                record: rec,
                sequence,
            });
        }
        let own = self.file_facts(&mut fs, &dir);
        Ok(Listing { own, children })
    }

    /// A directory's index entries through the crate: (name, record, sequence, DOS name).
    fn crate_entries(
        &self,
        fs: &mut Budget,
        dir: &NtfsFile<'_>,
    ) -> Result<Vec<index::Entry>, String> {
        let index = dir.directory_index(fs).map_err(|e| e.to_string())?;
        let mut entries = index.entries();
        let mut raw: Vec<index::Entry> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut repeats = 0usize;
        let mut count = 0usize;
        while let Some(entry) = entries.next(fs) {
            count += 1;
            if count > MAX_DIR_ENTRIES {
                return Err(format!("more than {MAX_DIR_ENTRIES} index entries"));
            }
            let entry = entry.map_err(|e| e.to_string())?;
            let Some(key) = entry.key() else { continue };
            let key = key.map_err(|e| e.to_string())?;
            let reference = entry.file_reference();
            let child = reference.file_record_number();
            if seen.insert(child) {
                repeats = 0;
            } else {
                repeats += 1;
                if repeats > MAX_REPEATS {
                    return Err("directory index loops".to_string());
                }
            }
            let dos = key.namespace() == NtfsFileNamespace::Dos;
            raw.push((
                key.name().to_string_lossy(),
                child,
                reference.sequence_number(),
                dos,
            ));
        }
        Ok(raw)
    }

    /// Opens a child record and checks it against its index entry.
    pub(super) fn open_child(&self, child: &Child) -> Result<Opened, String> {
        let mut fs = self.fs(FILE_READ_BUDGET);
        let file = self
            .ntfs
            .file(&mut fs, child.record)
            .map_err(|e| e.to_string())?;
        if !file.flags().contains(NtfsFileFlags::IN_USE) {
            return Err(format!(
                "stale directory entry: record {} is not in use",
                child.record
            ));
        }
        if child.sequence != 0 && file.sequence_number() != child.sequence {
            return Err(format!(
                "stale directory entry: record {} has sequence {}, the index says {}",
                child.record,
                file.sequence_number(),
                child.sequence
            ));
        }
        if file.is_directory() {
            return Ok(Opened::Directory);
        }
        let facts = self.file_facts(&mut fs, &file);
        if let Ok(f) = &facts {
            if f.streams.is_empty() {
                return Ok(Opened::NotReported);
            }
        }
        Ok(Opened::File(facts))
    }
}

/// Checks the directory's `$I30` index record size before the crate allocates by it.
fn check_index_record_size(dir: &NtfsFile<'_>) -> Result<(), String> {
    for attr in dir.attributes_raw().take(MAX_ATTRIBUTES) {
        let Ok(attr) = attr else { continue };
        if attr.ty().ok() != Some(NtfsAttributeType::IndexRoot) {
            continue;
        }
        if let Ok(root) = attr.resident_structured_value::<NtfsIndexRoot>() {
            let size = root.index_record_size();
            if size == 0 || size > MAX_INDEX_RECORD {
                return Err(format!("implausible index record size {size}"));
            }
        }
    }
    Ok(())
}
