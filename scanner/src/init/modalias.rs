//! Kernel module loading for PID 1: the tables written by `vigie-initramfs`
//! (`modules.dep`, `modules.alias`, `modules.load`), the modalias glob matcher, and the loader
//! that calls `finit_module` on the byte-for-byte (signed) module files, dependencies first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Matches `text` against a modalias pattern with `fnmatch` semantics: `*`, `?`, `[set]`,
/// `[a-z]`, `[!set]`. Iterative (no recursion), linear in practice.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches one char against the class starting at `p[start] == '['`; returns whether it
/// matched and the index after `]`, or `None` if the class is not closed.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// The module tables of the initramfs.
#[derive(Debug, Default, Clone)]
pub struct ModuleDb {
    /// Directory holding `<name>.ko` and the tables.
    pub dir: PathBuf,
    /// Direct dependencies per module.
    pub deps: BTreeMap<String, Vec<String>>,
    /// (pattern, module) pairs.
    pub aliases: Vec<(String, String)>,
    /// Modules to load on every boot, in order.
    pub always: Vec<String>,
}

impl ModuleDb {
    /// Parses the three tables' text.
    pub fn parse(dir: &Path, dep: &str, alias: &str, load: &str) -> Self {
        let deps = dep
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, d)| {
                (
                    n.trim().to_string(),
                    d.split_whitespace().map(str::to_string).collect(),
                )
            })
            .collect();
        let aliases = alias
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("alias")).then_some(())?;
                Some((w.next()?.to_string(), w.next()?.to_string()))
            })
            .collect();
        let always = load
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Self {
            dir: dir.to_path_buf(),
            deps,
            aliases,
            always,
        }
    }

    /// Reads the tables from `dir` (missing files give empty tables).
    pub fn load(dir: &Path) -> Self {
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
        Self::parse(
            dir,
            &read("modules.dep"),
            &read("modules.alias"),
            &read("modules.load"),
        )
    }

    /// Modules whose alias pattern matches one of `modaliases`, sorted, deduplicated.
    pub fn matches<'a>(&self, modaliases: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in modaliases {
            for (pat, module) in &self.aliases {
                if glob_match(pat, m) {
                    out.insert(module.clone());
                }
            }
        }
        out
    }

    /// The load order for `name`: dependencies first (depth-first, each once), `name` last.
    /// Names without a table entry (built into the kernel) are left out.
    pub fn load_order(&self, name: &str, done: &BTreeSet<String>) -> Vec<String> {
        fn visit(
            db: &ModuleDb,
            n: &str,
            done: &BTreeSet<String>,
            seen: &mut BTreeSet<String>,
            out: &mut Vec<String>,
            depth: u32,
        ) {
            if depth > 32 || done.contains(n) || !seen.insert(n.to_string()) {
                return;
            }
            let Some(deps) = db.deps.get(n) else { return };
            for d in deps {
                visit(db, d, done, seen, out, depth + 1);
            }
            out.push(n.to_string());
        }
        let mut out = Vec::new();
        visit(self, name, done, &mut BTreeSet::new(), &mut out, 0);
        out
    }
}

/// Loads modules with `finit_module`, remembering what is loaded.
#[derive(Debug, Default)]
pub struct Loader {
    /// Modules loaded (or found already loaded).
    pub loaded: BTreeSet<String>,
    /// Modules that failed, with the error.
    pub failed: BTreeMap<String, String>,
}

impl Loader {
    /// Loads `name` and its dependencies; returns how many modules were newly loaded.
    pub fn load(&mut self, db: &ModuleDb, name: &str, debug: bool) -> usize {
        let mut n = 0;
        for m in db.load_order(name, &self.loaded) {
            if self.failed.contains_key(&m) {
                continue;
            }
            match finit(&db.dir.join(format!("{m}.ko"))) {
                Ok(()) => {
                    n += 1;
                    if debug {
                        super::say(&format!("  module {m} loaded"));
                    }
                    self.loaded.insert(m);
                }
                Err(nix::errno::Errno::EEXIST) => {
                    self.loaded.insert(m);
                }
                Err(e) => {
                    if debug {
                        super::say(&format!("  module {m}: {e}"));
                    }
                    self.failed.insert(m, e.to_string());
                }
            }
        }
        n
    }
}

