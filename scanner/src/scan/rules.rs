//! Loading YARA rules: the embedded defaults, a source file, a directory of sources, or a set
//! compiled ahead of time by yara-x.
//!
//! Rules are compiled once and shared by every worker thread (`yara_x::Rules` is `Sync`).
//! [`RuleSet::load`], which also opens signed bundles, lives above this module and
//! [`crate::bundle`] both, in `bundle::load`.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The default rule sources, embedded in the binary so that `scanner scan` works anywhere.
/// Namespace = path under `rules/` without `.yar`.
pub const DEFAULT_SOURCES: &[(&str, &str)] = &[
    ("test/eicar", include_str!("../../../rules/test/eicar.yar")),
    (
        "ransomware/wannacry",
        include_str!("../../../rules/ransomware/wannacry.yar"),
    ),
    (
        "ransomware/notpetya",
        include_str!("../../../rules/ransomware/notpetya.yar"),
    ),
    (
        "ransomware/ryuk",
        include_str!("../../../rules/ransomware/ryuk.yar"),
    ),
    (
        "ransomware/conti",
        include_str!("../../../rules/ransomware/conti.yar"),
    ),
    (
        "ransomware/lockbit",
        include_str!("../../../rules/ransomware/lockbit.yar"),
    ),
    (
        "ransomware/blackcat",
        include_str!("../../../rules/ransomware/blackcat.yar"),
    ),
    (
        "loaders/emotet",
        include_str!("../../../rules/loaders/emotet.yar"),
    ),
    (
        "loaders/trickbot",
        include_str!("../../../rules/loaders/trickbot.yar"),
    ),
    (
        "loaders/qakbot",
        include_str!("../../../rules/loaders/qakbot.yar"),
    ),
    (
        "offensive/cobaltstrike",
        include_str!("../../../rules/offensive/cobaltstrike.yar"),
    ),
    (
        "credentials/mimikatz",
        include_str!("../../../rules/credentials/mimikatz.yar"),
    ),
    (
        "credentials/dumpers",
        include_str!("../../../rules/credentials/dumpers.yar"),
    ),
    (
        "webshells/webshells",
        include_str!("../../../rules/webshells/webshells.yar"),
    ),
    (
        "medical/dicom_polyglot",
        include_str!("../../../rules/medical/dicom_polyglot.yar"),
    ),
];

/// The default SHA-256 IOC lists (list name, text).
pub const DEFAULT_IOCS: &[(&str, &str)] = &[(
    "ransomware.sha256",
    include_str!("../../../rules/iocs/ransomware.sha256"),
)];

/// Upper bound on the rule files read from one directory (a runaway tree is an error).
pub(crate) const MAX_RULE_FILES: usize = 100_000;

/// LOKI/THOR external variables: defined (empty) at compile time, set per scanned file.
pub const EXTERNAL_VARS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// What a signed bundle says about the rules it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// Manifest version.
    pub version: String,
    /// Manifest creation time.
    pub created: String,
    /// SHA-256 of the bundle file.
    pub sha256: String,
}

/// A compiled rule set and what identifies it in a record.
pub struct RuleSet {
    /// Compiled rules.
    pub rules: yara_x::Rules,
    /// Where they came from (`embedded defaults`, a path).
    pub origin: String,
    /// SHA-256 over the sources (or the compiled file), in a stable order.
    pub sha256: String,
    /// Number of source files (or 1 for a compiled file).
    pub files: usize,
    /// Set when the rules came from a bundle.
    pub bundle: Option<BundleInfo>,
    /// Indicators that came with the rules (a bundle's IOC lists).
    pub iocs: super::iocs::HashIocs,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("origin", &self.origin)
            .field("rules", &self.rules.iter().len())
            .finish()
    }
}

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A file or directory could not be read.
    #[error("cannot read rules from {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A source did not compile.
    #[error("rules in {origin} do not compile: {message}")]
    Compile {
        /// File (or namespace) at fault.
        origin: String,
        /// yara-x's message.
        message: String,
    },
    /// A compiled file could not be loaded (other yara-x version, corrupt).
    #[error("cannot load compiled rules {path}: {message}")]
    Deserialize {
        /// The path.
        path: PathBuf,
        /// yara-x's message.
        message: String,
    },
    /// No rule file was found.
    #[error("no .yar or .yara file under {0}")]
    Empty(PathBuf),
    /// Too many files.
    #[error("more than {MAX_RULE_FILES} rule files under {0}")]
    TooMany(PathBuf),
}

