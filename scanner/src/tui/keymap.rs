//! Built-in keyboard layouts for the kernel console (no `loadkeys` on the stick): the French
//! AZERTY and US QWERTY tables for the keys that type characters, loaded with `KDSKBENT`.
//!
//! Only the plain, Shift and AltGr tables of the printable keys change; Enter, arrows, Esc,
//! function and modifier keys keep the kernel's defaults (identical on both layouts).

use std::os::fd::AsRawFd;

/// A keyboard layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// French AZERTY (default).
    #[default]
    Fr,
    /// US QWERTY.
    Us,
}

impl Layout {
    /// From a `vigie.keymap=` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fr" | "azerty" => Some(Self::Fr),
            "us" | "qwerty" | "en" => Some(Self::Us),
            _ => None,
        }
    }

    /// The other layout.
    pub fn other(self) -> Self {
        match self {
            Self::Fr => Self::Us,
            Self::Us => Self::Fr,
        }
    }
}

/// Kernel key table numbers (modifier bit masks, `linux/keyboard.h`).
const PLAIN: u8 = 0;
const SHIFT: u8 = 1;
const ALTGR: u8 = 2;
/// Key types: `KT_LATIN` for symbols, `KT_LETTER` for letters (Caps Lock applies).
const KT_LATIN: u16 = 0;
const KT_LETTER: u16 = 11;

/// Keycodes (`linux/input-event-codes.h`) of the rows of printable keys.
const ROW1: std::ops::RangeInclusive<u8> = 2..=13; // KEY_1 .. KEY_EQUAL
const ROW2: std::ops::RangeInclusive<u8> = 16..=27; // KEY_Q .. KEY_RIGHTBRACE
const ROW3: std::ops::RangeInclusive<u8> = 30..=41; // KEY_A .. KEY_GRAVE
const ROW4: std::ops::RangeInclusive<u8> = 44..=53; // KEY_Z .. KEY_SLASH
const KEY_BACKSLASH: u8 = 43;
const KEY_102ND: u8 = 86;

/// One `struct kbentry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Table (0 plain, 1 Shift, 2 AltGr).
    pub table: u8,
    /// Keycode.
    pub keycode: u8,
    /// Kernel key value (`type << 8 | char`).
    pub value: u16,
}

fn value(c: char) -> Option<u16> {
    let b = u8::try_from(u32::from(c)).ok()?; // Latin-1 only
    let kt = if c.is_alphabetic() {
        KT_LETTER
    } else {
        KT_LATIN
    };
    Some(kt << 8 | u16::from(b))
}

fn row(out: &mut Vec<Entry>, table: u8, keys: std::ops::RangeInclusive<u8>, chars: &str) {
    for (k, c) in keys.zip(chars.chars()) {
        if c == ' ' {
            continue; // nothing on this key in this table
        }
        if let Some(value) = value(c) {
            out.push(Entry {
                table,
                keycode: k,
                value,
            });
        }
    }
}

/// The entries of `layout`.
pub fn entries(layout: Layout) -> Vec<Entry> {
    let mut e = Vec::with_capacity(200);
    match layout {
        Layout::Us => {
            row(&mut e, PLAIN, ROW1, "1234567890-=");
            row(&mut e, SHIFT, ROW1, "!@#$%^&*()_+");
            row(&mut e, PLAIN, ROW2, "qwertyuiop[]");
            row(&mut e, SHIFT, ROW2, "QWERTYUIOP{}");
            row(&mut e, PLAIN, ROW3, "asdfghjkl;'`");
            row(&mut e, SHIFT, ROW3, "ASDFGHJKL:\"~");
            row(&mut e, PLAIN, ROW4, "zxcvbnm,./");
            row(&mut e, SHIFT, ROW4, "ZXCVBNM<>?");
            row(&mut e, PLAIN, KEY_BACKSLASH..=KEY_BACKSLASH, "\\");
            row(&mut e, SHIFT, KEY_BACKSLASH..=KEY_BACKSLASH, "|");
            row(&mut e, PLAIN, KEY_102ND..=KEY_102ND, "<");
            row(&mut e, SHIFT, KEY_102ND..=KEY_102ND, ">");
            // AltGr gives the plain characters (the kernel default has AltGr on right Alt).
            row(&mut e, ALTGR, ROW1, "1234567890-=");
            row(&mut e, ALTGR, ROW2, "qwertyuiop[]");
            row(&mut e, ALTGR, ROW3, "asdfghjkl;'`");
            row(&mut e, ALTGR, ROW4, "zxcvbnm,./");
        }
        Layout::Fr => {
            row(&mut e, PLAIN, ROW1, "&é\"'(-è_çà)=");
            row(&mut e, SHIFT, ROW1, "1234567890°+");
            row(&mut e, ALTGR, ROW1, " ~#{[|`\\^@]}");
            // `^` and `¨` are dead keys on a real AZERTY: typed as themselves here.
            row(&mut e, PLAIN, ROW2, "azertyuiop^$");
            row(&mut e, SHIFT, ROW2, "AZERTYUIOP¨£");
            row(&mut e, ALTGR, ROW2, "azertyuiop ¤");
            row(&mut e, PLAIN, ROW3, "qsdfghjklmù²");
            row(&mut e, SHIFT, ROW3, "QSDFGHJKLM%");
            row(&mut e, ALTGR, ROW3, "qsdfghjklm");
            row(&mut e, PLAIN, ROW4, "wxcvbn,;:!");
            row(&mut e, SHIFT, ROW4, "WXCVBN?./§");
            row(&mut e, ALTGR, ROW4, "wxcvbn");
            row(&mut e, PLAIN, KEY_BACKSLASH..=KEY_BACKSLASH, "*");
            row(&mut e, SHIFT, KEY_BACKSLASH..=KEY_BACKSLASH, "µ");
            row(&mut e, PLAIN, KEY_102ND..=KEY_102ND, "<");
            row(&mut e, SHIFT, KEY_102ND..=KEY_102ND, ">");
        }
    }
    e
}

