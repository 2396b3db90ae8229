//! Reads a kernel module's `.modinfo` ELF section (`depends=`, `alias=`, `softdep=`), so the
//! module closure and the modalias table come from the modules themselves: Debian's kernel
//! package ships no `modules.dep` / `modules.alias`.

use anyhow::{bail, Context, Result};

/// What we need from one module's `.modinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// Hard dependencies (module names, `-` normalised to `_`).
    pub depends: Vec<String>,
    /// Modalias patterns the module handles.
    pub aliases: Vec<String>,
    /// `softdep=pre:` modules (loaded first when present).
    pub softdep_pre: Vec<String>,
}

/// Module names use `-` and `_` interchangeably; the kernel normalises to `_`.
pub fn normalise(name: &str) -> String {
    name.replace('-', "_")
}

fn u16_at(b: &[u8], o: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(
        b.get(o..o + 2).context("ELF truncated")?.try_into()?,
    ))
}
fn u32_at(b: &[u8], o: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(
        b.get(o..o + 4).context("ELF truncated")?.try_into()?,
    ))
}
fn u64_at(b: &[u8], o: usize) -> Result<usize> {
    let v = u64::from_le_bytes(b.get(o..o + 8).context("ELF truncated")?.try_into()?);
    usize::try_from(v).context("ELF offset too large")
}

/// Returns the bytes of the section called `want` of a little-endian ELF64 file.
pub fn elf_section<'a>(elf: &'a [u8], want: &str) -> Result<Option<&'a [u8]>> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        bail!("not a little-endian ELF64 file");
    }
    let shoff = u64_at(elf, 0x28)?;
    let shentsize = usize::from(u16_at(elf, 0x3A)?);
    let shnum = usize::from(u16_at(elf, 0x3C)?);
    let shstrndx = usize::from(u16_at(elf, 0x3E)?);
    let sh = |i: usize| -> Result<(u32, usize, usize)> {
        let base = shoff + i * shentsize;
        Ok((
            u32_at(elf, base)?,
            u64_at(elf, base + 0x18)?,
            u64_at(elf, base + 0x20)?,
        ))
    };
    let (_, stroff, strsize) = sh(shstrndx)?;
    let strtab = elf
        .get(stroff..stroff + strsize)
        .context("bad section name table")?;
    for i in 0..shnum {
        let (name, off, size) = sh(i)?;
        let name = strtab.get(name as usize..).context("bad section name")?;
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        if &name[..end] == want.as_bytes() {
            return Ok(Some(
                elf.get(off..off + size)
                    .context("section outside the file")?,
            ));
        }
    }
    Ok(None)
}

/// Parses the NUL-separated `key=value` strings of a `.modinfo` section.
pub fn parse_modinfo(section: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    for kv in section.split(|&c| c == 0) {
        let Ok(kv) = std::str::from_utf8(kv) else {
            continue;
        };
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        match k {
            "depends" => info
                .depends
                .extend(v.split(',').filter(|s| !s.is_empty()).map(normalise)),
            "alias" => info.aliases.push(v.to_string()),
            "softdep" => {
                let mut pre = false;
                for word in v.split_whitespace() {
                    match word {
                        "pre:" => pre = true,
                        "post:" => pre = false,
                        m if pre => info.softdep_pre.push(normalise(m)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// Reads the `.modinfo` of a module file's bytes.
pub fn read_modinfo(elf: &[u8]) -> Result<ModInfo> {
    Ok(elf_section(elf, ".modinfo")?
        .map(parse_modinfo)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys() {
        let s = b"license=GPL\0depends=libahci,libata\0alias=pci:v*d*sv*sd*bc01sc06i01*\0softdep=pre: crc32c post: foo\0name=ahci\0";
        let i = parse_modinfo(s);
        assert_eq!(i.depends, ["libahci", "libata"]);
        assert_eq!(i.aliases, ["pci:v*d*sv*sd*bc01sc06i01*"]);
        assert_eq!(i.softdep_pre, ["crc32c"]);
        assert_eq!(parse_modinfo(b"depends=\0").depends, Vec::<String>::new());
        assert_eq!(normalise("usb-storage"), "usb_storage");
    }

    #[test]
    fn rejects_non_elf() {
        assert!(read_modinfo(b"hello").is_err());
    }
}
