//! Tests of the notes: every catalogue entry round-trips, the sentences the code emits are
//! recognised, anything else is `other`.

use super::*;

#[test]
fn every_entry_classifies_to_its_code_and_renders_back_to_its_text() {
    for entry in CATALOGUE {
        let text = example(entry);
        let n = Note::classify(&text);
        assert_eq!(n.code, entry.code, "{text}");
        assert_eq!(n.render(Lang::En), text, "{}", entry.code);
        let fr = n.render(Lang::Fr);
        assert_ne!(fr, text, "{}: no French", entry.code);
        assert!(!fr.contains('{'), "{}: {fr}", entry.code);
        assert!(
            fr.chars()
                .all(|c| c.is_ascii() || "éèêàâçùûôîÉ".contains(c)),
            "{fr}"
        );
    }
}

#[test]
fn the_readers_sentences_are_recognised() {
    // The exact sentences the code emits, as the readers' constants build them.
    assert_eq!(Note::classify(crate::privacy::NOTE).code, "pseudonymised");
    let n = Note::classify("killed by signal SIGSEGV (core dumped), 12 records");
    assert_eq!(
        (n.code.as_str(), n.params["signal"].as_str()),
        ("crash_signal_core", "SIGSEGV")
    );
    let ext4 = format!(
        "{} (in-memory replay failed: bad block)",
        crate::fs::ext4::NOTE_NOT_REPLAYED
    );
    let n = Note::classify(&ext4);
    assert_eq!(n.code, "journal_not_replayed");
    assert_eq!(n.params["error"], "bad block");
    assert_eq!(
        n.render(Lang::Fr),
        "journal non rejoué : des modifications récentes peuvent manquer (échec du rejeu en mémoire : bad block)"
    );
    let n = Note::classify(crate::fs::ext4::NOTE_NOT_REPLAYED);
    assert_eq!(n.code, "journal_not_replayed");
    assert!(n.params.is_empty());
    let n = Note::classify("error: /a: b: c");
    assert_eq!(
        (n.code.as_str(), n.params["path"].as_str()),
        ("file_error", "/a")
    );
    assert_eq!(n.params["error"], "b: c");
    assert_eq!(n.render(Lang::Fr), "erreur : /a : b: c");
}

#[test]
fn anything_else_is_other_with_its_text() {
    let n = Note::classify("a brand new remark");
    assert_eq!(n.code, OTHER);
    assert_eq!(n.render(Lang::Fr), "a brand new remark");
    // A template's literal alone, or with an empty variable part, is not a match.
    assert_eq!(Note::classify("walk stopped: ").code, OTHER);
    assert_eq!(Note::classify("further errors not listed!").code, OTHER);
    // Serialised: code, params when any, text.
    let j = serde_json::to_string(&Note::classify("walk stopped: x")).unwrap();
    assert_eq!(
        j,
        r#"{"code":"walk_stopped","params":{"error":"x"},"text":"walk stopped: x"}"#
    );
}

// --- Every note the sources build has a code -------------------------------------------------
//
// A source scan, like `scripts/lib/modcycles.py`: the places where a note is built (a push onto
// `notes`, a `notes: vec![...]`, a container note, the NTFS sweep note) are found in the
// library's non-test code; the sentence (the first string literal, `{..}` placeholders filled
// with examples) must classify to a code other than `other`. A place that passes a sentence
// built elsewhere is listed in `BUILT_ELSEWHERE` with the sentences it can carry. A new note
// without a catalogue entry, or a new place that builds notes, fails here.

/// Where notes are built.
const SITES: &[&str] = &[
    "notes.push(",
    "notes: vec![",
    ".note_member(",
    "container_skip(",
    "sweep_note = Some(",
];

