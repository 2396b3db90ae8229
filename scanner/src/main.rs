//! `scanner`: parses the command line, runs the library, maps the verdict to an exit status.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use vigie::cli::{Cli, Command, HumanSink, JsonLinesSink};
use vigie::scan::Engine;
use vigie::sink::Sink;

#[cfg(target_env = "musl")]
mod alloc_split;

/// The stick's binary: small blocks from mimalloc, large ones mapped by musl (see
/// `alloc_split.rs`). The glibc build keeps glibc's allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: alloc_split::SplitAlloc = alloc_split::SplitAlloc;

/// mimalloc commits whole arenas up front: lazy commit keeps the RSS of a small scan small.
/// Its purge delay stays at its default (10 ms): the large blocks, which made the peak, go
/// back to the kernel through musl at once (`alloc_split.rs`). Set first thing in `main`,
/// before anything large is allocated (the eager commit is read when an arena is made).
#[cfg(target_env = "musl")]
fn tune_allocator() {
    use std::ffi::{c_int, c_long};
    // Position in mimalloc.h's `mi_option_e`, the same in its v2 and v3 (counted from
    // `mi_option_show_errors` = 0).
    const ARENA_EAGER_COMMIT: c_int = 4;
    extern "C" {
        fn mi_option_set(option: c_int, value: c_long);
    }
    // An option given in the environment wins (for measuring other settings).
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        // SAFETY: `mi_option_set` is mimalloc's own C function, linked in with the allocator
        // above; it takes two plain integers, keeps no pointer, and may be called at any time
        // (it writes one option word).
        unsafe { mi_option_set(ARENA_EAGER_COMMIT, 0) };
    }
}

fn main() -> ExitCode {
    #[cfg(target_env = "musl")]
    tune_allocator();
    // On the stick, the kernel runs us as PID 1 (/init): the boot flow never returns.
    if std::process::id() == 1 || std::env::args().nth(1).as_deref() == Some("init") {
        vigie::init::run();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Rules(args) => vigie::cli::rules::run(args),
        Command::Scan(args) => {
            // Evidence (issue 14): the folder is checked before anything is read.
            let evidence_zip = match &args.evidence.evidence {
                Some(dir) => match vigie::cli::evidence_zip_path(dir, &args.targets) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("scanner: {e}");
                        return ExitCode::from(2);
                    }
                },
                None => None,
            };
            let engine = match Engine::new(args.options()) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("scanner: {e}");
                    return ExitCode::from(2);
                }
            };
            let cancel = AtomicBool::new(false);
            let mut json;
            let mut human;
            let sink: &mut dyn Sink = if args.json {
                json = JsonLinesSink::new(std::io::stdout().lock());
                &mut json
            } else {
                human = HumanSink::default();
                &mut human
            };
            // With --evidence the summary is held back so that it stays the last line.
            let mut held = vigie::cli::HeldSummary::new(sink);
            let sink: &mut dyn Sink = if evidence_zip.is_some() {
                &mut held
            } else {
                held.inner
            };
            let mut tee = vigie::persist::Tee {
                inner: sink,
                findings: Vec::new(),
            };
            let summary = engine.scan_paths(&args.targets, &mut tee, &cancel);
            // Autostart entries after the scan, so that each is joined to its target's findings.
            vigie::persist::report(&args.targets, &tee.findings, tee.inner);
            if let Some(zip) = &evidence_zip {
                vigie::cli::write_evidence(zip, &tee.findings, args.evidence.limits(), tee.inner);
                held.release();
            }
            ExitCode::from(u8::try_from(summary.verdict.exit_code()).unwrap_or(2))
        }
        Command::Logpart(args) => {
            ExitCode::from(u8::try_from(vigie::init::logpart::desk::run(&args)).unwrap_or(2))
        }
        Command::Report(args) => {
            ExitCode::from(u8::try_from(vigie::report::run(&args)).unwrap_or(2))
        }
    }
}
