//! Tape segment files: `tape-000001.jsonl`, `tape-000002.jsonl`, … The chain
//! runs across them in number order.

use std::io;
use std::path::{Path, PathBuf};

/// File name of segment `n`.
pub fn segment_name(n: u64) -> String {
    format!("tape-{n:06}.jsonl")
}

/// Segment number of a file name, if it is one.
pub fn segment_number(name: &str) -> Option<u64> {
    name.strip_prefix("tape-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

/// The segments in `dir`, in chain order.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str().and_then(segment_number) {
            segments.push((n, entry.path()));
        }
    }
    segments.sort_unstable_by_key(|(n, _)| *n);
    Ok(segments)
}

/// Expands directories into their segments; files are kept as given.
pub fn expand(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(list(path)?.into_iter().map(|(_, p)| p));
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}
