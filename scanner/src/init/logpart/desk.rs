//! `scanner logpart prepare`: lays down the log partition's prepared space (see [`super::tokens`])
//! on a stick image or device, at the desk or in the image builder. Refuses any volume without
//! the stick's `VIGIE.ID`, so a host disk named by mistake is never written.

use std::path::PathBuf;

use super::super::fatlog::{DosTime, Store, Vol};

/// `scanner logpart` arguments.
#[derive(Debug, clap::Args)]
pub struct LogpartArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LogpartCommand,
}

/// `scanner logpart` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LogpartCommand {
    /// Tops up the prepared space of a Vigie log partition (a device such as /dev/sdb1, a
    /// partition image, or a stick image with --offset) so that each of the next saves is
    /// power-cut safe. Run it on a stick whose records were copied away, or when a record says
    /// "saved without power-cut protection".
    Prepare {
        /// The log partition (device or image file).
        target: PathBuf,
        /// Byte offset of the partition inside TARGET (a whole-stick image).
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Scan tokens to have (each about 129 KiB with 512-byte clusters).
        #[arg(long, default_value_t = super::tokens::DEFAULT_SCAN_TOKENS)]
        tokens: usize,
    },
}

/// A window of a store starting at `off`.
struct At<S>(S, u64);

impl<S: Store> Store for At<S> {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(self.1 + off, buf)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_at(self.1 + off, buf)
    }
    fn barrier(&mut self) -> std::io::Result<()> {
        self.0.barrier()
    }
}

/// Runs `scanner logpart`; returns the exit status (0 done, 2 error).
pub fn run(args: &LogpartArgs) -> i32 {
    let LogpartCommand::Prepare {
        target,
        offset,
        tokens,
    } = &args.command;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(target)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("scanner logpart: {}: {e}", target.display());
            return 2;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let res = Vol::open(At(file, *offset), DosTime::from_unix(now))
        .and_then(|mut vol| super::prepare::prepare(&mut vol, *tokens));
    match res {
        Ok(p) => {
            println!(
                "logpart prepare: {} scan tokens ({} added), {} index tokens, {} KiB of lanes, {} free clusters",
                p.scan_tokens, p.added, p.index_tokens, p.lane_bytes / 1024, p.free_clusters
            );
            if p.scan_tokens < *tokens {
                eprintln!(
                    "scanner logpart: partition full: {} of {tokens} tokens",
                    p.scan_tokens
                );
                return 2;
            }
            0
        }
        Err(e) => {
            eprintln!("scanner logpart: {}: {e}", target.display());
            2
        }
    }
}
