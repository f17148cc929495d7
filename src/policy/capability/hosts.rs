//! Where a command connects: hosts in URLs of any scheme, `host:port`,
//! IPv4 literals, socket-tool operands and host-like variables.

use super::patterns::patterns;
use super::vocabulary::{program_class, SOCKET};
use crate::policy::shell::SimpleCommand;

/// The hosts of the URLs (any scheme) in `text`, as [`canonical_host`]s.
pub fn url_hosts(text: &str) -> impl Iterator<Item = String> + '_ {
    // No search (and no captures allocated) without a `://`.
    let urls = super::has(text, "://").then(|| patterns().url.captures_iter(text));
    urls.into_iter()
        .flatten()
        .map(|cap| canonical_host(&cap[1]))
}

/// A host as a client connects to it: lower-cased, without brackets or a
/// trailing dot, and an address written any way a URL parser or
/// `inet_aton` accepts (`2852039166`, `0xA9FEA9FE`, `0251.0376.0251.0376`,
/// `169.254.43518`, `::ffff:169.254.169.254`) as its dotted quad, so the
/// allowlist and host rules see the address that is dialled.
pub fn canonical_host(host: &str) -> String {
    let host = host
        .trim_matches(|c| c == '[' || c == ']')
        .trim_end_matches('.');
    if let Some(v4) = numeric_ipv4(host) {
        return v4.to_string();
    }
    if host.contains(':') {
        if let Ok(v6) = host.parse::<std::net::Ipv6Addr>() {
            return match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            };
        }
    }
    host.to_ascii_lowercase()
}

/// An IPv4 address in `inet_aton` form: one to four parts, each decimal,
/// octal (leading `0`) or hex (`0x`), the last filling the remaining bytes.
fn numeric_ipv4(host: &str) -> Option<std::net::Ipv4Addr> {
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x' || b == b'X')
    {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for part in &parts {
        let value = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else if part.len() > 1 && part.starts_with('0') {
            u32::from_str_radix(&part[1..], 8).ok()?
        } else {
            part.parse::<u32>().ok()?
        };
        values.push(value);
    }
    let (&last, head) = values.split_last()?;
    // The last part fills the bytes the others leave.
    let fits = head.is_empty() || last >> (8 * (4 - head.len())) == 0;
    if head.iter().any(|&v| v > 255) || !fits {
        return None;
    }
    let mut address = last;
    for (i, &v) in head.iter().enumerate() {
        address |= v << (24 - 8 * i);
    }
    Some(std::net::Ipv4Addr::from(address))
}

/// The hosts a command names outside URLs: `host:port`, IPv4 literals,
/// socket addresses and values of host-like variables (`RHOST=…`).
pub fn bare_hosts(cmd: &SimpleCommand, out: &mut Vec<String>) {
    let p = patterns();
    let mut push = |h: &str| {
        let h = canonical_host(h);
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
        // `git config url.git@evil.example:.insteadOf …`: the rewrite's host.
        if cmd.program == "git" {
            let key = arg.split('=').next().unwrap_or(arg);
            if let Some(host) = super::git_rewrite_base(key).and_then(super::scp_target) {
                push(host);
            }
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

/// The domains a mail sender sends to: every argument of a mail-sending
/// program (or `git send-email`) that is a list of `user@domain`
/// addresses with a dotted domain (`a@evil.example`, `--to=a@x.example,b@y.example`,
/// `<a@x.example>`), except the sender's own (`-f`, `-r`, `--from`).
pub fn mail_domains(cmd: &SimpleCommand) -> impl Iterator<Item = &str> {
    let sends = super::vocabulary::is_mail_sender(&cmd.program)
        || (cmd.program == "git" && cmd.positional().next() == Some("send-email"))
        || cmd.program.eq_ignore_ascii_case("send-mailmessage");
    let args = if sends { &cmd.args[..] } else { &[] };
    args.iter()
        .enumerate()
        .filter(move |(i, _)| {
            *i == 0
                || !matches!(args[i - 1].as_str(), "-f" | "-r" | "--from")
                    && !args[i - 1].eq_ignore_ascii_case("-from")
        })
        .flat_map(|(_, arg)| {
            let list = match arg.split_once('=') {
                Some((option, value)) if option.starts_with('-') => value,
                _ => arg.as_str(),
            };
            let from = arg.starts_with("--from=") || arg.starts_with("-f") && arg.len() > 2;
            list.split(',')
                .filter(move |_| !from)
                .filter_map(address_domain)
        })
}

/// The domain of one address written as a whole word (`a@b.example`,
/// `<a@b.example>`), when it names a host elsewhere.
fn address_domain(word: &str) -> Option<&str> {
    let word = word.trim().trim_start_matches('<').trim_end_matches('>');
    let (user, domain) = word.rsplit_once('@')?;
    let user_ok = !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
    let domain = domain.trim_end_matches('.');
    (user_ok
        && super::is_hostname(domain)
        && !domain.eq_ignore_ascii_case("localhost")
        && !domain.to_ascii_lowercase().ends_with(".localhost"))
    .then_some(domain)
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

#[cfg(test)]
mod canonical_tests {
    use super::{canonical_host, mail_domains};

    #[test]
    fn mail_recipients_are_read_from_operands_and_option_values() {
        let domains = |line: &str| -> Vec<String> {
            let cmds = crate::policy::shell::split(line);
            mail_domains(&cmds[0]).map(str::to_owned).collect()
        };
        assert_eq!(domains("mail -s 'x' a@one.example"), ["one.example"]);
        assert_eq!(
            domains("mutt -c '<b@two.example>' --to=c@three.example,d@four.example"),
            ["two.example", "three.example", "four.example"]
        );
        assert_eq!(
            domains("git send-email --to x@lists.example p.patch"),
            ["lists.example"]
        );
        // The sender's own address, local users, subjects and non-senders.
        assert!(domains("sendmail -f me@corp.example -r me@corp.example root").is_empty());
        assert!(domains("mail -s 'ping me@x.example' root user@localhost").is_empty());
        assert!(domains("echo a@one.example").is_empty());
        assert!(domains("git log --author=a@one.example").is_empty());
    }

    #[test]
    fn addresses_are_read_as_they_are_dialled() {
        for (written, dialled) in [
            ("169.254.169.254", "169.254.169.254"),
            ("2852039166", "169.254.169.254"),
            ("0xA9FEA9FE", "169.254.169.254"),
            ("0251.0376.0251.0376", "169.254.169.254"),
            ("169.254.43518", "169.254.169.254"),
            ("0x7f.1", "127.0.0.1"),
            ("[::ffff:169.254.169.254]", "169.254.169.254"),
            ("[::FFFF:A9FE:A9FE]", "169.254.169.254"),
            ("[FD00:EC2::254]", "fd00:ec2::254"),
            ("Metadata.Google.Internal.", "metadata.google.internal"),
            ("cafe.be", "cafe.be"),
            ("deadbeef", "deadbeef"),
            ("1.2.3.4.5", "1.2.3.4.5"),
            ("256.1.1.1", "256.1.1.1"),
            ("1.2.3.256", "1.2.3.256"),
        ] {
            assert_eq!(canonical_host(written), dialled, "{written}");
        }
    }
}
