//! What an NTFS volume says of itself for its record: label, version, dirty flag, and whether
//! Windows left it hibernated (fast startup), which makes what is on disk possibly stale.

use std::io::Read;

use super::content::StreamReader;
use super::{NtfsWalker, Opened, FILE_READ_BUDGET, ROOT_RECORD};
use crate::fs::{guard, VolumeInfo};

impl NtfsWalker {
    pub(super) fn read_volume_info(&self, map_error: Option<String>) -> VolumeInfo {
        let mut info = VolumeInfo::default();
        let mut fs = self.fs(FILE_READ_BUDGET);
        if let Ok(Some(Ok(name))) = guard(|| self.ntfs.volume_name(&mut fs)) {
            let label = name.name().to_string_lossy();
            if !label.is_empty() {
                info.label = Some(label);
            }
        }
        match guard(|| self.ntfs.volume_info(&mut fs)) {
            Ok(Ok(v)) => {
                if v.flags()
                    .contains(ntfs::structured_values::NtfsVolumeFlags::IS_DIRTY)
                {
                    info.notes.push(
                        "volume is marked dirty (not cleanly unmounted): recent changes may be missing"
                            .to_string(),
                    );
                    info.degraded = true;
                }
            }
            Ok(Err(e)) => info
                .notes
                .push(format!("$Volume information unreadable: {e}")),
            Err(p) => info
                .notes
                .push(format!("$Volume information crashed the reader: {p}")),
        }
        match (&self.mft, map_error) {
            (Some(map), _) => {
                if map.attribute_list {
                    log::debug!(
                        "ntfs: $MFT has an attribute list: {} extension records, {} runs, all mapped",
                        map.extension_records,
                        map.runs.len()
                    );
                }
            }
            (None, e) => {
                info.notes.push(format!(
                    "$MFT map could not be built ({}): records beyond its first extent may be unreachable",
                    e.unwrap_or_else(|| "unknown reason".to_string())
                ));
                info.degraded = true;
            }
        }
        if let Ok(true) = guard(|| self.hibernated()) {
            info.notes
                .push("Windows was hibernated; files may be out of date".to_string());
            info.degraded = true;
        }
        info
    }

    /// Whether `/hiberfil.sys` starts with a hibernation signature.
    fn hibernated(&self) -> bool {
        let Ok(listing) = self.list_directory(ROOT_RECORD) else {
            return false;
        };
        let Some(child) = listing
            .children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("hiberfil.sys"))
        else {
            return false;
        };
        let Ok(Opened::File(Ok(facts))) = self.open_child(child) else {
            return false;
        };
        let Some(main) = facts.streams.into_iter().find(|s| s.name.is_none()) else {
            return false;
        };
        let Ok(data) = main.data else { return false };
        let mut reader = StreamReader::new(self.cache.clone(), data);
        let mut magic = [0u8; 4];
        if reader.read_exact(&mut magic).is_err() {
            return false;
        }
        matches!(&magic, b"hibr" | b"HIBR" | b"wake" | b"WAKE")
    }
}
