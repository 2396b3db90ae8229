//! Compressed streams with one member, the decompressed data: gzip (`flate2` over
//! `miniz_oxide`), bzip2 (`bzip2` over the pure-Rust `libbz2-rs-sys`), xz (`lzma-rust2`) and
//! zstd (`ruzstd`). Concatenated streams are decoded as one, as `gzip -d` does.
//!
//! The member is streamed: a decompressed size is never asked for nor trusted, the engine's
//! [`super::limits::Limited`] reader bounds it. A stream too large to hold in memory (a
//! multi-GB `.tar.gz`) is decoded in place ([`open_device`]) from a buffered stream over the
//! file's extents.

use std::io::Read;

use super::stream::DeviceStream;
use super::{stream_member_name, ContainerError, Kind, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;
use crate::io::Device;

/// Decoder memory accepted for xz (`xz -9` uses a 64 MiB dictionary): the decoder allocates
/// its dictionary, a hostile size is an error instead.
const MAX_XZ_DICT: u32 = 256 << 20;

/// One compressed stream (its bytes in memory, or a stream over its extents).
pub struct Single<R: Read> {
    kind: Kind,
    /// Taken by the one iteration.
    data: Option<R>,
    packed: u64,
    name: String,
}

/// A compressed stream named `outer` (its member is named after it).
pub fn open<'a>(kind: Kind, data: &'a [u8], outer: &str) -> Single<&'a [u8]> {
    Single {
        kind,
        packed: data.len() as u64,
        data: Some(data),
        name: stream_member_name(outer, kind),
    }
}

/// A compressed stream on a device (the file's own extents), named `outer`.
pub fn open_device(kind: Kind, dev: Device, outer: &str) -> Single<DeviceStream> {
    Single {
        kind,
        packed: dev.size(),
        data: Some(DeviceStream::new(dev, super::STREAM_BUFFER)),
        name: stream_member_name(outer, kind),
    }
}

impl<R: Read> Members for Single<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let meta = MemberMeta {
            name: self.name.clone(),
            size: None,
            packed: Some(self.packed),
        };
        let Some(data) = self.data.take() else {
            return Ok(());
        };
        let mut reader: Box<dyn Read + '_> = match self.kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(data)),
            Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                data,
                true,
                MAX_XZ_DICT >> 10,
            )),
            Kind::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(data)
                    .map_err(|e| ContainerError::Corrupt(format!("zstd: {e}")))?,
            ),
            other => return Err(ContainerError::Unsupported(other.name().to_string())),
        };
        let _ = visitor.member(&meta, Content::Data(&mut reader));
        Ok(())
    }
}