#[repr(C)]
struct KbEntry {
    kb_table: u8,
    kb_index: u8,
    kb_value: u16,
}

nix::ioctl_write_ptr_bad!(kdskbent, 0x4B47, KbEntry);

/// Loads `layout` into the kernel keymap through the console `tty` (any VT file descriptor).
/// The keymap is global to all virtual consoles; a serial console ignores it.
pub fn apply(tty: &impl AsRawFd, layout: Layout) -> std::io::Result<()> {
    for e in entries(layout) {
        let kb = KbEntry {
            kb_table: e.table,
            kb_index: e.keycode,
            kb_value: e.value,
        };
        // SAFETY: `tty` is an open descriptor and `kb` is a valid `struct kbentry` that
        // outlives the call; KDSKBENT only reads it.
        unsafe { kdskbent(tty.as_raw_fd(), &kb) }.map_err(std::io::Error::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(l: Layout, table: u8, keycode: u8) -> Option<u16> {
        entries(l)
            .into_iter()
            .find(|e| e.table == table && e.keycode == keycode)
            .map(|e| e.value)
    }

    #[test]
    fn azerty_letters_sit_where_a_french_keyboard_has_them() {
        const KEY_Q: u8 = 16;
        const KEY_A: u8 = 30;
        const KEY_W: u8 = 17;
        const KEY_Z: u8 = 44;
        const KEY_SEMICOLON: u8 = 39;
        const KEY_M: u8 = 50;
        let letter = |c: u8| KT_LETTER << 8 | u16::from(c);
        assert_eq!(find(Layout::Fr, PLAIN, KEY_Q), Some(letter(b'a')));
        assert_eq!(find(Layout::Fr, PLAIN, KEY_A), Some(letter(b'q')));
        assert_eq!(find(Layout::Fr, PLAIN, KEY_W), Some(letter(b'z')));
        assert_eq!(find(Layout::Fr, PLAIN, KEY_Z), Some(letter(b'w')));
        assert_eq!(find(Layout::Fr, PLAIN, KEY_SEMICOLON), Some(letter(b'm')));
        assert_eq!(find(Layout::Fr, PLAIN, KEY_M), Some(u16::from(b',')));
        assert_eq!(find(Layout::Fr, SHIFT, KEY_Q), Some(letter(b'A')));
        // Digits need Shift on AZERTY; é is Latin-1 0xe9 on the 2 key.
        assert_eq!(find(Layout::Fr, SHIFT, 3), Some(u16::from(b'2')));
        assert_eq!(find(Layout::Fr, PLAIN, 3), Some(letter(0xe9)));
        assert_eq!(find(Layout::Fr, ALTGR, 11), Some(u16::from(b'@')));
        assert_eq!(find(Layout::Fr, ALTGR, 2), None);
    }

    #[test]
    fn qwerty_is_the_us_layout() {
        assert_eq!(
            find(Layout::Us, PLAIN, 16),
            Some(KT_LETTER << 8 | u16::from(b'q'))
        );
        assert_eq!(
            find(Layout::Us, PLAIN, 30),
            Some(KT_LETTER << 8 | u16::from(b'a'))
        );
        assert_eq!(find(Layout::Us, PLAIN, 2), Some(u16::from(b'1')));
        assert_eq!(find(Layout::Us, SHIFT, 3), Some(u16::from(b'@')));
    }

    #[test]
    fn every_entry_is_unique_and_every_letter_is_reachable() {
        for l in [Layout::Fr, Layout::Us] {
            let e = entries(l);
            let mut seen = std::collections::HashSet::new();
            for x in &e {
                assert!(seen.insert((x.table, x.keycode)), "{l:?} duplicate {x:?}");
            }
            for c in b'a'..=b'z' {
                assert!(
                    e.iter()
                        .any(|x| x.table == PLAIN && x.value == KT_LETTER << 8 | u16::from(c)),
                    "{l:?} cannot type {}",
                    c as char
                );
            }
        }
    }

    #[test]
    fn parse_names() {
        assert_eq!(Layout::parse("fr"), Some(Layout::Fr));
        assert_eq!(Layout::parse("us"), Some(Layout::Us));
        assert_eq!(Layout::parse("de"), None);
    }
}