impl RuleSet {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.iter().len()
    }

    /// Whether the set has no rule.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What identifies this set in records and on the welcome screen.
    pub fn info(&self) -> crate::record::RulesInfo {
        let b = self.bundle.as_ref();
        crate::record::RulesInfo {
            origin: self.origin.clone(),
            version: b.map_or_else(|| "source".into(), |b| b.version.clone()),
            created: b.map(|b| b.created.clone()),
            sha256: self.sha256.clone(),
            rules: self.len(),
            iocs: self.iocs.len(),
        }
    }

    /// Rules that came out of a verified bundle.
    pub fn from_bundle(
        rules: yara_x::Rules,
        origin: &str,
        info: BundleInfo,
        iocs: super::iocs::HashIocs,
        files: usize,
    ) -> Self {
        Self {
            rules,
            origin: origin.to_string(),
            sha256: info.sha256.clone(),
            files,
            bundle: Some(info),
            iocs,
        }
    }

    /// The embedded default rules.
    pub fn defaults() -> Result<Self, RulesError> {
        let sources: Vec<(String, Vec<u8>)> = DEFAULT_SOURCES
            .iter()
            .map(|(ns, src)| ((*ns).to_string(), src.as_bytes().to_vec()))
            .collect();
        let mut set = compile_sources("embedded defaults", &sources)?;
        for (list, text) in DEFAULT_IOCS {
            // Checked by the default_rules tests; a bad line cannot ship.
            let _ = set.iocs.load_str(text, list);
        }
        Ok(set)
    }
}

/// A compiler with Vigie's settings: relaxed regexp syntax (must be set before the first
/// source: rule sets written for libyara use escapes yara-x's strict syntax refuses) and the
/// LOKI/THOR external variables defined.
pub fn new_compiler<'a>() -> yara_x::Compiler<'a> {
    let mut compiler = yara_x::Compiler::new();
    compiler.relaxed_re_syntax(true);
    for v in EXTERNAL_VARS {
        // Cannot fail: fresh compiler, valid identifiers, distinct names.
        let _ = compiler.define_global(v, "");
    }
    compiler
}

/// Compiles `sources`; the first error fails the whole set (Vigie's own rules).
pub fn compile_sources(origin: &str, sources: &[(String, Vec<u8>)]) -> Result<RuleSet, RulesError> {
    let mut compiler = new_compiler();
    for (ns, bytes) in sources {
        let text = String::from_utf8_lossy(bytes);
        compiler.new_namespace(ns);
        compiler
            .add_source(yara_x::SourceCode::from(text.as_ref()).with_origin(ns.as_str()))
            .map_err(|e| RulesError::Compile {
                origin: ns.clone(),
                message: e.to_string(),
            })?;
    }
    Ok(from_sources(compiler.build(), origin, sources))
}

/// A rule set compiled from `sources`, identified by the SHA-256 over each namespace, a NUL
/// and its bytes, in order.
fn from_sources(rules: yara_x::Rules, origin: &str, sources: &[(String, Vec<u8>)]) -> RuleSet {
    let mut hasher = Sha256::new();
    for (ns, bytes) in sources {
        hasher.update(ns.as_bytes());
        hasher.update([0]);
        hasher.update(bytes);
    }
    RuleSet {
        rules,
        origin: origin.to_string(),
        sha256: hex(&hasher.finalize()),
        files: sources.len(),
        bundle: None,
        iocs: Default::default(),
    }
}

/// Imports in `text` that this yara-x does not know.
fn unknown_imports(text: &str) -> Vec<String> {
    let known: Vec<&str> = yara_x::mods::module_names().collect();
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if let Some(rest) = l.strip_prefix("import") {
            let name = rest.trim().trim_matches('"');
            if !name.is_empty() && !known.contains(&name) && !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Rough count of rule declarations in a source (for `kept/total` of files that do not
/// parse at all).
pub fn count_declared_rules(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            let mut first = w.next();
            while matches!(first, Some("private" | "global")) {
                first = w.next();
            }
            first == Some("rule") && w.next().is_some()
        })
        .count()
}

/// What `check` found in one file.
#[derive(Debug, Clone, Default)]
pub struct FileCheck {
    /// Relative path (the namespace).
    pub path: String,
    /// Rules declared.
    pub total: usize,
    /// Rules compiled.
    pub kept: usize,
    /// Compile errors (first lines).
    pub errors: Vec<String>,
}

/// Result of [`check_sources`].
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Per file.
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// Rules kept.
    pub fn kept(&self) -> usize {
        self.files.iter().map(|f| f.kept).sum()
    }
    /// Rules declared.
    pub fn total(&self) -> usize {
        self.files.iter().map(|f| f.total).sum()
    }
}