/// Places whose argument is not a sentence literal: (file, argument with spaces removed,
/// the sentences it can carry (each must classify), why).
const BUILT_ELSEWHERE: &[(&str, &str, &[&str], &str)] = &[
    ("tui/app/handle.rs", "(d.disk,d.notes)", &[], "the UI keeps the record's notes"),
    ("init/evidence.rs", "note.into()", &[], "evidence notes are codes"),
    ("init/evidence.rs", "ifmatches!(e,FatError::Full{..}){\"log_full\"}else{\"write_error\"}.into()", &[], "evidence notes are codes"),
    ("init/supervise.rs", "n", &["3 more findings are not listed in this record (limit 10000); the summary counts them all"], "Kept::note"),
    ("init/logpart/record.rs", "n.clone()", &[], "copies the base host record's notes"),
    ("init/logpart/save.rs", "crate::privacy::NOTE.into()", &[crate::privacy::NOTE], "privacy::NOTE"),
    ("init/logpart/save.rs", "unprotected_note(\"key_no_token\")", &["log partition: saved without power-cut protection (key_no_token); run `scanner logpart prepare` on the stick at the desk"], "unprotected_note"),
    ("init/logpart/save.rs", "unprotected_note(&why)", &["log partition: saved without power-cut protection (no_token); run `scanner logpart prepare` on the stick at the desk"], "unprotected_note"),
    ("fs/exfat/mod.rs", "e", &[
        "allocation bitmap of 10 bytes is shorter than the 20 the cluster count needs",
        "allocation bitmap starts at invalid cluster 9",
        "allocation bitmap unreadable: I/O error",
    ], "exfat::alloc::load_bitmap's errors"),
    ("scan/engine/members.rs", "text", &[], "note_member itself"),
    ("scan/engine/members.rs", "note", &[
        "a/b.img: disk image: vhdx log not replayed (the image was not closed cleanly): read as it is",
        "a/b.zip//c: member larger than 100 bytes",
        "a/b.zip//c: expanded bytes of this file exceed the limit (compression bomb?)",
        "a/b.zip//c: compression ratio above 250:1 (compression bomb)",
    ], "container remarks (vdisk) and the limits' reasons (container::limits)"),
    ("scan/engine/members.rs", "note:String", &[], "container_skip itself"),
    ("fs/ntfs/orphans.rs", "notes.join(\";\")", &[
        "3 in-use file records were listed by no directory: found by a sweep of $MFT and scanned (1 under /<orphan>/<record number>); 2 $MFT records could not be checked by the orphan sweep",
        "3 in-use file records were listed by no directory: found by a sweep of $MFT and scanned (1 under /<orphan>/<record number>)",
        "2 $MFT records could not be checked by the orphan sweep",
    ], "the sweep's notes joined (its sentences are pushed above it)"),
    ("scan/engine/walk.rs", "note", &[
        "encrypted volume: its files cannot be read without the key",
        "Linux swap: not a filesystem, not scanned",
        "LVM physical volume: logical volumes not scanned",
        "Linux RAID member: not scanned",
        "no filesystem (reserved or empty partition)",
        "unrecognised content: not scanned",
    ], "the unsupported volume's note, chosen by filesystem kind"),
];

/// Sites whose literal alone does not show the note's shape (a positional `{}` holding a code,
/// a reason built elsewhere): (file, sentence literal, the sentences it makes).
const EXAMPLES: &[(&str, &str, &[&str])] = &[
    ("scan/engine/members.rs", "{}: {}", &["a/b.zip//c.exe: encrypted", "a/b.zip//c: unsupported_compression"]),
    ("scan/engine/members.rs", "{location}: {}: {e}", &[
        "a/b.zip: zip: corrupt central directory",
        "a/b.7z: 7z: unsupported LZMA2 filter",
        "a/b.7z: 7z: encrypted container",
        "a/b.zip: zip: limit reached: 10000 members",
        "a/b.cab: cab: reader crashed: index out of bounds",
    ]),
    ("container/vdisk/mod.rs", "vhdx log not replayed (the image was not closed cleanly): read as it is", &["a/b.img: disk image: vhdx log not replayed (the image was not closed cleanly): read as it is"]),
    ("container/udf/volume.rs", "main volume descriptor sequence unreadable: reserve copy used", &["a/b.iso: udf: main volume descriptor sequence unreadable: reserve copy used"]),
    ("container/udf/volume.rs", "virtual partition (VAT, write-once disc) not read", &["a/b.iso: udf: virtual partition (VAT, write-once disc) not read"]),
    ("container/udf/volume.rs", "metadata file unreadable: its mirror used", &["a/b.iso: udf: metadata file unreadable: its mirror used"]),
    ("container/udf/volume.rs", "no readable sparing table: packets read where first written", &["a/b.iso: udf: no readable sparing table: packets read where first written"]),
    ("disk/gpt.rs", "{primary_why}; {}", &["primary GPT header missing; backup GPT header unusable: bad CRC"]),
];

/// Sites whose sentence carries the reader's own words only, kept as `other` on purpose:
/// (file, sentence literal, why).
const UNCODED: &[(&str, &str, &str)] = &[(
    "scan/engine/members.rs",
    "{}: {e}",
    "a member's read error: the container reader's own words",
)];

/// Example values of named placeholders whose shape matters to the template.
fn placeholder(name: &str) -> &'static str {
    match name {
        "primary_why" => "primary GPT header missing",
        "NOTE_NOT_REPLAYED" => crate::fs::ext4::NOTE_NOT_REPLAYED,
        "location" => "a/b.zip",
        _ => "7",
    }
}

