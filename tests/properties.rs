//! Properties checked over generated inputs (proptest): the tape chain
//! detects any changed byte; the rate limiter admits exactly its buckets
//! (at a frozen clock) and refills after a window; the X-Forwarded-For
//! resolver picks the rightmost untrusted hop; the path canonicaliser is
//! idempotent; and what the MCP gateway forwards is one line per message
//! for every reader — our framer, Node's readline and Python's
//! TextIOWrapper (a differential test with the real runtimes).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use cpos::config::{ClientIpHeader, RateLimitSettings};
use cpos::gate::client_ip::ClientIpResolver;
use cpos::gate::rate_limit::{GovernorLimiter, RateKey, RateLimiter};
use cpos::mcp::downstream::{line_safe_json, screen};
use cpos::mcp::{ListingFilter, ToolFilter};
use cpos::tape::chain::{check_link, parse_line, row_hash, write_line, Link, GENESIS};
use governor::clock::FakeRelativeClock;
use proptest::prelude::*;

/// A tape of `records` (canonical JSON objects), as written.
fn tape(records: &[(String, u32)]) -> Vec<Vec<u8>> {
    let mut prev = GENESIS.to_owned();
    let mut lines = Vec::new();
    for (seq, (event, size)) in records.iter().enumerate() {
        let canonical = serde_json::to_vec(&serde_json::json!({
            "event": event, "seq": seq + 1, "size": size,
        }))
        .unwrap();
        let hash = row_hash(&prev, &canonical);
        let mut line = Vec::new();
        write_line(&mut line, &prev, &hash, &canonical);
        line.pop();
        lines.push(line);
        prev = hash;
    }
    lines
}

fn verifies(lines: &[Vec<u8>]) -> bool {
    let mut previous: Option<Link> = None;
    for line in lines {
        let Ok(link) = parse_line(line) else {
            return false;
        };
        if check_link(previous.as_ref(), &link).is_err() {
            return false;
        }
        // A whole tape starts at the genesis hash.
        if previous.is_none() && link.prev_hash != GENESIS {
            return false;
        }
        previous = Some(link);
    }
    true
}

proptest! {
    #[test]
    fn the_tape_chain_detects_any_changed_byte(
        records in prop::collection::vec(("[a-z_]{1,12}", any::<u32>()), 1..8),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut lines = tape(&records);
        prop_assert!(verifies(&lines));
        let total: usize = lines.iter().map(Vec::len).sum();
        let mut n = at.index(total);
        for line in &mut lines {
            if n < line.len() {
                line[n] ^= flip;
                break;
            }
            n -= line.len();
        }
        prop_assert!(!verifies(&lines));
    }

    #[test]
    fn a_removed_or_reordered_record_breaks_the_chain(
        records in prop::collection::vec(("[a-z]{1,6}", any::<u32>()), 3..8),
        gone in any::<prop::sample::Index>(),
    ) {
        let lines = tape(&records);
        let mut cut = lines.clone();
        let i = gone.index(cut.len() - 1);
        cut.remove(i);
        prop_assert!(!verifies(&cut));
        let mut swapped = lines;
        swapped.swap(i, i + 1);
        prop_assert!(!verifies(&swapped));
    }

    #[test]
    fn xff_resolves_to_the_rightmost_untrusted_hop(
        clients in prop::collection::vec(any::<[u8; 4]>(), 1..5),
        proxies in 0usize..4,
    ) {
        let resolver = ClientIpResolver::new(&["10.0.0.0/8".into()], ClientIpHeader::XForwardedFor).unwrap();
        // Untrusted hops (never in 10/8), then trusted proxies appended on the right.
        let untrusted: Vec<IpAddr> = clients
            .iter()
            .map(|b| IpAddr::V4(Ipv4Addr::new(if b[0] == 10 { 11 } else { b[0] }, b[1], b[2], b[3])))
            .collect();
        let mut chain: Vec<String> = untrusted.iter().map(ToString::to_string).collect();
        chain.extend((0..proxies).map(|i| format!("10.0.0.{}", i + 1)));
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", chain.join(", ").parse().unwrap());
        let peer: IpAddr = "10.9.9.9".parse().unwrap();
        prop_assert_eq!(resolver.resolve(peer, &headers).unwrap(), *untrusted.last().unwrap());
        // An untrusted peer's header is ignored.
        let outsider: IpAddr = "192.0.2.7".parse().unwrap();
        prop_assert_eq!(resolver.resolve(outsider, &headers).unwrap(), outsider);
    }

    #[test]
    fn the_rate_limiter_never_admits_more_than_its_buckets(
        requests in 1u32..20,
        mutation_share in 0u32..=100,
        calls in prop::collection::vec(any::<bool>(), 1..60),
    ) {
        let mutations = (requests * mutation_share / 100).max(1);
        let settings = RateLimitSettings {
            enabled: true,
            window_seconds: 60,
            requests,
            mutation_requests: mutations,
            ..RateLimitSettings::default()
        };
        let clock = FakeRelativeClock::default();
        let limiter = GovernorLimiter::with_clock(&settings, clock.clone()).unwrap();
        let key = RateKey::Principal(Arc::from("agent"));
        let (mut allowed, mut allowed_mutations) = (0u32, 0u32);
        let mut last_remaining = u32::MAX;
        for (i, &mutation) in calls.iter().enumerate() {
            let verdict = limiter.check(&key, mutation);
            prop_assert!(verdict.remaining <= last_remaining || mutation, "remaining grew at call {}", i);
            prop_assert!(verdict.remaining < verdict.limit || !verdict.allowed);
            if !mutation {
                last_remaining = verdict.remaining;
            }
            if verdict.allowed {
                allowed += 1;
                allowed_mutations += u32::from(mutation);
            } else {
                prop_assert!(verdict.retry_after_secs >= 1);
            }
            if i == 0 {
                prop_assert!(verdict.allowed, "the first call of a fresh key is admitted");
            }
        }
        // The buckets are independent, as in the original: mutations do
        // not consume the general bucket.
        let allowed_general = allowed - allowed_mutations;
        prop_assert!(allowed_general <= requests, "{} admitted over a limit of {}", allowed_general, requests);
        prop_assert!(allowed_mutations <= mutations);
        let asked_general = calls.iter().filter(|m| !**m).count() as u32;
        let asked_mutations = calls.len() as u32 - asked_general;
        prop_assert_eq!(allowed_general, asked_general.min(requests));
        prop_assert_eq!(allowed_mutations, asked_mutations.min(mutations));
        // A whole window later the bucket is full again.
        clock.advance(std::time::Duration::from_secs(60));
        prop_assert!(limiter.check(&key, false).allowed);
    }

    #[test]
    fn the_canonical_path_is_a_fixed_point(path in "(/[a-zA-Z0-9._~%-]{0,6}){1,6}") {
        if let Ok(canonical) = cpos::canonical::canonical_path(&path) {
            let again = cpos::canonical::canonical_path(&canonical).unwrap();
            prop_assert_eq!(&again, &canonical);
            prop_assert!(!canonical.contains("//") && !canonical.contains("/./") && !canonical.contains("/../"));
        }
    }

    #[test]
    fn screened_messages_are_one_line_each(text in "\\PC{0,40}", extra in prop::sample::select(vec![
        "\r", "\n", "\u{2028}", "\u{2029}", "\u{85}", "\u{b}", "\u{c}", "\u{1c}", "\u{1d}", "\u{1e}", "\r\n",
    ])) {
        let listing = ListingFilter {
            connector: Arc::from("c"),
            filter: Arc::new(ToolFilter::default()),
            pins: None,
            tape: None,
        };
        let message = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/message",
            "params": {"data": format!("{text}{extra}{text}")}});
        let out = screen(message.to_string().as_bytes(), &listing).unwrap();
        prop_assert_eq!(split_lines_like_python(&out), 1);
        prop_assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap(), message);
    }
}

