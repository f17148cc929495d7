//! Whole-chain verification, used by `cpos tape verify` and at start-up.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::chain::{self, Link, GENESIS};

/// The result of verifying a sequence of segment files.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when every record verified.
    pub ok: bool,
    /// Records that verified before the first failure.
    pub records: u64,
    /// Files read.
    pub files: usize,
    /// True when the first record chains from the genesis hash.
    pub from_genesis: bool,
    /// Seq of the last good record.
    pub head_seq: Option<u64>,
    /// `row_hash` of the last good record: anchor it outside the sidecar.
    pub head_hash: Option<String>,
    /// The first bad record, if any.
    pub failure: Option<Failure>,
}

/// Where the chain first breaks.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The segment file.
    pub file: PathBuf,
    /// 1-based line number within that file.
    pub line: usize,
    /// The record's seq (or the expected one when the line does not parse).
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// Byte offset and link of the last complete, valid line of one file,
/// plus the length of any torn tail (bytes after the last newline).
pub(crate) struct FileScan {
    pub last: Option<Link>,
    pub valid_len: u64,
    pub torn_bytes: u64,
}

/// Verifies `files` in order as one chain.
pub fn verify_files(files: &[PathBuf]) -> io::Result<Report> {
    let mut report = Report {
        ok: true,
        records: 0,
        files: files.len(),
        from_genesis: true,
        head_seq: None,
        head_hash: None,
        failure: None,
    };
    let mut previous: Option<Link> = None;
    for file in files {
        match scan_file(file, previous.clone(), &mut report.records) {
            Ok(scan) => {
                if scan.torn_bytes > 0 {
                    let seq = scan.last.as_ref().map_or(1, |l| l.seq + 1);
                    let line = report_line(file, scan.valid_len)?;
                    report.failure = Some(Failure {
                        file: file.clone(),
                        line,
                        seq,
                        reason: format!(
                            "incomplete last line ({} bytes without a newline): an interrupted write; \
                             `cpos serve` truncates it on start",
                            scan.torn_bytes
                        ),
                    });
                }
                if scan.last.is_some() {
                    previous = scan.last;
                }
                if report.failure.is_some() {
                    break;
                }
            }
            Err(ScanError::Io(e)) => return Err(e),
            Err(ScanError::Bad(failure)) => {
                report.failure = Some(failure);
                break;
            }
        }
    }
    if let Some(first) = first_prev_hash(files)? {
        report.from_genesis = first == GENESIS;
    }
    report.ok = report.failure.is_none();
    report.head_seq = previous.as_ref().map(|l| l.seq);
    report.head_hash = previous.map(|l| l.row_hash);
    Ok(report)
}

fn first_prev_hash(files: &[PathBuf]) -> io::Result<Option<String>> {
    let Some(file) = files.first() else {
        return Ok(None);
    };
    let mut line = Vec::new();
    BufReader::new(File::open(file)?).read_until(b'\n', &mut line)?;
    let value: serde_json::Value = match serde_json::from_slice(&line) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    Ok(value["_chain"]["prev_hash"].as_str().map(str::to_owned))
}

fn report_line(file: &Path, offset: u64) -> io::Result<usize> {
    let bytes = std::fs::read(file)?;
    let end = (offset as usize).min(bytes.len());
    Ok(bytes[..end].iter().filter(|b| **b == b'\n').count() + 1)
}

pub(crate) enum ScanError {
    Io(io::Error),
    Bad(Failure),
}

/// Reads one segment, checking every complete line against `previous`.
pub(crate) fn scan_file(
    file: &Path,
    mut previous: Option<Link>,
    records: &mut u64,
) -> Result<FileScan, ScanError> {
    let mut reader = BufReader::new(File::open(file).map_err(ScanError::Io)?);
    let mut line = Vec::with_capacity(1024);
    let mut valid_len = 0u64;
    let mut last = None;
    let mut number = 0usize;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(ScanError::Io)?;
        if n == 0 {
            return Ok(FileScan {
                last,
                valid_len,
                torn_bytes: 0,
            });
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            return Ok(FileScan {
                last,
                valid_len,
                torn_bytes: n as u64,
            });
        }
        let expected_seq = previous.as_ref().map_or(1, |l| l.seq + 1);
        let link = chain::parse_line(&line[..n - 1])
            .and_then(|link| chain::check_link(previous.as_ref(), &link).map(|()| link));
        match link {
            Ok(link) => {
                *records += 1;
                valid_len += n as u64;
                previous = Some(link.clone());
                last = Some(link);
            }
            Err(reason) => {
                let seq = serde_json::from_slice::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["seq"].as_u64())
                    .unwrap_or(expected_seq);
                return Err(ScanError::Bad(Failure {
                    file: file.to_path_buf(),
                    line: number,
                    seq,
                    reason: reason.to_string(),
                }));
            }
        }
    }
}
