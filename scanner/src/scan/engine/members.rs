//! The engine's side of containers: a file's content, once read, is offered to
//! [`crate::container`]; each member becomes a scan job of its own (rules and hashes), read
//! through the same paths as a file (whole up to the full-scan limit, blocks above), and may
//! itself be a container, down to the depth limit.
//!
//! Accounting: members are counted apart from files (`members`, `members_scanned`,
//! `members_skipped`, `members_errors` in volume and summary records), so `files = scanned +
//! skipped + errors` still holds and so does the same sum for members. A member that could not
//! be opened (corrupt, encrypted, unsupported, over a limit) is a skipped member, which makes
//! the verdict incomplete exactly as a skipped file does.
//!
//! Memory: container contents are held while their members are scanned; what is held, all
//! depths together, never exceeds the engine's in-flight byte budget (a container that would
//! is not opened and counted `archive_limit`), except a container whose file the walker maps
//! onto its extents (or whose member an ISO image or a disk image read in place maps onto its
//! own): it is opened in place, over the volume, whatever its size (`expand_in_place`), unless
//! its format needs the whole content in memory (mail, cpio). Members are bounded by
//! [`crate::container::limits::Limited`].

use std::cell::Cell;
use std::ops::ControlFlow;
use std::rc::Rc;

use super::{Outcome, Run, Slot, MAX_ERROR_NOTES};
use crate::container::limits::{Budget, Limited, LIMIT_PREFIX};
use crate::container::{self, ContainerError, Kind, MemberMeta, MemberVisitor, Members, SEP};
use crate::fs::{guard, Content, SkipReason};
use crate::io::Device;
use crate::record::MemberCounts;

/// Where the engine is in the nesting of containers.
#[derive(Default)]
pub(super) struct Nest {
    /// Member names of the current nesting, outermost first.
    stack: Vec<String>,
    /// What the current top-level file may still expand to.
    budget: Option<Budget>,
    /// Container bytes held in memory right now.
    held: u64,
    /// Notes written about members (bounded like error notes).
    notes: usize,
    /// The file (or member) being streamed in blocks has a mapped device: a container sniffed
    /// in it that opens in place is left for [`Run::expand_in_place`], its kind kept here.
    pub(super) in_place: bool,
    pub(super) in_place_kind: Option<Kind>,
}

impl Nest {
    /// The member path of what is being read now (`None` for a plain file).
    pub(super) fn member(&self) -> Option<String> {
        (!self.stack.is_empty()).then(|| self.stack.join(SEP))
    }
}

impl Slot {
    /// Counts one member's outcome. A read error of a member is a corrupt member
    /// (`archive_error`), or a crossed limit (`archive_limit`); rule-engine errors stay errors.
    pub(super) fn account_member(&mut self, outcome: &Outcome, bytes: u64) {
        let m: &mut MemberCounts = &mut self.members;
        m.seen += 1;
        m.bytes += bytes;
        match member_outcome(outcome) {
            Outcome::Scanned => m.scanned += 1,
            Outcome::Skipped(r) => *m.skipped.entry(r.as_str().to_string()).or_default() += 1,
            Outcome::Error(_) => m.errors += 1,
        }
    }

    fn note_member(&mut self, nest: &mut Nest, text: String) {
        nest.notes += 1;
        if nest.notes <= MAX_ERROR_NOTES {
            self.notes.push(text);
        } else if nest.notes == MAX_ERROR_NOTES + 1 {
            self.notes.push("further container notes not listed".into());
        }
    }
}

/// The outcome a member's job is counted with (see [`Slot::account_member`]).
pub(super) fn member_outcome(outcome: &Outcome) -> Outcome {
    match outcome {
        Outcome::Error(e) if e.starts_with(LIMIT_PREFIX) => {
            Outcome::Skipped(SkipReason::ArchiveLimit)
        }
        Outcome::Error(e) if !e.starts_with("rule engine") && e != "no scan worker left" => {
            Outcome::Skipped(SkipReason::ArchiveError)
        }
        other => other.clone(),
    }
}

