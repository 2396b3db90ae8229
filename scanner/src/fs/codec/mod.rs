//! Bounded decoders of the compression formats filesystems use, with no knowledge of any
//! filesystem: every length is checked, the output is capped at the size the caller expects,
//! and no input makes them panic or loop.

pub mod lzx;
pub mod xpress;
