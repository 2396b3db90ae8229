//! Picks the kernel modules the stick needs and their dependency closure, and writes the small
//! tables PID 1 uses to load them: `modules.dep` (direct dependencies, soft `pre:` ones first),
//! `modules.alias` (modalias glob -> module) and `modules.load` (always loaded, in order).

use crate::modinfo::{normalise, read_modinfo, ModInfo};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// Modules loaded on every boot (issue 3): storage, USB hosts and storage, MMC, virtio, keyboards.
pub const REQUIRED: &[&str] = &[
    "ahci",
    "ata_piix",
    "nvme",
    "vmd",
    "sd_mod",
    "usb_storage",
    "uas",
    "xhci_pci",
    "xhci_hcd",
    "ehci_pci",
    "ehci_hcd",
    "ohci_pci",
    "ohci_hcd",
    "uhci_hcd",
    "mmc_block",
    "sdhci",
    "sdhci_pci",
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "usbhid",
    "hid_generic",
    "atkbd",
    "efivarfs",
];

/// Whole directories (under `kernel/`) included so that modalias matching can load drivers for
/// older or rarer controllers (PATA, other USB hosts) without listing them one by one.
pub const INCLUDED_DIRS: &[&str] = &["drivers/ata", "drivers/usb/host", "drivers/usb/storage"];

/// One selected module.
#[derive(Debug, Clone)]
pub struct Module {
    /// Normalised name.
    pub name: String,
    /// File in the kernel's module tree.
    pub path: PathBuf,
    /// Its `.modinfo`.
    pub info: ModInfo,
}

/// The resolved set.
#[derive(Debug, Default)]
pub struct Selection {
    /// Selected modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Required names that are built into the kernel (nothing to load).
    pub builtin: Vec<String>,
    /// The required names in load order (those that are modules).
    pub load: Vec<String>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) -> Result<()> {
    if depth > 16 {
        bail!("module tree too deep at {}", dir.display());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(&p, out, depth + 1)?;
        } else if p.extension().is_some_and(|x| x == "ko") {
            out.push(p);
        }
    }
    Ok(())
}

fn module_name(p: &Path) -> String {
    normalise(
        &p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

/// Resolves `required` + every module under `dirs` and the closure of their dependencies.
/// `moddir` is `lib/modules/<version>` (holding `kernel/` and `modules.builtin`).
pub fn select(moddir: &Path, required: &[&str], dirs: &[&str]) -> Result<Selection> {
    let mut files = Vec::new();
    walk(&moddir.join("kernel"), &mut files, 0)?;
    let index: BTreeMap<String, PathBuf> =
        files.iter().map(|p| (module_name(p), p.clone())).collect();
    let builtin: BTreeSet<String> = std::fs::read_to_string(moddir.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .map(|l| module_name(Path::new(l)))
        .collect();

    let mut sel = Selection::default();
    let mut queue: VecDeque<(String, bool)> = VecDeque::new();
    for r in required {
        let r = normalise(r);
        if index.contains_key(&r) {
            sel.load.push(r.clone());
            queue.push_back((r, true));
        } else if builtin.contains(&r) {
            sel.builtin.push(r);
        } else {
            bail!(
                "required module {r} is neither in {} nor built in",
                moddir.display()
            );
        }
    }
    let kernel = moddir.join("kernel");
    for d in dirs {
        for p in files.iter().filter(|p| p.starts_with(kernel.join(d))) {
            queue.push_back((module_name(p), true));
        }
    }
    while let Some((name, hard)) = queue.pop_front() {
        if sel.modules.contains_key(&name) || builtin.contains(&name) {
            continue;
        }
        let Some(path) = index.get(&name) else {
            if hard {
                bail!("module dependency {name} not found");
            }
            continue; // a soft dependency that this kernel does not have
        };
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let info =
            read_modinfo(&bytes).with_context(|| format!("modinfo of {}", path.display()))?;
        queue.extend(info.depends.iter().map(|d| (d.clone(), true)));
        queue.extend(info.softdep_pre.iter().map(|d| (d.clone(), false)));
        sel.modules.insert(
            name.clone(),
            Module {
                name,
                path: path.clone(),
                info,
            },
        );
    }
    Ok(sel)
}

impl Selection {
    /// `name: dep dep` per module, soft `pre:` dependencies that were found listed first.
    pub fn dep_table(&self) -> String {
        let mut s = String::new();
        for m in self.modules.values() {
            let deps: Vec<&str> = m
                .info
                .softdep_pre
                .iter()
                .filter(|d| self.modules.contains_key(*d))
                .chain(m.info.depends.iter())
                .map(String::as_str)
                .collect();
            s.push_str(&format!("{}: {}\n", m.name, deps.join(" ")));
        }
        s
    }

    /// `alias PATTERN module`, sorted.
    pub fn alias_table(&self) -> String {
        let mut lines: Vec<String> = self
            .modules
            .values()
            .flat_map(|m| {
                m.info
                    .aliases
                    .iter()
                    .map(move |a| format!("alias {a} {}\n", m.name))
            })
            .collect();
        lines.sort();
        lines.concat()
    }

    /// The always-loaded modules, one per line, in the order given.
    pub fn load_table(&self) -> String {
        self.load.iter().map(|n| format!("{n}\n")).collect()
    }
}
