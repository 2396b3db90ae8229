//! `vigie-initramfs`: builds the stick's initramfs, a gzip-compressed `newc` cpio holding the
//! static `scanner` as `/init`, the rules, the stick identity and the kernel modules (with their
//! dependency closure and a modalias table). A build tool: never linked into `scanner`.
//!
//! ```text
//! vigie-initramfs --kernel-modules .cache/inputs/root/lib/modules/<ver> \
//!     --init target/x86_64-unknown-linux-musl/release/scanner --rules rules \
//!     [--stick-id ID] -o build/initramfs.img
//! ```
//! Output is reproducible: sorted entries, zeroed owners, mtime from `SOURCE_DATE_EPOCH` (or 0),
//! gzip header without name or time.

mod cpio;
mod modinfo;
mod modules;

use anyhow::{bail, Context, Result};
use cpio::{Archive, Body};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where things live inside the initramfs (PID 1 reads the same paths).
pub mod layout {
    /// Module files and tables.
    pub const MODULES: &str = "lib/modules";
    /// Rules directory.
    pub const RULES: &str = "etc/vigie/rules";
    /// The stick identity file.
    pub const STICK_ID: &str = "etc/vigie/stick-id";
}

/// Everything a build needs.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `lib/modules/<version>` of the extracted kernel package (optional for tests).
    pub kernel_modules: Option<PathBuf>,
    /// The static init binary.
    pub init: PathBuf,
    /// Rules files or directories.
    pub rules: Vec<PathBuf>,
    /// Identity of the stick, checked by PID 1 against the log partition's `VIGIE.ID`.
    pub stick_id: Option<String>,
    /// mtime of every entry.
    pub mtime: u32,
    /// Modules that must be present (with their dependency closure); empty means the stick's
    /// own list, `modules::REQUIRED`. Tests name a synthetic tree's modules here.
    pub required: Vec<String>,
}

fn add_rules(a: &mut Archive, p: &Path) -> Result<()> {
    if p.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(p)?.collect::<std::io::Result<_>>()?;
        files.sort_by_key(|e| e.file_name());
        for e in files.iter().filter(|e| e.path().is_file()) {
            add_rules(a, &e.path())?;
        }
        return Ok(());
    }
    let name = p
        .file_name()
        .context("rules path without a name")?
        .to_string_lossy();
    let data = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    a.add(
        &format!("{}/{name}", layout::RULES),
        0o644,
        Body::File(data),
    );
    Ok(())
}

/// Builds the compressed archive and returns it with a human summary of the parts.
pub fn build(o: &Options) -> Result<(Vec<u8>, Vec<String>)> {
    let mut a = Archive::default();
    let mut report = Vec::new();
    for d in ["dev", "proc", "sys", "tmp", "run"] {
        a.add(d, 0o755, Body::Dir);
    }
    a.add("dev/console", 0o600, Body::CharDev(5, 1));
    let init =
        std::fs::read(&o.init).with_context(|| format!("reading init {}", o.init.display()))?;
    report.push(format!(
        "init      {:>10} bytes  {}",
        init.len(),
        o.init.display()
    ));
    a.add("init", 0o755, Body::File(init));
    for r in &o.rules {
        add_rules(&mut a, r)?;
    }
    if let Some(id) = &o.stick_id {
        a.add(
            layout::STICK_ID,
            0o644,
            Body::File(format!("{id}\n").into_bytes()),
        );
    }
    if let Some(moddir) = &o.kernel_modules {
        let required: Vec<&str> = if o.required.is_empty() {
            modules::REQUIRED.to_vec()
        } else {
            o.required.iter().map(String::as_str).collect()
        };
        let sel = modules::select(moddir, &required, modules::INCLUDED_DIRS)?;
        let mut total = 0usize;
        for m in sel.modules.values() {
            let bytes = std::fs::read(&m.path)?; // byte for byte: the signature stays valid
            total += bytes.len();
            a.add(
                &format!("{}/{}.ko", layout::MODULES, m.name),
                0o644,
                Body::File(bytes),
            );
        }
        a.add(
            &format!("{}/modules.dep", layout::MODULES),
            0o644,
            Body::File(sel.dep_table().into_bytes()),
        );
        a.add(
            &format!("{}/modules.alias", layout::MODULES),
            0o644,
            Body::File(sel.alias_table().into_bytes()),
        );
        a.add(
            &format!("{}/modules.load", layout::MODULES),
            0o644,
            Body::File(sel.load_table().into_bytes()),
        );
        report.push(format!(
            "modules   {:>10} bytes  {} modules (built in: {})",
            total,
            sel.modules.len(),
            sel.builtin.join(" ")
        ));
    }
    let raw = a.to_newc(o.mtime);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(&raw)?;
    let out = gz.finish()?;
    report.push(format!(
        "cpio      {:>10} bytes  {} entries, gzip -> {} bytes",
        raw.len(),
        a.len(),
        out.len()
    ));
    Ok((out, report))
}

