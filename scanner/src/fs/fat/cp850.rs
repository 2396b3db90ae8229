//! Code page 850, the OEM code page of short names and labels on French and most European
//! DOS/Windows installs.

use fatfs::OemCpConverter;

/// Short names and labels are in the OEM code page; code page 850 (Western Europe, the
/// default of French and most European DOS/Windows installs) decodes them.
#[derive(Debug)]
pub(super) struct Cp850;

const CP850_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}";

impl OemCpConverter for Cp850 {
    fn decode(&self, oem_char: u8) -> char {
        if oem_char < 0x80 {
            char::from(oem_char)
        } else {
            CP850_HIGH
                .chars()
                .nth(usize::from(oem_char - 0x80))
                .unwrap_or('\u{FFFD}')
        }
    }
    fn encode(&self, uni_char: char) -> Option<u8> {
        if u32::from(uni_char) < 0x80 {
            u8::try_from(u32::from(uni_char)).ok()
        } else {
            CP850_HIGH
                .chars()
                .position(|c| c == uni_char)
                .and_then(|i| u8::try_from(i + 0x80).ok())
        }
    }
}

pub(super) static CP850: Cp850 = Cp850;
