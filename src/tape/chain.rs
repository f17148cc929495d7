//! The hash chain shared by the writer and the verifier, compatible with the
//! original CPOS ledgers: `row_hash = sha256(prev_hash + "\n" + canonical)`
//! where `canonical` is the record without `_chain`, keys sorted, compact.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the very first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Computes a record's `row_hash` (lower-case hex).
pub fn row_hash(prev_hash: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical);
    hex::encode(h.finalize())
}

/// Writes the full tape line (with `_chain` and a trailing newline) for a
/// canonical record into `out`.
pub fn write_line(out: &mut Vec<u8>, prev_hash: &str, row_hash: &str, canonical: &[u8]) {
    out.extend_from_slice(b"{\"_chain\":{\"algo\":\"sha256\",\"prev_hash\":\"");
    out.extend_from_slice(prev_hash.as_bytes());
    out.extend_from_slice(b"\",\"row_hash\":\"");
    out.extend_from_slice(row_hash.as_bytes());
    out.extend_from_slice(b"\"}");
    if canonical.len() > 2 {
        out.push(b',');
    }
    out.extend_from_slice(&canonical[1..]);
    out.push(b'\n');
}

/// Why one line does not continue the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not a JSON object.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// `_chain` missing or malformed.
    #[error("missing or malformed _chain")]
    NoChain,
    /// `_chain.prev_hash` differs from the previous record's `row_hash`.
    #[error("prev_hash does not match the previous record's row_hash")]
    PrevMismatch,
    /// The record's content does not hash to its `row_hash`.
    #[error("row_hash does not match the record's content (the record was altered)")]
    RowMismatch,
    /// The line is not byte for byte the canonical form of its content
    /// (duplicate keys, extra whitespace, other escapes): a reader could see
    /// other values than the hash covers.
    #[error(
        "the line is not in canonical form (duplicate keys, whitespace or escapes were changed)"
    )]
    NotCanonical,
    /// `seq` is not the previous record's plus one.
    #[error("seq {found} does not follow {previous}")]
    SeqGap {
        /// The previous record's seq.
        previous: u64,
        /// This record's seq.
        found: u64,
    },
}

/// A verified line: its seq and row hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The record's `seq` (0 when absent, as in foreign ledgers).
    pub seq: u64,
    /// The record's `row_hash`.
    pub row_hash: String,
    /// The record's `prev_hash`.
    pub prev_hash: String,
}

/// Parses one line and checks its own hash; linkage is checked by [`check_link`].
pub fn parse_line(line: &[u8]) -> Result<Link, LineError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| LineError::Json(e.to_string()))?;
    let object = value.as_object_mut().ok_or(LineError::NoChain)?;
    let chain = object.remove("_chain").ok_or(LineError::NoChain)?;
    let field = |name: &str| {
        chain
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or(LineError::NoChain)
    };
    let prev_hash = field("prev_hash")?;
    let stored = field("row_hash")?;
    let seq = object.get("seq").and_then(|v| v.as_u64()).unwrap_or(0);
    let canonical = serde_json::to_vec(&value).map_err(|e| LineError::Json(e.to_string()))?;
    if row_hash(&prev_hash, &canonical) != stored {
        return Err(LineError::RowMismatch);
    }
    let mut expected = Vec::with_capacity(line.len() + 1);
    write_line(&mut expected, &prev_hash, &stored, &canonical);
    if expected[..expected.len() - 1] != *line {
        return Err(LineError::NotCanonical);
    }
    Ok(Link {
        seq,
        row_hash: stored,
        prev_hash,
    })
}

/// Checks that `link` follows `previous` (hash and seq).
pub fn check_link(previous: Option<&Link>, link: &Link) -> Result<(), LineError> {
    let Some(previous) = previous else {
        return Ok(());
    };
    if link.prev_hash != previous.row_hash {
        return Err(LineError::PrevMismatch);
    }
    if previous.seq != 0 && link.seq != previous.seq + 1 {
        return Err(LineError::SeqGap {
            previous: previous.seq,
            found: link.seq,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_lines_parse_and_verify() {
        let canonical = br#"{"event":"request","seq":1}"#;
        let hash = row_hash(GENESIS, canonical);
        let mut line = Vec::new();
        write_line(&mut line, GENESIS, &hash, canonical);
        assert!(line.ends_with(b"\n"));
        let link = parse_line(&line[..line.len() - 1]).unwrap();
        assert_eq!(link.row_hash, hash);
        assert_eq!(link.seq, 1);
    }

    #[test]
    fn matches_the_python_formula() {
        // python3 -c 'import hashlib;print(hashlib.sha256(("0"*64+"\n"+"{\"a\":1}").encode()).hexdigest())'
        assert_eq!(
            row_hash(GENESIS, br#"{"a":1}"#),
            "f21735afd2cd6af4fc5804b0045cebfd545aef8396d29d030c39cb8880b45b7f"
        );
    }

    #[test]
    fn non_canonical_lines_are_refused() {
        let canonical = br#"{"event":"request","seq":1}"#;
        let hash = row_hash(GENESIS, canonical);
        let mut line = Vec::new();
        write_line(&mut line, GENESIS, &hash, canonical);
        let text = String::from_utf8(line).unwrap();
        let text = text.trim_end();
        // A duplicate key that a lenient reader takes instead of the hashed one.
        let injected = text.replace(
            r#""event":"request""#,
            r#""event":"forged","event":"request""#,
        );
        assert_eq!(
            parse_line(injected.as_bytes()),
            Err(LineError::NotCanonical)
        );
        let spaced = text.replace(r#""seq":1"#, r#""seq": 1"#);
        assert_eq!(parse_line(spaced.as_bytes()), Err(LineError::NotCanonical));
        let escaped = text.replace("request", r"requ\u0065st");
        assert_eq!(parse_line(escaped.as_bytes()), Err(LineError::NotCanonical));
    }

    #[test]
    fn one_changed_byte_is_detected() {
        let canonical = br#"{"event":"request","seq":1}"#;
        let hash = row_hash(GENESIS, canonical);
        let mut line = Vec::new();
        write_line(&mut line, GENESIS, &hash, canonical);
        let text = String::from_utf8(line)
            .unwrap()
            .replace("request", "requesT");
        assert_eq!(
            parse_line(text.trim_end().as_bytes()),
            Err(LineError::RowMismatch)
        );
    }
}