/// Lines as Python's `str.splitlines()` sees them (the widest set of
/// separators any reader uses).
fn split_lines_like_python(bytes: &[u8]) -> usize {
    let text = std::str::from_utf8(bytes).unwrap();
    let separators = [
        '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
        '\u{2029}',
    ];
    text.split(|c| separators.contains(&c)).count()
}

/// The differential test: messages full of line separators inside strings,
/// framed as the gateway forwards them, counted by Node's readline and
/// Python's TextIOWrapper and `splitlines`; everyone agrees on one line per
/// message.
#[test]
fn node_and_python_readers_agree_with_our_framing() {
    let tricky = [
        "plain",
        "cr\rinside",
        "lf\ninside",
        "crlf\r\n",
        "ls\u{2028}ps\u{2029}",
        "nel\u{85}",
        "vt\u{b}ff\u{c}",
        "fs\u{1c}gs\u{1d}rs\u{1e}",
        "\"}\r{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\"}",
        "emoji 🦀",
        "nul\u{0}",
    ];
    let mut framed = Vec::new();
    for (i, text) in tricky.iter().enumerate() {
        let message = serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": text}}});
        framed.extend(line_safe_json(&message));
        framed.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("framed.jsonl");
    std::fs::write(&file, &framed).unwrap();
    let node = std::process::Command::new("node")
        .arg("-e")
        .arg("const rl = require('readline').createInterface({input: require('fs').createReadStream(process.argv[1])}); let n = 0; rl.on('line', (l) => { JSON.parse(l); n++; }); rl.on('close', () => console.log(n));")
        .arg(&file)
        .output()
        .unwrap();
    let python = std::process::Command::new("python3")
        .arg("-c")
        .arg("import io, json, sys\nlines = io.TextIOWrapper(open(sys.argv[1], 'rb'), encoding='utf-8').readlines()\n[json.loads(l) for l in lines]\nprint(len(lines), len(open(sys.argv[1], encoding='utf-8').read().splitlines()))")
        .arg(&file)
        .output()
        .unwrap();
    let expected = tricky.len().to_string();
    assert_eq!(
        String::from_utf8_lossy(&node.stdout).trim(),
        expected,
        "node: {}",
        String::from_utf8_lossy(&node.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        format!("{expected} {expected}"),
        "python: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    // And our own framer reads the same messages back.
    for line in framed.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        cpos::mcp::jsonrpc::parse(line).unwrap();
    }
}