fn add_lenient(compiler: &mut yara_x::Compiler<'_>, ns: &str, text: &str) -> Vec<String> {
    for m in unknown_imports(text) {
        compiler.ignore_module(m);
    }
    let before = compiler.errors().len();
    compiler.new_namespace(ns);
    let _ = compiler.add_source(yara_x::SourceCode::from(text).with_origin(ns));
    compiler.errors()[before..]
        .iter()
        .map(|e| e.to_string().lines().next().unwrap_or("").to_string())
        .collect()
}

/// Compiles third-party sources with the compatibility settings, keeping every rule that
/// compiles; never fails.
pub fn compile_lenient(origin: &str, sources: &[(String, Vec<u8>)]) -> RuleSet {
    let mut compiler = new_compiler();
    for (ns, bytes) in sources {
        add_lenient(&mut compiler, ns, &String::from_utf8_lossy(bytes));
    }
    from_sources(compiler.build(), origin, sources)
}

/// Compiles each file on its own (so errors are attributed) and reports what was kept.
pub fn check_sources(sources: &[(String, Vec<u8>)]) -> CheckReport {
    let mut report = CheckReport::default();
    for (ns, bytes) in sources {
        let text = String::from_utf8_lossy(bytes);
        let mut compiler = new_compiler();
        let mut errors = add_lenient(&mut compiler, ns, &text);
        let mut ignored = 0;
        for (rule, reason) in compiler.ignored_rules() {
            ignored += 1;
            match reason {
                yara_x::IgnoredRuleReason::IgnoredModule(m) => {
                    errors.push(format!("rule {rule} dropped: uses unknown module `{m}`"));
                }
                yara_x::IgnoredRuleReason::IgnoredRule(r) => {
                    errors.push(format!("rule {rule} dropped: depends on dropped rule {r}"));
                }
                yara_x::IgnoredRuleReason::CompileError(_) => {}
            }
        }
        let kept = compiler.build().iter().len();
        // A file that does not parse has no compiled or ignored rule: count its declarations
        // (declarations inside comments are counted too, a small over-estimate).
        let total = if errors.is_empty() {
            kept
        } else {
            (kept + ignored).max(count_declared_rules(&text))
        };
        report.files.push(FileCheck {
            path: ns.clone(),
            total,
            kept,
            errors,
        });
    }
    report
}

/// Number of rules per namespace.
pub fn rules_per_namespace(rules: &yara_x::Rules) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for r in rules.iter() {
        match out.iter_mut().find(|(n, _)| n == r.namespace()) {
            Some((_, c)) => *c += 1,
            None => out.push((r.namespace().to_string(), 1)),
        }
    }
    out
}

pub use crate::hex::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_compile_and_name_eicar() {
        let set = RuleSet::defaults().unwrap();
        assert!(set
            .rules
            .iter()
            .any(|r| r.identifier() == "EICAR_Test_File"));
        assert_eq!(set.sha256.len(), 64);
    }

    #[test]
    fn directory_and_compiled_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("a.yar"),
            "rule a { strings: $ = \"alpha\" condition: all of them }",
        )
        .unwrap();
        std::fs::write(dir.path().join("sub/b.yara"), "rule b { condition: true }").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
        let set = RuleSet::load(dir.path()).unwrap();
        assert_eq!((set.files, set.len()), (2, 2));
        let compiled = dir.path().join("rules.yarc");
        std::fs::write(&compiled, set.rules.serialize().unwrap()).unwrap();
        let again = RuleSet::load(&compiled).unwrap();
        assert_eq!(again.len(), 2);
    }

    #[test]
    fn compile_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yar"), "rule { }").unwrap();
        let err = RuleSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.yar"), "{err}");
        assert!(matches!(
            RuleSet::load(&dir.path().join("missing.yar")),
            Err(RulesError::Io { .. })
        ));
    }
}