fn main() -> Result<()> {
    let mut o = Options::default();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--kernel-modules" => o.kernel_modules = Some(val()?.into()),
            "--init" => o.init = val()?.into(),
            "--rules" => o.rules.push(val()?.into()),
            "--stick-id" => o.stick_id = Some(val()?),
            "-o" | "--output" => out = Some(PathBuf::from(val()?)),
            "-h" | "--help" => {
                println!("vigie-initramfs --kernel-modules DIR --init PATH --rules PATH [--stick-id ID] -o OUT");
                return Ok(());
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let out = out.context("-o OUT is required")?;
    if o.init.as_os_str().is_empty() {
        bail!("--init PATH is required");
    }
    o.mtime = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s
            .trim()
            .parse()
            .context("SOURCE_DATE_EPOCH is not a number")?,
        Err(_) => 0,
    };
    let (bytes, report) = build(&o)?;
    for l in report {
        println!("initramfs: {l}");
    }
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &out)?;
    println!("initramfs: wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A minimal ELF64 with a `.modinfo` section, enough for the module resolver.
    fn fake_ko(modinfo: &[u8]) -> Vec<u8> {
        let shstr = b"\0.shstrtab\0.modinfo\0";
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let shstr_off = f.len();
        f.extend_from_slice(shstr);
        let mi_off = f.len();
        f.extend_from_slice(modinfo);
        while !f.len().is_multiple_of(8) {
            f.push(0);
        }
        let shoff = f.len();
        let sect = |name: u32, off: usize, size: usize| {
            let mut s = vec![0u8; 64];
            s[..4].copy_from_slice(&name.to_le_bytes());
            s[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            s[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            s
        };
        f.extend(sect(0, 0, 0));
        f.extend(sect(1, shstr_off, shstr.len()));
        f.extend(sect(11, mi_off, modinfo.len()));
        f[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
        f[0x3C..0x3E].copy_from_slice(&3u16.to_le_bytes());
        f[0x3E..0x40].copy_from_slice(&1u16.to_le_bytes());
        f
    }

    fn fixture(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("vigie-initramfs-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let k = d.join("mods/kernel/drivers/ata");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::create_dir_all(d.join("mods/kernel/lib")).unwrap();
        std::fs::write(
            k.join("ahci.ko"),
            fake_ko(b"depends=libahci\0alias=pci:v*d*sv*sd*bc01sc06i01*\0"),
        )
        .unwrap();
        std::fs::write(k.join("libahci.ko"), fake_ko(b"depends=libata\0")).unwrap();
        std::fs::write(
            k.join("libata.ko"),
            fake_ko(b"depends=\0softdep=pre: crc-x nothere\0"),
        )
        .unwrap();
        std::fs::write(d.join("mods/kernel/lib/crc-x.ko"), fake_ko(b"depends=\0")).unwrap();
        std::fs::write(d.join("mods/kernel/lib/unused.ko"), fake_ko(b"depends=\0")).unwrap();
        std::fs::write(
            d.join("mods/modules.builtin"),
            "kernel/drivers/input/keyboard/atkbd.ko\n",
        )
        .unwrap();
        std::fs::write(d.join("init"), b"\x7fELF fake init").unwrap();
        std::fs::create_dir_all(d.join("rules")).unwrap();
        std::fs::write(d.join("rules/a.yar"), b"rule a { condition: true }").unwrap();
        d
    }

    fn unpack(gz: &[u8]) -> Vec<cpio::Entry> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        cpio::parse(&raw).unwrap()
    }

    #[test]
    fn closure_tables_and_reproducible_bytes() {
        let d = fixture("repro");
        let sel = modules::select(&d.join("mods"), &["ahci", "atkbd"], &[]).unwrap();
        assert_eq!(
            sel.modules.keys().collect::<Vec<_>>(),
            ["ahci", "crc_x", "libahci", "libata"]
        );
        assert_eq!(sel.builtin, ["atkbd"]);
        assert_eq!(
            sel.dep_table(),
            "ahci: libahci\ncrc_x: \nlibahci: libata\nlibata: crc_x\n"
        );
        assert_eq!(sel.alias_table(), "alias pci:v*d*sv*sd*bc01sc06i01* ahci\n");
        assert!(modules::select(&d.join("mods"), &["missing"], &[]).is_err());

        let o = Options {
            kernel_modules: None,
            init: d.join("init"),
            rules: vec![d.join("rules")],
            stick_id: Some("abc".into()),
            mtime: 0,
            required: Vec::new(),
        };
        let (one, _) = build(&o).unwrap();
        let (two, _) = build(&o).unwrap();
        assert_eq!(one, two, "same inputs must give the same bytes");
        let e = unpack(&one);
        let init = e.iter().find(|e| e.path == "init").unwrap();
        assert_eq!(init.body, Body::File(b"\x7fELF fake init".to_vec()));
        assert_eq!(init.perm, 0o755);
        assert!(e.iter().any(|e| e.path == "etc/vigie/rules/a.yar"));
        assert!(e
            .iter()
            .any(|e| e.path == "etc/vigie/stick-id" && e.body == Body::File(b"abc\n".to_vec())));
        assert!(e
            .iter()
            .any(|e| e.path == "dev/console" && e.body == Body::CharDev(5, 1)));
        let mut sorted: Vec<_> = e.iter().map(|e| e.path.clone()).collect();
        sorted.sort();
        assert_eq!(sorted, e.iter().map(|e| e.path.clone()).collect::<Vec<_>>());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn modules_copied_byte_for_byte_from_a_real_tree_when_present() {
        // Uses the fetched Debian kernel if scripts/fetch-inputs ran; otherwise the synthetic one.
        let d = fixture("bytes");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/inputs/root/lib/modules");
        let real = std::fs::read_dir(&root)
            .ok()
            .and_then(|mut r| r.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        let (moddir, required): (PathBuf, Vec<&str>) = match &real {
            Some(p) => (p.clone(), modules::REQUIRED.to_vec()),
            None => (d.join("mods"), vec!["ahci"]),
        };
        let sel = modules::select(&moddir, &required, &[]).unwrap();
        let o = Options {
            kernel_modules: Some(moddir.clone()),
            init: d.join("init"),
            required: if real.is_some() {
                Vec::new()
            } else {
                vec!["ahci".into()]
            },
            ..Default::default()
        };
        let (gz, _) = build(&o).unwrap();
        let e = unpack(&gz);
        for m in sel.modules.values() {
            let want = std::fs::read(&m.path).unwrap();
            let got = e
                .iter()
                .find(|e| e.path == format!("lib/modules/{}.ko", m.name))
                .unwrap();
            assert_eq!(got.body, Body::File(want), "{} altered", m.name);
        }
        if real.is_some() {
            for r in [
                "ahci",
                "sd_mod",
                "usb_storage",
                "virtio_blk",
                "libata",
                "scsi_mod",
                "usbcore",
            ] {
                assert!(sel.modules.contains_key(r), "{r} missing from the closure");
            }
            let alias = String::from_utf8(
                match &e
                    .iter()
                    .find(|e| e.path == "lib/modules/modules.alias")
                    .unwrap()
                    .body
                {
                    Body::File(b) => b.clone(),
                    _ => panic!(),
                },
            )
            .unwrap();
            assert!(alias.contains(" ahci\n") && alias.contains(" virtio_blk\n"));
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
