//! Notes with stable codes. The readers and the engine write notes as English sentences
//! (`VolumeInfo.notes`, `DiskRecord.notes`); a SIEM rule or a French screen needs more than
//! that. [`Note::classify`] recognises every sentence the code emits today and gives it a
//! stable `code` with its variable parts as `params`; anything else becomes code `other` with
//! its text. [`Note::render`] writes it back in French or English from the code and params.
//!
//! One table ([`CATALOGUE`]) holds, per code, the English template (exactly the sentence the
//! code emits, `{name}` marking a variable part) and the French one: classifying and
//! rendering use the same templates, so the English rendering of a classified note is its
//! original text (tested for every entry).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lang::Lang;

/// A note of a record: a stable code, its parameters, and the English text it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Stable machine-readable code (`ntfs_dirty`, `file_error`, ..., `other`).
    pub code: String,
    /// The variable parts of the sentence (`path`, `error`, `sector`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The English sentence as the record's `notes` holds it.
    pub text: String,
}

/// One kind of note: its code, the English sentence (as emitted) and the French one.
pub struct Entry {
    /// Stable code.
    pub code: &'static str,
    /// English template, `{param}` for variable parts.
    pub en: &'static str,
    /// French template, same parameters.
    pub fr: &'static str,
}

mod catalogue;

pub use catalogue::CATALOGUE;

/// The code of a note no entry recognises.
pub const OTHER: &str = "other";

/// The skip reasons (`fs::SkipReason::as_str`) a `{skip}` parameter may hold: a template with
/// `{skip}` matches only when its value is one of them, and renders it in words.
pub const SKIP_CODES: &[&str] = &[
    "too_large",
    "encrypted",
    "wof_compressed",
    "unsupported_compression",
    "timeout",
    "cancelled",
    "archive_limit",
    "unsupported_archive",
    "archive_error",
];

/// Whether the parameters a template matched are acceptable (see [`SKIP_CODES`]).
fn params_ok(params: &BTreeMap<String, String>) -> bool {
    params
        .get("skip")
        .is_none_or(|v| SKIP_CODES.contains(&v.as_str()))
}

enum Piece<'a> {
    Lit(&'a str),
    Var(&'a str),
}

/// Splits `a {x} b` into literal and variable pieces (a `{` without `}` is literal).
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        if open > 0 {
            out.push(Piece::Lit(&rest[..open]));
        }
        out.push(Piece::Var(&rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    out
}

/// The parameters of `text` if it has the shape of `template` (each variable part non-empty;
/// a literal after a variable is its first occurrence, the last literal ends the text).
fn matches(template: &str, text: &str) -> Option<BTreeMap<String, String>> {
    let ps = pieces(template);
    let mut params = BTreeMap::new();
    let mut pos = 0usize;
    let mut pending: Option<&str> = None;
    for (i, p) in ps.iter().enumerate() {
        let last = i + 1 == ps.len();
        match p {
            Piece::Var(name) => pending = Some(name),
            Piece::Lit(lit) => {
                let rest = text.get(pos..)?;
                let at = match (pending.is_some(), last) {
                    (false, false) => rest.starts_with(lit).then_some(0)?,
                    (false, true) => (rest == *lit).then_some(0)?,
                    (true, false) => rest.find(lit)?,
                    (true, true) => rest.strip_suffix(lit).map(str::len)?,
                };
                if let Some(name) = pending.take() {
                    if at == 0 {
                        return None;
                    }
                    params.insert(name.to_string(), rest[..at].to_string());
                }
                pos += at + lit.len();
            }
        }
    }
    match pending {
        Some(name) => {
            let rest = text.get(pos..)?;
            if rest.is_empty() {
                return None;
            }
            params.insert(name.to_string(), rest.to_string());
        }
        None if pos != text.len() => return None,
        None => {}
    }
    Some(params)
}

/// Fills `{name}` in `template` from `params` (unknown names stay as they are).
fn fill(template: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for p in pieces(template) {
        match p {
            Piece::Lit(l) => out.push_str(l),
            Piece::Var(v) => match params.get(v) {
                Some(x) => out.push_str(x),
                None => {
                    out.push('{');
                    out.push_str(v);
                    out.push('}');
                }
            },
        }
    }
    out
}

fn same_names(template: &str, params: &BTreeMap<String, String>) -> bool {
    let names: Vec<&str> = pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Lit(_) => None,
        })
        .collect();
    names.len() == params.len() && names.iter().all(|n| params.contains_key(*n))
}

impl Note {
    /// The note of an English sentence as the code emits it.
    pub fn classify(text: &str) -> Self {
        for entry in CATALOGUE {
            if let Some(params) = matches(entry.en, text).filter(params_ok) {
                return Self {
                    code: entry.code.to_string(),
                    params,
                    text: text.to_string(),
                };
            }
        }
        Self {
            code: OTHER.to_string(),
            params: BTreeMap::new(),
            text: text.to_string(),
        }
    }

    /// The notes of a record's `notes`.
    pub fn classify_all(texts: &[String]) -> Vec<Self> {
        texts.iter().map(|t| Self::classify(t)).collect()
    }

    /// The note in words, from its code and parameters (its text when the code is unknown).
    pub fn render(&self, lang: Lang) -> String {
        CATALOGUE
            .iter()
            .find(|e| e.code == self.code && same_names(e.en, &self.params))
            .map(|e| {
                let (template, params) = match lang {
                    Lang::Fr => (e.fr, in_words(lang, &self.params)),
                    Lang::En => (e.en, self.params.clone()),
                };
                fill(template, &params)
            })
            .unwrap_or_else(|| self.text.clone())
    }
}

/// Parameters whose values are codes, in words (`{skip}`); the others as they are.
fn in_words(lang: Lang, params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut p = params.clone();
    if let Some(v) = p.get_mut("skip") {
        *v = super::skip_reason(lang, v).into_owned();
    }
    p
}

/// A record's note text in `lang` (classify, then render).
pub fn render_text(lang: Lang, text: &str) -> String {
    Note::classify(text).render(lang)
}

/// Example parameters for an entry's template (tests, snapshots).
pub fn example(entry: &Entry) -> String {
    let mut params = BTreeMap::new();
    for p in pieces(entry.en) {
        if let Piece::Var(v) = p {
            let value = match v {
                "path" => "/Windows/System32/config/SAM".to_string(),
                "error" => "I/O error: Input/output error (os error 5)".to_string(),
                "why" => "primary GPT header CRC mismatch".to_string(),
                "skip" => "encrypted".to_string(),
                other => format!("{}", other.len() * 7 + 1),
            };
            params.insert(v.to_string(), value);
        }
    }
    fill(entry.en, &params)
}

#[cfg(test)]
mod tests;
