//! Where a command connects: hosts in URLs of any scheme, `host:port`,
//! IPv4 literals, socket-tool operands and host-like variables.

use super::patterns::patterns;
use super::vocabulary::{program_class, SOCKET};
use crate::policy::shell::SimpleCommand;

/// The hosts of the URLs (any scheme) in `text`, lower-cased.
pub fn url_hosts(text: &str) -> impl Iterator<Item = String> + '_ {
    // No search (and no captures allocated) without a `://`.
    let urls = super::has(text, "://").then(|| patterns().url.captures_iter(text));
    urls.into_iter().flatten().map(|cap| {
        cap[1]
            .trim_matches(|c| c == '[' || c == ']')
            .to_ascii_lowercase()
    })
}

/// The hosts a command names outside URLs: `host:port`, IPv4 literals,
/// socket addresses and values of host-like variables (`RHOST=…`).
pub fn bare_hosts(cmd: &SimpleCommand, out: &mut Vec<String>) {
    let p = patterns();
    let mut push = |h: &str| {
        let h = h
            .trim_matches(|c| c == '[' || c == ']')
            .to_ascii_lowercase();
        if !h.is_empty() && !out.contains(&h) {
            out.push(h);
        }
    };
    let class = program_class(&cmd.program);
    let remotes = super::names_remotes(cmd, class);
    if remotes {
        if let Some(host) = super::host_option(cmd) {
            push(host);
        }
    }
    for arg in cmd.args.iter().chain(&cmd.assignments) {
        let dots = arg.bytes().filter(|&b| b == b'.').count();
        if dots == 0 {
            continue;
        }
        if let Some(host) = super::scp_target(arg).filter(|_| remotes) {
            push(host);
        }
        if arg.contains(':') {
            for cap in p.host_port.captures_iter(arg) {
                push(&cap[1]);
            }
        }
        if dots < 3 {
            continue;
        }
        for cap in p.ipv4.captures_iter(arg) {
            if cap[1].split('.').all(|o| o.parse::<u8>().is_ok()) {
                push(&cap[1]);
            }
        }
    }
    for assignment in &cmd.assignments {
        if let Some((name, value)) = assignment.split_once('=') {
            let name = name.to_ascii_uppercase();
            if (name.contains("HOST") || name.ends_with("ADDR") || name == "SERVER")
                && !value.is_empty()
                && !value.contains('/')
            {
                push(value.split(':').next().unwrap_or(value));
            }
        }
    }
    if class & SOCKET != 0 && cmd.program != "curl" {
        // `nc host 4444`, `telnet host`: the first operand that looks like a host.
        if let Some(word) = cmd.positional().find(|a| looks_like_host(a)) {
            let host = word.rsplit('@').next().unwrap_or(word);
            push(host.split(':').next().unwrap_or(host));
        }
    }
}

fn looks_like_host(word: &str) -> bool {
    let host = word.rsplit('@').next().unwrap_or(word);
    let host = host.split(':').next().unwrap_or(host);
    !host.is_empty()
        && host.contains('.')
        && !host.contains('/')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && host.rsplit('.').next().is_some_and(|tld| {
            tld.chars().all(|c| c.is_ascii_digit()) || tld.chars().all(|c| c.is_ascii_alphabetic())
        })
}
