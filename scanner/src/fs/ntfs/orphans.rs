//! The sweep of `$MFT` for in-use file records that no directory lists.
//!
//! A file whose entry was removed from its parent's index (by corruption, a crash, or on
//! purpose: a classic place to hide malware) is still a live record in `$MFT`, with its data
//! intact; a directory walk never sees it. After the walk, every base record in use that the
//! walk did not reach is scanned: under the path its `$FILE_NAME` parent references give when
//! they lead to a known directory (or to another unreached directory, walked in turn), else as
//! `/<orphan>/<record number>`. Records below `$Extend` (NTFS's own metadata) are left out. The
//! volume's notes say how many were found.
//!
//! A parent reference carries the sequence number the parent record had when the name was
//! written; when the record there now has another one, the parent was deleted and its record
//! reused by something else: that is not the file's directory, and the file is scanned as
//! `/<orphan>/<record number>` (a reference with sequence 0, which nothing checks, is taken as
//! it is).

use std::collections::HashMap;
use std::ops::ControlFlow;

use super::record::{FileName, Record};
use super::{
    guard, join_path, Child, Content, FileMeta, NtfsWalker, Opened, Visitor, WalkEnd, WalkState,
    FIRST_USER_RECORD, MAX_DEPTH, MAX_RECORDS, ROOT_RECORD,
};

/// Parent references followed to build one path.
const MAX_PARENT_CHAIN: usize = 64;

/// What the sweep knows of one unreached record.
struct Candidate {
    directory: bool,
    name: Option<FileName>,
}

/// Where an unreached record's path leads.
enum Place {
    /// Under NTFS metadata (`$Extend`...): not reported.
    Metadata,
    Path(String),
}

impl NtfsWalker {
    /// Scans the records the walk did not reach. `Some(end)` means stop the whole walk.
    pub(super) fn sweep_orphans(
        &mut self,
        state: &mut WalkState,
        visitor: &mut dyn Visitor,
    ) -> Option<WalkEnd> {
        self.sweep_note = None;
        let Some(map) = &self.mft else {
            self.sweep_note = Some(
                "records missing from directory indexes were not looked for ($MFT map unavailable)"
                    .to_string(),
            );
            return None;
        };
        let total = map.records().min(MAX_RECORDS as u64);
        let mut candidates: HashMap<u64, Candidate> = HashMap::new();
        let mut order: Vec<u64> = Vec::new();
        let mut unreadable = 0u64;
        for n in FIRST_USER_RECORD..total {
            if self.reached.contains(&n) {
                continue;
            }
            let rec = match guard(|| map.read_raw(&self.base, n).and_then(Record::parse)) {
                Ok(Ok(r)) => r,
                // Never-used records are zeros; a torn or garbage one cannot be in use.
                Ok(Err(_)) => continue,
                Err(_) => {
                    unreadable += 1;
                    continue;
                }
            };
            // An extension record names its base by a full reference: those of `$MFT`
            // itself (record 0, sequence 1) have record number 0 but are not base records.
            if !rec.in_use() || rec.base_reference() != 0 {
                continue;
            }
            candidates.insert(
                n,
                Candidate {
                    directory: rec.is_directory(),
                    name: rec.best_name(),
                },
            );
            order.push(n);
        }
        // Directories first, so that the files below them get their names from the walk.
        order.sort_by_key(|n| (!candidates.get(n).is_some_and(|c| c.directory), *n));
        let mut found = 0usize;
        let mut under_orphan = 0usize;
        for n in order {
            if self.reached.contains(&n) {
                continue; // reached meanwhile, below an orphan directory
            }
            let path = match self.place(n, &candidates) {
                Place::Metadata => continue,
                Place::Path(p) => p,
            };
            found += 1;
            if path.starts_with("/<orphan>/") {
                under_orphan += 1;
            }
            let directory = candidates.get(&n).is_some_and(|c| c.directory);
            if directory {
                if !state.visited_dirs.insert(n) {
                    continue;
                }
                let depth = path.matches('/').count().min(MAX_DEPTH);
                if let Some(end) = self.walk_from(state, vec![(n, path, depth)], visitor) {
                    return Some(end);
                }
                continue;
            }
            self.reached.insert(n);
            if !state.seen_files.insert(n) {
                continue;
            }
            let child = Child {
                name: String::new(),
                record: n,
                sequence: 0,
            };
            let opened = match guard(|| self.open_child(&child)) {
                Ok(r) => r,
                Err(p) => Err(format!("reader crashed: {p}")),
            };
            let flow = match opened {
                Ok(Opened::File(facts)) => self.visit_facts(facts, &path, false, visitor),
                Ok(Opened::Directory | Opened::NotReported) => ControlFlow::Continue(()),
                Err(e) => {
                    let meta = FileMeta {
                        path,
                        ..FileMeta::default()
                    };
                    visitor.visit(&meta, Content::Error(e))
                }
            };
            if flow.is_break() {
                return Some(WalkEnd::Cancelled);
            }
        }
        let mut notes = Vec::new();
        if found > 0 {
            notes.push(format!(
                "{found} in-use file records were listed by no directory: found by a sweep of $MFT and scanned ({under_orphan} under /<orphan>/<record number>)"
            ));
        }
        if unreadable > 0 {
            notes.push(format!(
                "{unreadable} $MFT records could not be checked by the orphan sweep"
            ));
        }
        if !notes.is_empty() {
            self.sweep_note = Some(notes.join("; "));
        }
        None
    }

    /// The path of unreached record `n`, from its parent references.
    fn place(&self, n: u64, candidates: &HashMap<u64, Candidate>) -> Place {
        let mut names: Vec<String> = Vec::new();
        let mut at = n;
        for _ in 0..MAX_PARENT_CHAIN {
            let Some(name) = candidates.get(&at).and_then(|c| c.name.as_ref()) else {
                break;
            };
            names.push(name.name.clone());
            let parent = name.parent;
            if !self.parent_sequence_matches(parent, name.parent_sequence) {
                break; // the parent record was reused: not this file's directory
            }
            let known = if parent == ROOT_RECORD {
                Some("/".to_string())
            } else {
                self.dir_paths.get(&parent).cloned()
            };
            if let Some(mut p) = known {
                for part in names.iter().rev() {
                    p = join_path(&p, part);
                }
                return Place::Path(p);
            }
            if parent < FIRST_USER_RECORD {
                return Place::Metadata; // $Extend and the like
            }
            if !candidates.get(&parent).is_some_and(|c| c.directory) {
                break;
            }
            at = parent;
        }
        Place::Path(format!("/<orphan>/{n}"))
    }

    /// Whether record `parent` still has the sequence number a reference to it carries.
    fn parent_sequence_matches(&self, parent: u64, sequence: u16) -> bool {
        if sequence == 0 {
            return true;
        }
        let Some(map) = &self.mft else {
            return true;
        };
        match guard(|| map.read_raw(&self.base, parent).and_then(Record::parse)) {
            Ok(Ok(r)) => r.in_use() && r.sequence() == sequence,
            _ => false,
        }
    }
}
