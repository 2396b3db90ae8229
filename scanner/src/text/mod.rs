//! Every sentence a person reads that the console UI, the human report and PID 1's console
//! share, per language. Records keep stable machine-readable codes (a volume note is a
//! [`note::Note`]: code + parameters + English text); this module turns them into words.
//!
//! Only characters the Linux console font shows (CP437 map): lower-case accented letters and
//! `É` are fine; `À`, `È`, `…`, typographic quotes are not.

pub mod clock;
pub mod csv;
pub mod lang;
pub mod names;
pub mod note;
pub mod quick;

pub use lang::Lang;

use std::borrow::Cow;

use crate::record::{FindingRecord, FsKind, VolumeStatus};

/// Where a finding is, for a person: `path`, `path:stream` for an NTFS alternate data
/// stream, then `//member` inside a container ([`FindingRecord::location`]).
pub fn location(f: &FindingRecord) -> String {
    f.location()
}

/// A filesystem kind for a sentence: the record name (`ntfs`, `fat32`), or words when the
/// record name means nothing to a person (`unknown`).
pub fn fs_name(lang: Lang, fs: FsKind) -> &'static str {
    match (fs, lang) {
        (FsKind::Unknown, Lang::Fr) => "aucun système de fichiers reconnu",
        (FsKind::Unknown, Lang::En) => "no filesystem recognised",
        (other, _) => other.as_str(),
    }
}

/// A skip reason key of a volume record (`too_large`, ...) in words.
pub fn skip_reason(lang: Lang, key: &str) -> Cow<'static, str> {
    let (fr, en) = match key {
        "too_large" | "too-large" => ("trop gros", "too large"),
        "encrypted" => ("chiffré", "encrypted"),
        "wof_compressed" => (
            "compression Windows (WOF) non lue",
            "Windows (WOF) compression not read",
        ),
        "unsupported_compression" => ("compression non prise en charge", "unsupported compression"),
        "timeout" => ("délai dépassé", "timed out"),
        "cancelled" => ("analyse arrêtée", "scan stopped"),
        "error" => ("illisible", "unreadable"),
        other => return Cow::Owned(other.replace('_', " ")),
    };
    Cow::Borrowed(match lang {
        Lang::Fr => fr,
        Lang::En => en,
    })
}

/// A volume's filesystem for the bilingual report: the record's name (`ntfs`, `fat32`, ...),
/// which reads the same in both languages, except for what names no filesystem: an empty or
/// unrecognised partition is `format inconnu/unknown format`, not the record code `unknown`.
pub fn fs_words(k: crate::record::FsKind) -> &'static str {
    match k {
        crate::record::FsKind::Unknown => "format inconnu/unknown format",
        other => other.as_str(),
    }
}

/// A volume status for the bilingual report: `analysé/scanned`, `partiel/partial`, ...
pub fn status_words(s: VolumeStatus) -> &'static str {
    match s {
        VolumeStatus::Scanned => "analysé/scanned",
        VolumeStatus::Partial => "partiel/partial",
        VolumeStatus::Encrypted => "chiffré/encrypted",
        VolumeStatus::Unsupported => "non pris en charge/unsupported",
        VolumeStatus::Error => "erreur/error",
    }
}

/// Where the rules came from, for a person: `embedded default(s)` in words; a path or a
/// bundle name as it is.
pub fn rules_origin(lang: Lang, origin: &str) -> Cow<'_, str> {
    match (origin, lang) {
        ("embedded default" | "embedded defaults", Lang::Fr) => {
            Cow::Borrowed("règles intégrées à la clé")
        }
        ("embedded default" | "embedded defaults", Lang::En) => {
            Cow::Borrowed("rules built into the stick")
        }
        _ => Cow::Borrowed(origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(stream: Option<&str>) -> FindingRecord {
        // From JSON, so that a field added to the record later keeps this test building.
        serde_json::from_value(serde_json::json!({
            "disk": "d", "volume": 1, "path": "/Users/Public/readme.txt", "stream": stream,
            "kind": "yara", "rule": "r", "namespace": "n", "sha256": "", "size": 0, "mode": "full"
        }))
        .unwrap()
    }

    #[test]
    fn a_stream_finding_says_file_colon_stream() {
        assert_eq!(
            location(&finding(Some("hidden"))),
            "/Users/Public/readme.txt:hidden"
        );
        assert_eq!(location(&finding(None)), "/Users/Public/readme.txt");
        assert_eq!(location(&finding(Some(""))), "/Users/Public/readme.txt");
    }

    #[test]
    fn words_for_codes() {
        assert_eq!(
            fs_name(Lang::Fr, FsKind::Unknown),
            "aucun système de fichiers reconnu"
        );
        assert_eq!(fs_name(Lang::Fr, FsKind::Ntfs), "ntfs");
        assert_eq!(skip_reason(Lang::Fr, "too_large"), "trop gros");
        assert_eq!(skip_reason(Lang::En, "new_reason"), "new reason");
        assert_eq!(
            rules_origin(Lang::Fr, "embedded default"),
            "règles intégrées à la clé"
        );
        assert_eq!(rules_origin(Lang::Fr, "updates/x.vgb"), "updates/x.vgb");
    }
}