impl Run<'_, '_> {
    /// Offers a content just read to the container layer: when it is a container, its
    /// members are scanned (as jobs of their own) before this returns. `path` and `stream`
    /// name the top-level file; the current member path is in `self.nest`.
    pub(super) fn expand_members(
        &mut self,
        slot: usize,
        path: &str,
        stream: &Option<String>,
        data: &[u8],
    ) {
        let limits = self.engine.opts.containers;
        if !limits.enabled || !self.slots[slot].counts_files || data.is_empty() {
            return;
        }
        let Ok(Some(kind)) = guard(|| container::sniff(data, self.sniff_name(path))) else {
            return;
        };
        let name = self.sniff_name(path).to_string();
        let location = self.location(path, stream);
        if let Kind::Unsupported(what) = kind {
            self.container_skip(
                slot,
                SkipReason::UnsupportedArchive,
                format!("{location}: {what} container: members not scanned"),
            );
            return;
        }
        let size = data.len() as u64;
        if self.nest.held + size > self.budget {
            self.container_skip(
                slot,
                SkipReason::ArchiveLimit,
                format!("{location}: {} too large to open in memory", kind.name()),
            );
            return;
        }
        self.expand_opened(slot, path, stream, kind, size, size, || {
            container::open(kind, data, &name)
        });
    }

    /// A container too large to hold in memory, sniffed while its file was streamed in blocks
    /// (see [`Run::unopened_container`]), opened in place over the device the walker mapped
    /// onto the file's own extents. Depth and member budgets are those of any container.
    pub(super) fn expand_in_place(
        &mut self,
        slot: usize,
        path: &str,
        stream: &Option<String>,
        kind: Kind,
        mapped: &dyn Fn() -> Option<Device>,
    ) {
        let Ok(Some(dev)) = guard(mapped) else {
            let location = self.location(path, stream);
            self.container_skip(
                slot,
                SkipReason::ArchiveLimit,
                format!(
                    "{location}: {} larger than the full-scan limit and not mappable: members not scanned",
                    kind.name()
                ),
            );
            return;
        };
        let size = dev.size();
        let name = self.sniff_name(path).to_string();
        self.expand_opened(slot, path, stream, kind, size, 0, || {
            container::open_device(kind, dev, &name)
        });
    }

