//! `scanner rules keygen|pack|verify|check`: making, signing and checking rule bundles on a
//! workstation, and measuring how much of a community rule set yara-x accepts.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::bundle::{self, keys, Bundle, PackOptions};

/// `scanner rules` arguments.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// `scanner rules` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Make an Ed25519 key pair in DIR (vigie-rules.key, secret, mode 0600; vigie-rules.pub).
    Keygen {
        /// Directory for the key files (created if needed; existing keys are never replaced).
        dir: PathBuf,
    },
    /// Compile SRC (.yar/.yara files; .sha256 IOC lists) into a signed bundle.
    Pack {
        /// A directory of sources (searched recursively) or one source file.
        src: PathBuf,
        /// Output bundle.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Secret key file (from `scanner rules keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Bundle version, YYYY.MM.DD.N (default: the creation time, YYYY.MM.DD.HHMM UTC).
        #[arg(long)]
        version: Option<String>,
        /// Keep the rules that compile and drop the others (third-party sets), instead of
        /// failing on the first error.
        #[arg(long)]
        skip_broken: bool,
    },
    /// Check a bundle's signature and contents. Exit 0 valid, 1 refused (reason printed).
    Verify {
        /// The bundle.
        file: PathBuf,
        /// Public key file.
        #[arg(long, value_name = "KEY")]
        pubkey: PathBuf,
        /// Also refuse the bundle unless its version is newer than this one.
        #[arg(long, value_name = "VERSION")]
        newer_than: Option<String>,
        /// Also load the rules as a scan would, and print how long it took.
        #[arg(long)]
        load: bool,
    },
    /// Compile third-party rules leniently; report what did not compile and `kept/total`.
    Check {
        /// A directory of rules (or one file).
        dir: PathBuf,
        /// Print every error, not only a per-file summary.
        #[arg(short, long)]
        verbose: bool,
    },
}

/// Runs a `scanner rules` subcommand.
pub fn run(args: RulesArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scanner rules: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: RulesArgs) -> Result<ExitCode, bundle::BundleError> {
    match args.command {
        RulesCommand::Keygen { dir } => {
            let (sk, pk) = keys::keygen(&dir)?;
            println!(
                "secret key: {} (keep it off the stick and out of git)",
                sk.display()
            );
            println!("public key: {}", pk.display());
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Pack {
            src,
            output,
            key,
            version,
            skip_broken,
        } => {
            let key = keys::read_secret(&key)?;
            let sources = bundle::collect_sources(&src)?;
            if sources.rules.is_empty() {
                return Err(bundle::BundleError::Corrupt(format!(
                    "no .yar/.yara file under {}",
                    src.display()
                )));
            }
            let opts = PackOptions {
                version,
                created: None,
                skip_broken,
            };
            let (bytes, m) = bundle::pack(&sources, &key, &opts)?;
            std::fs::write(&output, &bytes).map_err(|source| bundle::BundleError::Io {
                path: output.clone(),
                source,
            })?;
            println!(
                "{}: version {}, {} rules from {} files, {} IOCs, {} bytes, key {}",
                output.display(),
                m.version,
                m.rules,
                m.sources.len(),
                m.iocs,
                bytes.len(),
                m.key_id
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Verify {
            file,
            pubkey,
            newer_than,
            load,
        } => {
            let pk = keys::read_public(&pubkey)?;
            match Bundle::verify_file(&file, &pk) {
                Ok(b) => {
                    let m = &b.manifest;
                    if let Some(cur) = newer_than {
                        if !bundle::is_newer(&m.version, &cur) {
                            println!(
                                "REFUSED {}: version {} is not newer than {cur}",
                                file.display(),
                                m.version
                            );
                            return Ok(ExitCode::from(1));
                        }
                    }
                    println!(
                        "OK {}: version {}, created {}, {} rules, {} IOCs, yara-x {}, key {}, sha256 {}",
                        file.display(),
                        m.version,
                        m.created,
                        m.rules,
                        m.iocs,
                        m.yara_x,
                        m.key_id,
                        b.sha256
                    );
                    if load {
                        let t = std::time::Instant::now();
                        let (set, fallback) = b.rule_set(&file.display().to_string())?;
                        println!(
                            "loaded {} rules in {:.3} s ({})",
                            set.len(),
                            t.elapsed().as_secs_f64(),
                            if fallback {
                                "compiled from the bundle's sources"
                            } else {
                                "serialized rules"
                            }
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("REFUSED {}: {e}", file.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        RulesCommand::Check { dir, verbose } => {
            let sources = bundle::collect_sources(&dir)?;
            let report = crate::scan::rules::check_sources(&sources.rules);
            for f in &report.files {
                if f.kept < f.total || !f.errors.is_empty() {
                    println!(
                        "{}: kept {}/{}: {}",
                        f.path,
                        f.kept,
                        f.total,
                        f.errors.first().map_or("", String::as_str)
                    );
                    if verbose {
                        for e in f.errors.iter().skip(1) {
                            println!("    {e}");
                        }
                    }
                }
            }
            let bad = report.files.iter().filter(|f| f.kept < f.total).count();
            println!(
                "{} files, {} with rules dropped; kept/total: {}/{}",
                report.files.len(),
                bad,
                report.kept(),
                report.total()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
