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
    for host in schemeless_url_hosts(cmd) {
        push(host);
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

/// The hosts of URLs written without a scheme (`wget evil.example/x`,
/// `curl 203.0.113.9:8000/p`): every operand of a program whose operands
/// are URLs is one, so `host/path`, `host:port` and a host under a common
/// top-level domain are fetched (plain http), not read as files. Values of
/// the options that take one (`-o out.json`) are not operands.
pub(super) fn schemeless_url_hosts(cmd: &SimpleCommand) -> impl Iterator<Item = &str> {
    let fetcher = super::vocabulary::is_url_fetcher(&cmd.program);
    let args = if fetcher { &cmd.args[..] } else { &[] };
    args.iter().enumerate().filter_map(move |(i, arg)| {
        if arg.starts_with('-')
            || arg.contains("://")
            || (i > 0 && takes_value(&cmd.program, &args[i - 1]))
        {
            return None;
        }
        let authority = arg.split('/').next().unwrap_or(arg);
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        let tld = host.rsplit('.').next().unwrap_or("");
        let url_shaped =
            arg.len() > authority.len() || port.is_some() || super::COMMON_TLDS.contains(&tld);
        (url_shaped
            && super::is_hostname(host)
            && !host.starts_with("127.")
            && !host.ends_with(".localhost"))
        .then_some(host)
    })
}

/// Options of URL fetchers whose value is the next word (a file, a header,
/// credentials), not a URL to fetch.
fn takes_value(program: &str, option: &str) -> bool {
    if let Some(long) = option.strip_prefix("--") {
        return !long.contains('=')
            && matches!(
                long,
                "output"
                    | "output-document"
                    | "output-dir"
                    | "upload-file"
                    | "data"
                    | "data-raw"
                    | "data-binary"
                    | "data-urlencode"
                    | "json"
                    | "form"
                    | "header"
                    | "user"
                    | "proxy"
                    | "config"
                    | "cookie"
                    | "cookie-jar"
                    | "referer"
                    | "user-agent"
                    | "write-out"
                    | "cert"
                    | "key"
                    | "cacert"
                    | "max-time"
                    | "range"
                    | "continue-at"
                    | "directory-prefix"
                    | "input-file"
                    | "post-data"
                    | "post-file"
                    | "body-data"
                    | "body-file"
                    | "request"
                    | "resolve"
                    | "connect-to"
                    | "dir"
                    | "out"
                    | "save-session"
                    | "load-cookies"
                    | "save-cookies"
                    | "certificate"
                    | "private-key"
                    | "ca-certificate"
                    | "auth"
                    | "session"
                    | "timeout"
                    | "tries"
                    | "wait"
                    | "limit-rate"
            );
    }
    // Short options: the last letter of a cluster (`-sSo out`) takes the value.
    let letters: &[u8] = match program {
        "curl" => b"odHuxXTFKbceAwEmrCYyzQDtP",
        "wget" => b"OoaieUtTwQDBARlIXP",
        _ => b"odaiHnsUx",
    };
    option.len() >= 2
        && option.starts_with('-')
        && option
            .as_bytes()
            .last()
            .is_some_and(|b| letters.contains(b))
}