/// The code part of a source file: up to its `#[cfg(test)] mod tests {`, whitespace before a
/// method call's dot removed (so `x\n    .notes\n    .push(` reads `x.notes.push(`).
fn code_part(text: &str) -> String {
    let text = text
        .find("\n#[cfg(test)]\nmod tests {")
        .map_or(text, |i| &text[..i]);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            let mut ws = String::from(c);
            while let Some(&n) = chars.peek() {
                if !n.is_whitespace() {
                    break;
                }
                ws.push(n);
                chars.next();
            }
            if chars.peek() != Some(&'.') {
                out.push_str(&ws);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The text from `start` up to the bracket that closes the one just before it.
fn argument(text: &str, start: usize) -> &str {
    let b = text.as_bytes();
    let (mut depth, mut i, mut in_str) = (1usize, start, false);
    while i < b.len() && depth > 0 {
        match (in_str, b[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => in_str = false,
            (false, b'"') => in_str = true,
            (false, b'(' | b'[' | b'{') => depth += 1,
            (false, b')' | b']' | b'}') => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    &text[start..i.saturating_sub(1).max(start)]
}

/// The last argument of a call's argument list (the note; `slot, reason, note` -> `note`).
fn last_argument(args: &str) -> &str {
    let b = args.as_bytes();
    let (mut depth, mut in_str, mut start, mut i) = (0usize, false, 0usize, 0usize);
    while i < b.len() {
        match (in_str, b[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => in_str = false,
            (false, b'"') => in_str = true,
            (false, b'(' | b'[' | b'{') => depth += 1,
            (false, b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            (false, b',') if depth == 0 && !args[i + 1..].trim().is_empty() => start = i + 1,
            _ => {}
        }
        i += 1;
    }
    args[start..].trim().trim_end_matches(',').trim()
}

/// The sentence literal of a note argument: a string literal, or the format string of a
/// `format!`; `None` for anything else (a variable, a call).
fn first_literal(arg: &str) -> Option<String> {
    let open = if arg.starts_with('"') {
        0
    } else {
        arg.strip_prefix("format!(")?.find('"')? + "format!(".len()
    };
    let mut out = String::new();
    let mut chars = arg[open + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next() {
                Some('\n') => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// A format string with its placeholders filled by examples (`{{`/`}}` are braces).
fn example_of(format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let Some(close) = tail.strip_prefix('{').and_then(|t| t.find('}')) {
            let name = tail[1..1 + close].split(':').next().unwrap_or("");
            out.push_str(placeholder(name));
            rest = &tail[close + 2..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "testutil" {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_note_the_sources_build_has_a_code() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let (mut problems, mut checked) = (Vec::new(), 0usize);
    let mut used = vec![false; BUILT_ELSEWHERE.len()];
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let code = code_part(&std::fs::read_to_string(file).unwrap());
        for site in SITES {
            for (at, _) in code.match_indices(site) {
                let arg = last_argument(argument(&code, at + site.len()));
                let line = code[..at].matches('\n').count() + 1;
                let compact: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
                let literal = first_literal(arg);
                let sentences: Vec<String> = match &literal {
                    // A bare code (`write_error`): already stable.
                    Some(l) if l.chars().all(|c| c.is_ascii_lowercase() || c == '_') => continue,
                    Some(l) if UNCODED.iter().any(|(f, s, _)| *f == rel && s == l) => continue,
                    Some(l) => match EXAMPLES.iter().find(|(f, s, _)| *f == rel && s == l) {
                        Some((_, _, examples)) => examples.iter().map(|s| s.to_string()).collect(),
                        None => vec![example_of(l)],
                    },
                    None => match BUILT_ELSEWHERE
                        .iter()
                        .position(|(f, a, _, _)| *f == rel && *a == compact)
                    {
                        Some(i) => {
                            used[i] = true;
                            BUILT_ELSEWHERE[i].2.iter().map(|s| s.to_string()).collect()
                        }
                        None => {
                            problems.push(format!(
                                "{rel}:{line}: `{site}{compact}`: a note built elsewhere; list it in BUILT_ELSEWHERE"
                            ));
                            continue;
                        }
                    },
                };
                for s in sentences {
                    checked += 1;
                    let n = Note::classify(&s);
                    if n.code == OTHER {
                        problems.push(format!("{rel}:{line}: no catalogue entry for {s:?}"));
                    } else if n.render(Lang::En) != s {
                        problems.push(format!("{rel}:{line}: {s:?} renders back differently"));
                    }
                }
            }
        }
    }
    for (i, (f, a, _, _)) in BUILT_ELSEWHERE.iter().enumerate() {
        if !used[i] {
            problems.push(format!(
                "BUILT_ELSEWHERE lists {f} `{a}`, found nowhere: remove it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{checked} sentences checked:\n{}",
        problems.join("\n")
    );
    assert!(
        checked > 80,
        "only {checked} sentences found: is the scan broken?"
    );
}