    /// Opens a sniffed container (`held` bytes of it in memory, 0 when read in place) and
    /// scans its members, within the depth limit and this top-level file's expansion budget.
    #[allow(clippy::too_many_arguments)]
    fn expand_opened<'a>(
        &mut self,
        slot: usize,
        path: &str,
        stream: &Option<String>,
        kind: Kind,
        size: u64,
        held: u64,
        open: impl FnOnce() -> Result<Box<dyn Members + 'a>, ContainerError>,
    ) {
        let limits = self.engine.opts.containers;
        let location = self.location(path, stream);
        if self.nest.stack.len() as u32 >= limits.max_depth {
            self.container_skip(
                slot,
                SkipReason::ArchiveLimit,
                format!(
                    "{location}: {} nested deeper than {}: members not scanned",
                    kind.name(),
                    limits.max_depth
                ),
            );
            return;
        }
        let top = self.nest.stack.is_empty();
        if top {
            self.nest.budget = Some(Rc::new(Cell::new(limits.expansion_for(size))));
        }
        self.nest.held += held;
        let opened = guard(open);
        let result = match opened {
            Ok(Ok(mut members)) => {
                for remark in members.notes() {
                    let note = format!("{location}: {}: {remark}", kind.name());
                    let nest = &mut self.nest;
                    self.slots[slot].note_member(nest, note);
                }
                let mut visit = MemberVisit {
                    run: &mut *self,
                    slot,
                    path,
                    stream,
                    seen: 0,
                };
                match guard(|| members.for_each(&mut visit)) {
                    Ok(r) => r,
                    Err(p) => Err(ContainerError::Panic(p)),
                }
            }
            Ok(Err(e)) => Err(e),
            Err(p) => Err(ContainerError::Panic(p)),
        };
        self.nest.held -= held;
        if top {
            self.nest.budget = None;
        }
        if let Err(e) = result {
            self.container_skip(
                slot,
                e.reason(),
                format!("{location}: {}: {e}", kind.name()),
            );
        }
    }

    /// A content streamed in blocks (larger than the full-scan limit) is not held in memory,
    /// so a container there cannot be opened: counted as one `archive_limit` member, noted.
    pub(super) fn unopened_container(
        &mut self,
        slot: usize,
        path: &str,
        stream: &Option<String>,
        head: &[u8],
    ) {
        if !self.engine.opts.containers.enabled || !self.slots[slot].counts_files {
            return;
        }
        let name = self.sniff_name(path);
        if let Ok(Some(kind)) = guard(|| container::sniff(head, name)) {
            if self.nest.in_place && container::opens_in_place(kind) {
                // Opened in place once the file is scanned (see `expand_in_place`).
                self.nest.in_place_kind = Some(kind);
                return;
            }
            let location = self.location(path, stream);
            self.container_skip(
                slot,
                SkipReason::ArchiveLimit,
                format!(
                    "{location}: {} larger than the full-scan limit: scanned as bytes, members not scanned",
                    kind.name()
                ),
            );
        }
    }

    /// `path[:stream][//member]` for notes.
    /// The name a container is recognised by: the innermost member's, else the file's path.
    fn sniff_name<'p>(&'p self, path: &'p str) -> &'p str {
        self.nest.stack.last().map_or(path, String::as_str)
    }

    fn location(&self, path: &str, stream: &Option<String>) -> String {
        let mut s = path.to_string();
        if let Some(st) = stream {
            s.push(':');
            s.push_str(st);
        }
        if let Some(m) = self.nest.member() {
            s.push_str(SEP);
            s.push_str(&m);
        }
        s
    }

    /// Counts one skipped member (a whole container's unreadable rest) with a note.
    fn container_skip(&mut self, slot: usize, reason: SkipReason, note: String) {
        self.slots[slot].account_member(&Outcome::Skipped(reason), 0);
        self.progress.skipped += 1;
        let nest = &mut self.nest;
        self.slots[slot].note_member(nest, note);
    }

    #[allow(clippy::too_many_arguments)]
    fn visit_member(
        &mut self,
        slot: usize,
        path: &str,
        stream: &Option<String>,
        meta: &MemberMeta,
        content: Content<'_>,
        seen: &mut u64,
        mapped: Option<&dyn Fn() -> Option<Device>>,
    ) -> ControlFlow<()> {
        if self.cancelled() {
            return ControlFlow::Break(());
        }
        let limits = self.engine.opts.containers;
        *seen += 1;
        if *seen > limits.max_members {
            let location = self.location(path, stream);
            self.container_skip(
                slot,
                SkipReason::ArchiveLimit,
                format!(
                    "{location}: more than {} members: the rest not scanned",
                    limits.max_members
                ),
            );
            return ControlFlow::Break(());
        }
        self.drain(false);
        self.nest.stack.push(meta.name.clone());
        self.report_progress(slot, path, stream.as_deref());
        let mut flow = ControlFlow::Continue(());
        match content {
            Content::Skipped(reason) => self.container_skip(
                slot,
                reason,
                format!("{}: {}", self.location(path, stream), reason.as_str()),
            ),
            Content::Error(e) => self.container_skip(
                slot,
                SkipReason::ArchiveError,
                format!("{}: {e}", self.location(path, stream)),
            ),
            Content::Data(reader) => {
                let budget = self.nest.budget.clone().unwrap_or_default();
                let max = self.engine.opts.max_file_size;
                let declared = meta.size.unwrap_or(0);
                if declared > limits.max_member_size {
                    self.container_skip(
                        slot,
                        SkipReason::ArchiveLimit,
                        format!(
                            "{}: declared {declared} bytes, above the member limit",
                            self.location(path, stream)
                        ),
                    );
                } else if budget.get() == 0 {
                    self.container_skip(
                        slot,
                        SkipReason::ArchiveLimit,
                        format!(
                            "{}: expansion limit of this file reached (compression bomb?): the rest not scanned",
                            self.location(path, stream)
                        ),
                    );
                    flow = ControlFlow::Break(());
                } else if declared > max && self.engine.opts.skip_larger {
                    self.slots[slot].account_member(&Outcome::Skipped(SkipReason::TooLarge), 0);
                } else {
                    let mut limited = Limited::new(reader, &limits, meta.packed, budget.clone());
                    let mut in_place = None;
                    if declared > max {
                        self.nest.in_place = mapped.is_some();
                        self.scan_blocks(slot, path, stream.clone(), &mut limited, Vec::new());
                        self.nest.in_place = false;
                        in_place = self.nest.in_place_kind.take();
                    } else {
                        self.scan_content(slot, path, stream.clone(), &mut limited, declared);
                    }
                    if let Some(why) = limited.tripped().map(str::to_string) {
                        let note = format!("{}: {why}", self.location(path, stream));
                        let nest = &mut self.nest;
                        self.slots[slot].note_member(nest, note);
                        // A bomb: stop expanding this top-level file at every depth.
                        if why.contains("bomb") {
                            budget.set(0);
                        }
                    }
                    if budget.get() == 0 {
                        self.nest.stack.pop();
                        self.container_skip(
                            slot,
                            SkipReason::ArchiveLimit,
                            format!(
                                "{}: expansion stopped (compression bomb?): the rest of this container not scanned",
                                self.location(path, stream)
                            ),
                        );
                        self.report_progress(slot, path, stream.as_deref());
                        return ControlFlow::Break(());
                    }
                    // A container too large for memory, over its own extents: opened in place
                    // with this member still on the stack (its members are `member//...`).
                    if let (Some(kind), Some(m)) = (in_place, mapped) {
                        self.expand_in_place(slot, path, stream, kind, m);
                    }
                }
            }
        }
        self.nest.stack.pop();
        self.report_progress(slot, path, stream.as_deref());
        flow
    }
}

