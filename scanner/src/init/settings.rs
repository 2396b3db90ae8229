//! Stick settings in `VIGIE/settings.txt` on the log partition: `key=value` lines with the
//! same keys as the kernel command line without `vigie.` (`auto=1`, `site=Nantes CHU`,
//! `pseudonymise=1`, ...); `#` starts a comment. The kernel command line wins: the settings
//! are turned into `vigie.` words placed *before* the command line, and the parser keeps the
//! last value of a key.

use super::cmdline::Cmdline;

/// Where the settings file lives on the log partition.
pub const SETTINGS_FILE: &str = "VIGIE/settings.txt";
/// Larger files are ignored (hostile or mistaken content).
pub const MAX_SIZE: usize = 64 * 1024;

/// `vigie.key="value"` words from the settings text (bounded; malformed lines skipped).
pub fn to_words(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.trim_start_matches('\u{feff}').lines().take(1000) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line, None),
        };
        let k = k.strip_prefix("vigie.").unwrap_or(k);
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        match v {
            Some(v) => out.push(format!("vigie.{k}=\"{}\"", v.replace('"', ""))),
            None => out.push(format!("vigie.{k}")),
        }
    }
    out.join(" ")
}

/// The options from the settings file and the command line, the command line winning.
pub fn merge(settings: &str, cmdline: &str) -> Cmdline {
    Cmdline::parse(&format!("{} {cmdline}", to_words(settings)))
}

/// Reads the settings file from the log partition device (read-only, bounded); `""` if none.
pub fn read(dev: &std::path::Path) -> String {
    let Ok(f) = std::fs::File::open(dev) else {
        return String::new();
    };
    let Ok(mut vol) = super::fatlog::Vol::open_read_only(f) else {
        return String::new();
    };
    let Ok(Some(dir)) = vol.find_dir("VIGIE") else {
        return String::new();
    };
    match vol.find(dir, "settings.txt") {
        Ok(Some(e)) if (e.size as usize) <= MAX_SIZE && !e.is_dir() => vol
            .read_file(&e)
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_apply_and_the_command_line_wins() {
        let s = "\u{feff}# stick settings\r\nauto=1\r\nsite = CHU Nantes\r\npseudonymise=1\r\nthreads=2\r\nbad key=1\r\n";
        let c = merge(s, "console=ttyS0 vigie.threads=4");
        assert!(c.auto && c.pseudonymise);
        assert_eq!(c.threads, 4);
        assert_eq!(c.site.as_deref(), Some("CHU Nantes"));
        let c = merge(s, "vigie.auto=0 vigie.site=Lyon");
        assert!(!c.auto);
        assert_eq!(c.site.as_deref(), Some("Lyon"));
        assert!(!merge("", "").pseudonymise);
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    /// The settings file is read from a log partition image (read-only: the image is unchanged).
    #[test]
    fn reads_the_settings_file_from_the_log_partition() {
        let Some(img) = crate::init::logpart::save_tests::blank_partition(40) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.img");
        std::fs::write(&p, &img).unwrap();
        let txt = dir.path().join("settings.txt");
        std::fs::write(&txt, "site=CHU Nantes\r\npseudonymise=1\r\n").unwrap();
        let ok = std::process::Command::new("mcopy")
            .arg("-i")
            .arg(&p)
            .arg(&txt)
            .arg("::/VIGIE/settings.txt")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return;
        }
        let before = std::fs::read(&p).unwrap();
        let text = read(&p);
        assert_eq!(std::fs::read(&p).unwrap(), before);
        let c = merge(&text, "vigie.auto=1");
        assert_eq!(c.site.as_deref(), Some("CHU Nantes"));
        assert!(c.pseudonymise && c.auto);
        assert_eq!(read(&dir.path().join("missing.img")), "");
    }
}
