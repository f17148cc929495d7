//! The tape record's canonical JSON, written field by field.
//!
//! The hash chain covers these exact bytes, so they must equal what
//! `serde_json` makes of the derived `Serialize` (keys in declaration order,
//! which is alphabetical; compact; `serde_json`'s string escapes). A property
//! test holds the two equal on arbitrary records; this writer exists because
//! it does the same work in a fraction of the instructions (the tape thread
//! serialises two records per request).

use super::record::{ActionSummary, Outcome, TapeRecord};

/// Appends `record`'s canonical JSON (without `_chain`) to `out`.
pub fn write_record(out: &mut Vec<u8>, record: &TapeRecord) {
    let mut o = Object::open(out);
    if let Some(action) = &record.action {
        o.key("action");
        write_action(o.out, action);
    }
    o.opt_str("audit", record.audit);
    o.opt_str("client_ip", record.client_ip.as_deref());
    if let Some(detail) = &record.detail {
        o.key("detail");
        // Rare (sandbox runs, recovery notes): the generic path.
        serde_json::to_writer(&mut *o.out, detail).expect("a JSON value serialises");
    }
    o.str("event", record.event);
    o.opt_str("gate", record.gate);
    if let Some(outcome) = &record.outcome {
        o.key("outcome");
        write_outcome(o.out, outcome);
    }
    o.opt_str("principal", record.principal.as_deref());
    o.strings("reasons", &record.reasons);
    o.opt_str("request_id", record.request_id.as_deref());
    o.opt_str("risk", record.risk);
    o.opt_str("route", record.route);
    o.num("seq", record.seq);
    o.opt_str("state", record.state);
    o.str("ts", &record.ts);
    o.close();
}

fn write_action(out: &mut Vec<u8>, a: &ActionSummary) {
    let mut o = Object::open(out);
    o.opt_str("agent", a.agent.as_deref());
    o.opt_num("arg_bytes", a.arg_bytes);
    o.strings("arg_keys", &a.arg_keys);
    o.opt_str("arg_sha256", a.arg_sha256.as_deref());
    o.opt_num("body_bytes", a.body_bytes);
    o.opt_str("body_sha256", a.body_sha256.as_deref());
    o.opt_num("changed_file_count", a.changed_file_count);
    o.opt_num("command_count", a.command_count);
    o.str("connector", &a.connector);
    o.opt_str("contract_sha256", a.contract_sha256.as_deref());
    o.str("kind", a.kind);
    o.opt_num("message_count", a.message_count);
    o.opt_str("method", a.method.as_deref());
    o.opt_str("path", a.path.as_deref());
    o.opt_str("query_sha256", a.query_sha256.as_deref());
    o.opt_str("rpc_method", a.rpc_method.as_deref());
    o.opt_str("tool", a.tool.as_deref());
    o.close();
}

fn write_outcome(out: &mut Vec<u8>, outcome: &Outcome) {
    let mut o = Object::open(out);
    o.opt_str("code", outcome.code);
    o.num("duration_us", outcome.duration_us);
    o.num("status", u64::from(outcome.status));
    o.opt_num("upstream_status", outcome.upstream_status.map(u64::from));
    o.close();
}

/// A JSON object being written: commas between members.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(self.out, value);
    }

    fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    fn num(&mut self, key: &str, value: u64) {
        self.key(key);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn opt_num(&mut self, key: &str, value: Option<u64>) {
        if let Some(value) = value {
            self.num(key, value);
        }
    }

    /// A list of strings, left out when empty.
    fn strings(&mut self, key: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        self.key(key);
        self.out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(self.out, v);
        }
        self.out.push(b']');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A JSON string with `serde_json`'s escapes: `\"`, `\\`, the short forms
/// of `\b \f \n \r \t`, `\u00xx` (lower-case hex) for the other control
/// characters, everything else as is.
fn write_str(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    // Nearly every value (hashes, names, ids) needs no escape: skip such
    // 8-byte words without looking at their bytes one by one.
    let mut clean = 0;
    while let Some(word) = bytes.get(clean..clean + 8) {
        if needs_escape(u64::from_le_bytes(word.try_into().expect("8 bytes"))) {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True when any byte of `word` may need escaping: a control character,
/// `"` or `\\` (exact for those; a set bit only sends the word to the
/// byte-by-byte loop, which decides).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let is = |byte: u64| {
        let x = word ^ (ONES * byte);
        x.wrapping_sub(ONES) & !x & HIGH
    };
    (below_space | is(u64::from(b'"')) | is(u64::from(b'\\'))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_serde(record: &TapeRecord) {
        let mut ours = Vec::new();
        write_record(&mut ours, record);
        let theirs = serde_json::to_vec(record).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn the_word_check_never_misses_a_byte_to_escape() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = b;
                let must = b < 0x20 || b == b'"' || b == b'\\';
                if must {
                    assert!(needs_escape(u64::from_le_bytes(word)), "{b:#x} at {at}");
                }
            }
        }
        assert!(!needs_escape(u64::from_le_bytes(*b"0123abcd")));
    }

    #[test]
    fn an_empty_record_matches_serde() {
        same_as_serde(&TapeRecord::default());
    }

    #[test]
    fn a_full_record_with_every_escape_matches_serde() {
        let odd = "q\"b\\s/\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}é😀".to_owned();
        same_as_serde(&TapeRecord {
            action: Some(std::sync::Arc::new(ActionSummary {
                agent: Some(odd.clone()),
                arg_bytes: Some(u64::MAX),
                arg_keys: vec![odd.clone(), String::new()],
                arg_sha256: Some("22".into()),
                body_bytes: Some(0),
                body_sha256: Some("00".into()),
                changed_file_count: Some(1),
                command_count: Some(2),
                connector: odd.clone(),
                contract_sha256: Some("11".into()),
                kind: "http.request",
                message_count: Some(2),
                method: Some("POST".into()),
                path: Some(odd.clone()),
                query_sha256: Some("11".into()),
                rpc_method: Some("tools/call".into()),
                tool: Some(odd.clone()),
            })),
            audit: Some("client_cert_denied"),
            client_ip: Some("::1".into()),
            detail: Some(serde_json::json!({"z": [1, "\u{1}"], "a": {"y": null, "b": 1.5}})),
            event: "request",
            gate: Some("ip_allow"),
            outcome: Some(Outcome {
                code: Some("x"),
                duration_us: 5,
                status: 200,
                upstream_status: Some(502),
            }),
            principal: Some(odd.clone()),
            reasons: vec!["r".into(), odd],
            request_id: Some("id".into()),
            risk: Some("low"),
            route: Some("allow"),
            seq: 1,
            state: Some("local_fallback"),
            ts: "2026-12-03T00:00:00.000000Z".into(),
        });
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_and_numbers_match_serde(
            text in proptest::prelude::any::<String>(),
            keys in proptest::collection::vec(proptest::prelude::any::<String>(), 0..3),
            n in proptest::prelude::any::<u64>(),
            status in proptest::prelude::any::<u16>(),
        ) {
            same_as_serde(&TapeRecord {
                action: Some(std::sync::Arc::new(ActionSummary {
                    agent: Some(text.clone()),
                    arg_bytes: Some(n),
                    arg_keys: keys.clone(),
                    connector: text.clone(),
                    kind: "mcp.tools_call",
                    path: Some(text.clone()),
                    ..ActionSummary::default()
                })),
                outcome: Some(Outcome { code: None, duration_us: n, status, upstream_status: None }),
                principal: Some(text.clone()),
                reasons: keys,
                seq: n,
                ts: text,
                ..TapeRecord::default()
            });
        }
    }
}