/// The engine's visitor of one container's members.
struct MemberVisit<'r, 'e, 's, 'p> {
    run: &'r mut Run<'e, 's>,
    slot: usize,
    path: &'p str,
    stream: &'p Option<String>,
    /// Members seen so far (the members-per-container limit).
    seen: u64,
}

impl MemberVisitor for MemberVisit<'_, '_, '_, '_> {
    fn member(&mut self, meta: &MemberMeta, content: Content<'_>) -> ControlFlow<()> {
        let (slot, path, stream) = (self.slot, self.path, self.stream);
        self.run
            .visit_member(slot, path, stream, meta, content, &mut self.seen, None)
    }

    fn member_mapped(
        &mut self,
        meta: &MemberMeta,
        content: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        let (slot, path, stream) = (self.slot, self.path, self.stream);
        self.run.visit_member(
            slot,
            path,
            stream,
            meta,
            content,
            &mut self.seen,
            Some(mapped),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_read_errors_become_archive_skips() {
        assert_eq!(
            member_outcome(&Outcome::Error(format!("{LIMIT_PREFIX}ratio"))),
            Outcome::Skipped(SkipReason::ArchiveLimit)
        );
        assert_eq!(
            member_outcome(&Outcome::Error("corrupt deflate stream".into())),
            Outcome::Skipped(SkipReason::ArchiveError)
        );
        assert_eq!(
            member_outcome(&Outcome::Error("rule engine crashed: x".into())),
            Outcome::Error("rule engine crashed: x".into())
        );
    }
}
