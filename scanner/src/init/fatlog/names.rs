//! Short (8.3) names and long-name checksums of new directory entries.

/// Checksum of a short name, stored in its long-name entries.
pub fn sfn_checksum(s: &[u8; 11]) -> u8 {
    s.iter()
        .fold(0u8, |sum, &c| (sum >> 1 | (sum & 1) << 7).wrapping_add(c))
}

pub(super) fn short_display(s: &[u8; 11], case: u8) -> String {
    let mut base = String::from_utf8_lossy(&s[..8]).trim_end().to_string();
    let mut ext = String::from_utf8_lossy(&s[8..]).trim_end().to_string();
    if case & 0x08 != 0 {
        base = base.to_ascii_lowercase();
    }
    if case & 0x10 != 0 {
        ext = ext.to_ascii_lowercase();
    }
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// A short name for `name`: itself if it is a valid upper-case 8.3 name, else `BASE~N.EXT`
/// unique among `taken`.
pub(super) fn unique_short(name: &str, taken: &mut [[u8; 11]]) -> [u8; 11] {
    let ok =
        |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || "-_!#$%&'()@^`{}~".contains(c);
    let (b, e) = match name.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (name, ""),
    };
    let mut s = [b' '; 11];
    if !b.is_empty() && b.len() <= 8 && e.len() <= 3 && b.chars().all(ok) && e.chars().all(ok) {
        s[..b.len()].copy_from_slice(b.as_bytes());
        s[8..8 + e.len()].copy_from_slice(e.as_bytes());
        if !taken.contains(&s) {
            return s;
        }
    }
    let clean = |x: &str, n: usize| -> Vec<u8> {
        x.chars()
            .map(|c| c.to_ascii_uppercase())
            .filter(|&c| ok(c))
            .take(n)
            .map(|c| c as u8)
            .collect()
    };
    let base = clean(b, 6);
    let base = if base.is_empty() { b"V".to_vec() } else { base };
    let ext = clean(e, 3);
    for n in 1u32..1_000_000 {
        let tail = format!("~{n}");
        let keep = base.len().min(8 - tail.len());
        let mut s = [b' '; 11];
        s[..keep].copy_from_slice(&base[..keep]);
        s[keep..keep + tail.len()].copy_from_slice(tail.as_bytes());
        s[8..8 + ext.len()].copy_from_slice(&ext);
        if !taken.contains(&s) {
            return s;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        let mut t = Vec::new();
        assert_eq!(&unique_short("SCANS.CSV", &mut t), b"SCANS   CSV");
        let a = unique_short("20261128T143000Z-host", &mut t);
        assert_eq!(&a, b"202611~1   ");
        let mut t = vec![a];
        assert_eq!(&unique_short("20261128T150000Z-x", &mut t), b"202611~2   ");
        assert_eq!(
            &unique_short("record.jsonl", &mut Vec::new()),
            b"RECORD~1JSO"
        );
        assert_eq!(sfn_checksum(b"RECORD~1JSO"), sfn_checksum(b"RECORD~1JSO"));
    }
}
