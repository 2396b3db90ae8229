p='/work/wt/uirec/scanner/src/record/host.rs'; s=open(p).read()
s=s.replace('''/// `{"type":"host",...}`: first line of a record on the stick: who scanned what, when, how.
///
/// Issue 5 owns the details; fields may be added, never renamed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {''','''/// `{"type":"host",...}`: first line of a record on the stick: who scanned what, when, how.
/// Serialised with `note_codes` next to `notes` (see [`Note`]), like disk and volume records.
///
/// Issue 5 owns the details; fields may be added, never renamed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HostRecord {''',1)
s=s.replace('''use serde::{Deserialize, Serialize};
''','''use serde::{Deserialize, Serialize, Serializer};

use super::Note;
''',1)
s += '''
// As for disk and volume records (`volume.rs`): `notes` stay English sentences, `note_codes`
// carry them as stable codes + parameters (absent when there is no note). The destructuring
// without `..` makes a new field a compile error here rather than a field missing from the JSON.
impl Serialize for HostRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            scan_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            stick_id: Option<&'a str>,
            scanner_version: &'a str,
            rules: &'a RulesInfo,
            started: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            ended: Option<&'a str>,
            clock: &'a str,
            mode: RunMode,
            full: bool,
            cancelled: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            asset_tag: Option<&'a str>,
            dmi: &'a BTreeMap<String, String>,
            disks: &'a [HostDisk],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            windows_names: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            linux_names: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            notes: &'a [String],
            #[serde(skip_serializing_if = "Vec::is_empty")]
            note_codes: Vec<Note>,
            #[serde(skip_serializing_if = "Option::is_none")]
            site: Option<&'a str>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            pseudonymised: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            resumed: Option<&'a Resumed>,
        }
        let HostRecord {
            scan_id,
            stick_id,
            scanner_version,
            rules,
            started,
            ended,
            clock,
            mode,
            full,
            cancelled,
            asset_tag,
            dmi,
            disks,
            windows_names,
            linux_names,
            notes,
            site,
            pseudonymised,
            resumed,
        } = self;
        Out {
            scan_id,
            stick_id: stick_id.as_deref(),
            scanner_version,
            rules,
            started,
            ended: ended.as_deref(),
            clock,
            mode: *mode,
            full: *full,
            cancelled: *cancelled,
            asset_tag: asset_tag.as_deref(),
            dmi,
            disks,
            windows_names,
            linux_names,
            notes,
            note_codes: Note::classify_all(notes),
            site: site.as_deref(),
            pseudonymised: *pseudonymised,
            resumed: resumed.as_ref(),
        }
        .serialize(s)
    }
}
'''
open(p,'w').write(s)