fn finit(path: &Path) -> nix::Result<()> {
    let f = std::fs::File::open(path)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    nix::kmod::finit_module(&f, c"", nix::kmod::ModuleInitFlags::empty())
}

/// The modalias strings of the devices present (`/sys/bus/*/devices/*/modalias`).
pub fn present_modaliases() -> Vec<String> {
    let mut out = Vec::new();
    let Ok(buses) = std::fs::read_dir("/sys/bus") else {
        return out;
    };
    for bus in buses.flatten().take(256) {
        let Ok(devs) = std::fs::read_dir(bus.path().join("devices")) else {
            continue;
        };
        for d in devs.flatten().take(4096) {
            if let Ok(s) = std::fs::read_to_string(d.path().join("modalias")) {
                let s = s.trim();
                if !s.is_empty() {
                    out.push(s.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_real_aliases() {
        let ahci = "pci:v*d*sv*sd*bc01sc06i01*";
        assert!(glob_match(
            ahci,
            "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"
        ));
        assert!(!glob_match(
            ahci,
            "pci:v00008086d00002922sv00001AF4sd00001100bc01sc01i80"
        ));
        assert!(glob_match(
            "virtio:d00000002v*",
            "virtio:d00000002v00001AF4"
        ));
        assert!(!glob_match(
            "virtio:d00000002v*",
            "virtio:d00000001v00001AF4"
        ));
        assert!(glob_match(
            "usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*",
            "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00"
        ));
        assert!(glob_match("scsi:t-0x00*", "scsi:t-0x00"));
        assert!(glob_match("a?c", "abc") && !glob_match("a?c", "ac"));
        assert!(glob_match("x[0-9]y", "x5y") && !glob_match("x[0-9]y", "xay"));
        assert!(glob_match("x[!0-9]y", "xay") && !glob_match("x[!0-9]y", "x5y"));
        assert!(glob_match("*", "") && glob_match("", "") && !glob_match("", "a"));
        assert!(glob_match("a*b*c", "aXXbYYc") && !glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("x[", "x[")); // an unclosed class is a literal
    }

    #[test]
    fn tables_and_dependency_order() {
        let db = ModuleDb::parse(
            Path::new("/lib/modules"),
            "ahci: libahci\nlibahci: libata\nlibata: crc_x\ncrc_x: \nvirtio_blk: virtio virtio_ring\nvirtio: \nvirtio_ring: \n",
            "alias pci:v*d*sv*sd*bc01sc06i01* ahci\nalias virtio:d00000002v* virtio_blk\ngarbage\n",
            "ahci\n\nvirtio_blk\n",
        );
        assert_eq!(db.always, ["ahci", "virtio_blk"]);
        assert_eq!(
            db.load_order("ahci", &BTreeSet::new()),
            ["crc_x", "libata", "libahci", "ahci"]
        );
        let done: BTreeSet<String> = ["libata".to_string()].into();
        assert_eq!(db.load_order("ahci", &done), ["libahci", "ahci"]);
        assert_eq!(
            db.load_order("builtin_thing", &BTreeSet::new()),
            Vec::<String>::new()
        );
        let m = db.matches([
            "virtio:d00000002v00001AF4",
            "pci:v00008086d00002922sv0sd0bc01sc06i01",
            "usb:nothing",
        ]);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), ["ahci", "virtio_blk"]);
    }

    #[test]
    fn dependency_cycles_terminate() {
        let db = ModuleDb::parse(Path::new("/"), "a: b\nb: a\n", "", "");
        assert_eq!(db.load_order("a", &BTreeSet::new()), ["b", "a"]);
    }
}
