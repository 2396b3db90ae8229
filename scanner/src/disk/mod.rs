//! Disks: partition tables and what each volume holds.
//!
//! [`table`] reads MBR (with its extended/logical chain) and GPT (primary header, backup header
//! when the primary is damaged), or finds no table; [`detect`] recognises a volume by its
//! on-disk signature, never by the partition type byte, which lies often enough.

pub mod detect;
mod gpt;
mod mbr;
pub mod table;
#[cfg(test)]
mod testimg;
