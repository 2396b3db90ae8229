//! Compressed streams with one member, the decompressed data: gzip (`flate2` over
//! `miniz_oxide`), bzip2 (`bzip2` over the pure-Rust `libbz2-rs-sys`), xz (`lzma-rust2`) and
//! zstd (`ruzstd`). Concatenated streams are decoded as one, as `gzip -d` does.
//!
//! The member is streamed: a decompressed size is never asked for nor trusted, the engine's
//! [`super::limits::Limited`] reader bounds it.

use std::io::Read;

use super::{stream_member_name, ContainerError, Kind, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

/// Decoder memory accepted for xz (`xz -9` uses a 64 MiB dictionary): the decoder allocates
/// its dictionary, a hostile size is an error instead.
const MAX_XZ_DICT: u32 = 256 << 20;

/// One compressed stream.
pub struct Single<'a> {
    kind: Kind,
    data: &'a [u8],
    name: String,
}

/// A compressed stream named `outer` (its member is named after it).
pub fn open<'a>(kind: Kind, data: &'a [u8], outer: &str) -> Single<'a> {
    Single {
        kind,
        data,
        name: stream_member_name(outer, kind),
    }
}

impl Members for Single<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let meta = MemberMeta {
            name: self.name.clone(),
            size: None,
            packed: Some(self.data.len() as u64),
        };
        let mut reader: Box<dyn Read + '_> = match self.kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(self.data)),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(self.data)),
            Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                self.data,
                true,
                MAX_XZ_DICT >> 10,
            )),
            Kind::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(self.data)
                    .map_err(|e| ContainerError::Corrupt(format!("zstd: {e}")))?,
            ),
            other => return Err(ContainerError::Unsupported(other.name().to_string())),
        };
        let _ = visitor.member(&meta, Content::Data(&mut reader));
        Ok(())
    }
}
