//! `cpos tape verify|tail`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::ConfigArgs;
use crate::config::Overrides;
use crate::tape;

/// Verify or read the decision tape.
#[derive(Debug, Subcommand)]
pub enum TapeCommand {
    /// Prove the hash chain; name the first bad record (seq, file, line).
    #[command(
        after_help = "Exit status: 0 verified, 1 broken chain or head mismatch, 2 usage or I/O error."
    )]
    Verify {
        /// Segment files or tape directories, in chain order. Default: the configured tape.dir.
        paths: Vec<PathBuf>,
        /// Fail unless the chain's head row_hash equals this (anchored elsewhere).
        #[arg(long, value_name = "HASH")]
        expected_head: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the most recent records.
    Tail {
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Tape directory. Default: the configured tape.dir.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub fn run(cmd: TapeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TapeCommand::Verify {
            paths,
            expected_head,
            json,
            config,
        } => {
            let paths = if paths.is_empty() {
                vec![config.load(Overrides::default())?.tape.dir]
            } else {
                paths
            };
            let files = tape::expand_paths(&paths)?;
            if files.is_empty() {
                anyhow::bail!("no tape segments (tape-NNNNNN.jsonl) found in {paths:?}");
            }
            let report = tape::verify::verify_files(&files)?;
            let head_ok = match (&expected_head, &report.head_hash) {
                (Some(expected), Some(head)) => expected.eq_ignore_ascii_case(head),
                (Some(_), None) => false,
                (None, _) => true,
            };
            if json {
                let mut value = serde_json::to_value(&report)?;
                value["expected_head_matches"] =
                    serde_json::json!(expected_head.as_ref().map(|_| head_ok));
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else if let Some(f) = &report.failure {
                println!(
                    "BROKEN at seq {} ({} line {}): {}",
                    f.seq,
                    f.file.display(),
                    f.line,
                    f.reason
                );
                println!("{} records verified before it", report.records);
            } else {
                println!(
                    "OK: {} records in {} file(s){}; head seq {} row_hash {}",
                    report.records,
                    report.files,
                    if report.from_genesis {
                        " from genesis"
                    } else {
                        " (chain starts mid-way)"
                    },
                    report.head_seq.unwrap_or(0),
                    report.head_hash.as_deref().unwrap_or(tape::GENESIS)
                );
                if !head_ok {
                    println!(
                        "HEAD MISMATCH: expected {}",
                        expected_head.unwrap_or_default()
                    );
                }
            }
            Ok(if report.ok && head_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        TapeCommand::Tail { lines, dir, config } => {
            let dir = match dir {
                Some(d) => d,
                None => config.load(Overrides::default())?.tape.dir,
            };
            let segments = tape::list_segments(&dir)?;
            let mut tail: std::collections::VecDeque<String> = Default::default();
            // Read segments newest first until enough lines are collected.
            for (_, path) in segments.iter().rev() {
                let mut chunk = Vec::new();
                for line in BufReader::new(std::fs::File::open(path)?).lines() {
                    chunk.push(line?);
                }
                for line in chunk.into_iter().rev() {
                    if tail.len() == lines {
                        break;
                    }
                    tail.push_front(line);
                }
                if tail.len() == lines {
                    break;
                }
            }
            for line in tail {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
