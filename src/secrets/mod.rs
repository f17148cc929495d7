//! Secret detection: known credential formats, private keys, JWTs,
//! connection strings with passwords, and secret-looking key names with
//! values. Findings name the detector and where, never the value.
//!
//! Used three ways: as a classifier input (secret-touching actions), as a
//! guard in tests that nothing secret reaches the tape, and by
//! `cpos secret-scan`.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde::Serialize;

mod pairs;
mod rule_set;

pub use rule_set::{entropy, RuleSet, GITLEAKS_RULES, NOSEYPARKER_RULES};

/// One detector: a name, a pattern, and what a match must pass to count.
struct Detector {
    name: &'static str,
    pattern: &'static str,
    check: Check,
}

/// What a detector's match must pass to be a finding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// A fixed-format token: not a placeholder ([`token_is_real`]).
    Token,
    /// `key = value`: the value (the pattern's `value` group) could be a
    /// secret and the key does not name a reference ([`assignment_is_real`]).
    Assignment,
    /// The pattern's `value` group could be a secret ([`value_is_real`]).
    Value,
    /// A URL's password is not a placeholder ([`url_password_is_real`]).
    UrlPassword,
    /// A JWT whose header and payload decode ([`jwt_is_real`]).
    Jwt,
    /// A PEM header with a body after it ([`empty_pem_block`]).
    PemBlock,
    /// The maintained rule set covers the format more precisely (its
    /// allowlists of published keys, entropy and shape checks): it decides.
    Maintained,
    /// A literal password with a user name beside it
    /// ([`pairs::is_credential_pair`]); reads the lines around the match.
    Pair,
}

impl Check {
    /// Whether line `line_no` of `text`, which `re` matched, holds a finding.
    fn passes(self, text: &str, line_no: usize, line: &str, re: &Regex) -> bool {
        match self {
            Check::Token => token_is_real(line, re),
            Check::Assignment => assignment_is_real(line, re),
            Check::Value => value_is_real(line, re),
            Check::UrlPassword => url_password_is_real(line, re),
            Check::Jwt => jwt_is_real(line, re),
            Check::PemBlock => !empty_pem_block(line),
            Check::Maintained => false,
            Check::Pair => pairs::is_credential_pair(text, line_no, line, re),
        }
    }
}

/// The detectors, most specific first.
const DETECTORS: &[Detector] = &[
    Detector {
        name: "private_key_pem",
        pattern: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
        check: Check::PemBlock,
    },
    Detector {
        name: "aws_access_key",
        pattern: r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[0-9A-Z]{16}\b",
        check: Check::Token,
    },
    Detector {
        name: "aws_secret_key",
        pattern: r#"(?i)aws.{0,20}?(?:secret|key).{0,20}?['"=:\s]\s*['"]?[A-Za-z0-9/+]{40}\b"#,
        check: Check::Token,
    },
    Detector {
        name: "github_token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        check: Check::Token,
    },
    Detector {
        name: "gitlab_token",
        pattern: r"\b(?:glpat|gldt|glft|glsoat|glrt|glcbt|glwt)-[A-Za-z0-9_\-]{20,50}\b|\bGR1348941[A-Za-z0-9_\-]{20,50}\b|\bglptt-[0-9a-f]{40}\b|\bgloas-[A-Za-z0-9_\-]{64}(?:[^A-Za-z0-9_\-]|$)|\bglimt-[A-Za-z0-9_\-]{25}(?:[^A-Za-z0-9_\-]|$)|\bglagent-[A-Za-z0-9_\-]{50,1024}",
        check: Check::Token,
    },
    Detector {
        name: "slack_token",
        pattern: r"\bxox(?:a|b|p|o|s|r)-(?:\d+-)+[a-z0-9]+\b|https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
        check: Check::Maintained,
    },
    Detector {
        name: "stripe_key",
        pattern: r"\b(?:r|s)k_live_[0-9a-zA-Z]{24,99}\b",
        check: Check::Token,
    },
    Detector {
        name: "openai_key",
        pattern: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}\b|\bsk-[A-Za-z0-9]{48}\b|\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}\b",
        check: Check::Token,
    },
    Detector {
        name: "anthropic_key",
        pattern: r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,}\b",
        check: Check::Maintained,
    },
    Detector {
        name: "google_api_key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}\b",
        check: Check::Maintained,
    },
    Detector {
        name: "jwt",
        pattern: r"\beyJ[A-Za-z0-9_\-]{2,}={0,2}\.eyJ[A-Za-z0-9_\-]{2,}={0,2}(?:\.[A-Za-z0-9_\-]{2,}={0,2})?",
        check: Check::Jwt,
    },
    Detector {
        name: "vault_token",
        pattern: r"\b(?:hvs|hvb|hvr)\.[A-Za-z0-9_\-]{24,}\b|\bs\.[A-Za-z0-9]{24}\b",
        check: Check::Maintained,
    },
    Detector {
        name: "npm_token",
        pattern: r"\bnpm_[A-Za-z0-9]{36}\b|_authToken=[A-Za-z0-9][A-Za-z0-9\-_.]{15,}",
        check: Check::Token,
    },
    Detector {
        name: "pypi_token",
        pattern: r"\bpypi-AgE[A-Za-z0-9_\-]{100,}",
        check: Check::Token,
    },
    Detector {
        name: "sendgrid_key",
        pattern: r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b",
        check: Check::Token,
    },
    Detector {
        name: "twilio_key",
        pattern: r"\b(?:AC|SK)[a-z0-9]{32}\b",
        check: Check::Token,
    },
    Detector {
        name: "mailchimp_key",
        pattern: r"\b[0-9a-z]{32}-us[0-9]{1,2}\b",
        check: Check::Token,
    },
    Detector {
        name: "telegram_bot_token",
        pattern: r"\b\d{8,10}:[0-9A-Za-z_\-]{35}\b",
        check: Check::Token,
    },
    Detector {
        name: "discord_bot_token",
        pattern: r"\b[A-Z][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}\b",
        check: Check::Token,
    },
    Detector {
        name: "artifactory_token",
        pattern: r#"(?:\s|=|:|"|^)AKC[a-zA-Z0-9]{10,}(?:\s|"|$)|(?:\s|=|:|"|^)AP[\dABCDEF][a-zA-Z0-9]{8,}(?:\s|"|$)"#,
        check: Check::Token,
    },
    Detector {
        name: "azure_storage_key",
        pattern: r"AccountKey=[A-Za-z0-9+/=]{40,}",
        check: Check::Token,
    },
    Detector {
        name: "connection_string_password",
        pattern: r#"\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@'"]+:[^\s:/@'"]{3,}@[^\s/'"]+"#,
        check: Check::UrlPassword,
    },
    Detector {
        name: "netrc_password",
        // `.netrc` and `curl --netrc` syntax: `machine h login u password p`.
        pattern: r"\bmachine\s+\S+\s+(?:login\s+\S+\s+)?password\s+(?P<value>\S+)",
        check: Check::Value,
    },
    Detector {
        name: "command_line_password",
        // A password given on a command line, by the options of the
        // programs that take one there: attached (`mysql -pX`, `7z a -pX`),
        // as the next word (`docker login -p X`, `sshpass -p X`,
        // `redis-cli -a X`, `sqlcmd -P X`, `ldapsearch -w X`, `zip -P X`,
        // `openssl enc -k X`, `-passin pass:X`, `keytool -storepass X`,
        // `gpg --passphrase X`), after a user (`smbclient -U u%X`,
        // `htpasswd -b file u X`) and in SQL (`IDENTIFIED BY 'X'`,
        // `WITH PASSWORD 'X'`).
        pattern: r#"(?:\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlsh|mariadb|mariadb-dump|mariadb-admin|7z|7za|7zr)\b[^\n;&|]*?\s-p|\b(?:sshpass|mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport)\b[^\n;&|]*?\s-p\s+|\b(?:docker|podman|nerdctl|buildah|skopeo|helm|oras|crane)\b[^\n;&|]*?\blogin\b[^\n;&|]*?\s-p\s+|\bredis-cli\b[^\n;&|]*?\s-a\s+|\baz\s+login\b[^\n;&|]*?\s-p\s+|\b(?:sqlcmd|bcp|mosquitto_pub|mosquitto_sub|zip|unzip)\b[^\n;&|]*?\s-P\s+|\bldap(?:search|add|modify|delete|passwd|compare|whoami|modrdn)\b[^\n;&|]*?\s-w\s+|\bsmbclient\b[^\n;&|]*?\s-U\s+[^\s%]+%|\bkeytool\b[^\n;&|]*?\s-(?:src|dest)?(?:store|key)pass\s+|\bopenssl\b[^\n;&|]*?\s-k\s+|\s-pass(?:in|out)?\s+pass:|\bgpg2?\b[^\n;&|]*?\s--passphrase(?:=|\s+)|\bhtpasswd\s+-[a-zA-Z]*b[a-zA-Z]*\s+\S+\s+\S+\s+|(?i:\bidentified\s+(?:with\s+\S+\s+)?by\s+|\b(?:with|encrypted)\s+password\s+))['"]?(?P<value>[^\s'";]{3,})"#,
        check: Check::Value,
    },
    Detector {
        name: "ibm_cloud_iam_key",
        pattern: r#"(?i)(?:ibm|iam|cloud)[_\-.]?(?:api)?[_\-.]?key['"]?\s*[:=]\s*['"]?[A-Za-z0-9_\-]{44}\b"#,
        check: Check::Token,
    },
    Detector {
        name: "softlayer_key",
        pattern: r#"(?i)(?:softlayer|\bsl)[_\-.]?(?:api)?[_\-.]?key['"]?\s*[:=]\s*['"]?[a-z0-9]{64}\b|api\.softlayer\.com/(?:soap|rest)/v3(?:\.1)?/[^\s]*[a-z0-9]{64}"#,
        check: Check::Token,
    },
    Detector {
        name: "ibm_cos_hmac_secret",
        pattern: r#"(?i)secret[_\-.]?access[_\-.]?key['"]?\s*[:=]\s*['"]?[a-f0-9]{48}\b"#,
        check: Check::Token,
    },
    Detector {
        name: "cloudant_credential",
        pattern: r#"(?i)cl(?:ou(?:dant)?|ant)?[_\-.]?(?:api)?[_\-.]?(?:key|pw|pwd|password|secret)['"]?\s*(?::=|[:=])\s*['"]?[a-z0-9]{24,64}\b|https?://[\w\-]+:[a-z0-9]{24,64}@[\w\-]+\.cloudant\.com"#,
        check: Check::Token,
    },
    Detector {
        name: "secret_assignment",
        // `name = value`, `name: value`; whitespace separates a value only
        // after an option (`--password hunter2`), not after any word
        // (`aws secretsmanager list-secrets` is not an assignment). A
        // quoted value runs to its closing quote, so it may hold the other
        // quote (`"7`D'}/vY…"`).
        pattern: r#"(?i)(?:\b[a-z0-9_.\-]*(?:password|passwd|pwd|_pass\b|secret|token|api[_\-]?key|apikey|private[_\-]?key|credential)[a-z0-9_.\-]*['"]?\s*(?::=|=>|[:=])\s*|(?:^|\s)--?[a-z0-9_.\-]*(?:password|passwd|pwd|pass|secret|token|api[_\-]?key|apikey|private[_\-]?key|credential)[a-z0-9_\-]*\s+)(?:"(?P<dq>[^\s"]{8,})"|'(?P<sq>[^\s']{8,})'|['"]?(?P<value>[^\s'"]{8,}))"#,
        check: Check::Assignment,
    },
    Detector {
        name: "credential_pair",
        // A password key and its value, as `secret_assignment` reads them
        // but down to six characters; the check asks for a user beside it.
        pattern: r#"(?i)(?:(?:^|[^a-z0-9])(?:[a-z0-9_.\-]*[_.\-])?(?:password|passwd|pwd|pass|pw)['"]?\s*(?::=|=>|[:=])\s*|(?:^|\s)--?(?:[a-z0-9_\-]*[_\-])?(?:password|passwd|pwd|pass)\s+)['"]?(?P<value>[^\s'",;&]{6,})"#,
        check: Check::Pair,
    },
];

/// Key names that hold secrets (JSON keys, form fields, env names).
const SECRET_KEY: &str =
    r"(?i)(token|secret|password|passwd|api[_\-]?key|private[_\-]?key|credential)";

/// Values that are placeholders, not secrets.
const PLACEHOLDER: &str = r"(?i)^(?:|x+|\*+|\.+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|changeme|redacted|none|null|true|false|example|placeholder|your[_\-]?\w*|dummy|test)$|insert|_here\b|fake|sample|example|dummy|placeholder|xxxx|\$\{|^\$\(|^`";

struct Compiled {
    set: RegexSet,
    /// Each detector alone, compiled the first time the set finds it.
    each: Vec<OnceLock<Regex>>,
    secret_key: Regex,
    placeholder: Regex,
    /// The fewest bytes any detector here or in the maintained rule set
    /// matches: a shorter text (most JSON keys and enum-like values) is
    /// not searched.
    min_len: usize,
}

impl Compiled {
    /// Detector `index`'s own regex.
    fn detector(&self, index: usize) -> &Regex {
        self.each[index]
            .get_or_init(|| Regex::new(DETECTORS[index].pattern).expect("static detector pattern"))
    }
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        // Static patterns, not input: `static_patterns_compile` tests them.
        let patterns: Vec<&str> = DETECTORS.iter().map(|d| d.pattern).collect();
        Compiled {
            set: RegexSet::new(&patterns).expect("static detector patterns"),
            each: patterns.iter().map(|_| OnceLock::new()).collect(),
            secret_key: Regex::new(SECRET_KEY).expect("static key pattern"),
            placeholder: Regex::new(PLACEHOLDER).expect("static placeholder pattern"),
            min_len: patterns
                .iter()
                .map(|p| rule_set::minimum_len(p, true))
                .min()
                .unwrap_or(0)
                .min(RuleSet::embedded().min_len()),
        }
    })
}

/// A secret found: which detector, where. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Detector name (`aws_access_key`, `secret_key_name`, …).
    pub detector: &'static str,
    /// Where: a JSON path (`arguments.api_key`), `line 12`, or a field name.
    pub location: String,
}

/// Scans free text; `location` names the text (a field or file). The
/// hand-written detectors run first; the maintained rule set
/// ([`RuleSet::embedded`]) adds what they do not cover on that line.
/// The location is only formatted when something is found.
pub fn scan_text(text: &str, location: impl std::fmt::Display, out: &mut Vec<Finding>) {
    let c = compiled();
    if text.len() < c.min_len {
        return;
    }
    let multi_line = text.contains('\n');
    let at = |line_no: usize| match multi_line {
        true => format!("{location}:{}", line_no + 1),
        false => location.to_string(),
    };
    let first = out.len();
    if c.set.is_match(text) {
        for (line_no, line) in text.lines().enumerate() {
            let line_first = out.len();
            for idx in c.set.matches(line).iter() {
                let check = DETECTORS[idx].check;
                // A pair adds nothing to a line another detector found.
                if (check == Check::Pair && out.len() > line_first)
                    || !check.passes(text, line_no, line, c.detector(idx))
                {
                    continue;
                }
                let finding = Finding {
                    detector: DETECTORS[idx].name,
                    location: at(line_no),
                };
                if !out.contains(&finding) {
                    out.push(finding);
                }
            }
        }
    }
    RuleSet::embedded().scan(text, |detector, range, secret| {
        // The same filters as the hand-written detectors: placeholders and
        // examples are not secrets, a vendor's prefix is its rule's to
        // judge, a JWT must decode.
        // Byte ranges: a match may end inside a multi-byte character.
        let piece = |r: std::ops::Range<usize>| String::from_utf8_lossy(&text.as_bytes()[r]);
        let value = piece(secret);
        if made_up(&value)
            || (detector.contains("generic") && has_vendor_prefix(&value))
            || (detector.contains("jwt")
                && !jwt_is_real(&piece(range.clone()), c.detector(jwt_index())))
        {
            return;
        }
        let line_no = text.as_bytes()[..range.start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let location = at(line_no);
        if out[first..].iter().any(|f| f.location == location) {
            return;
        }
        out.push(Finding { detector, location });
    });
}

/// True for a value that is a placeholder (`${TOKEN}`, `<your-key>`,
/// `changeme`, `…EXAMPLE`) or a made-up run: the filter of the rule sets'
/// secrets and of assigned values. (Fixed-format tokens of the hand-written
/// detectors keep the placeholder check alone: their examples in
/// detect-secrets' tests count up, and that set's recall fell 0.81 → 0.72.)
fn made_up(value: &str) -> bool {
    compiled().placeholder.is_match(value) || counts_or_repeats(value.as_bytes())
}

/// True when a value holds a run no random secret has: six characters
/// counting up (`123456`, `abcdef`) or six of the same (`000000`, `######`),
/// the marks of a made-up example. A random 40-character base62 token has
/// such a run with odds below one in a million.
fn counts_or_repeats(value: &[u8]) -> bool {
    const RUN: usize = 6;
    value.windows(RUN).any(|w| {
        w.windows(2)
            .all(|p| p[1] == p[0] + 1 && p[0].is_ascii_alphanumeric())
            || w.iter().all(|&b| b == w[0])
    })
}

/// The index of the JWT detector.
fn jwt_index() -> usize {
    DETECTORS
        .iter()
        .position(|d| d.check == Check::Jwt)
        .expect("a jwt detector")
}

/// A PEM header followed at once by its footer: a key with no body.
fn empty_pem_block(line: &str) -> bool {
    line.split("PRIVATE KEY-----")
        .nth(1)
        .is_some_and(|rest| rest.trim_start().starts_with("-----END"))
}

/// A fixed-format token that is not a placeholder (`ghp_xxxx…`,
/// `AKIA…EXAMPLE`, `xoxp-####`) and has the randomness of a real one
/// (Shannon entropy ≥ 3 bits per character, as gitleaks asks of its
/// token rules).
fn token_is_real(line: &str, re: &Regex) -> bool {
    let c = compiled();
    re.find_iter(line).any(|m| {
        let token = m.as_str();
        !c.placeholder.is_match(token) && !token.contains("##")
    })
}

/// An assignment whose value (everything after the key's separator, so
/// `user:Pa55`, `arn:…:x/y` and base64's `==` stay whole) could be a secret.
fn assignment_is_real(line: &str, re: &Regex) -> bool {
    let c = compiled();
    re.captures_iter(line).any(|caps| {
        let assignment = caps.get(0).map_or("", |m| m.as_str());
        let quoted = caps.name("dq").or_else(|| caps.name("sq"));
        // A quoted value wrapped in the other quote is a shell splice
        // (`"'$PASSWORD'"`): judged without them.
        let value = quoted
            .or_else(|| caps.name("value"))
            .map_or("", |m| m.as_str().trim_matches(['\'', '"']));
        !made_up(value)
            && !c.placeholder.is_match(assignment)
            && (looks_like_secret_value(value) || (quoted.is_some() && random_string(value)))
            && !names_a_reference(assignment)
            && !has_vendor_prefix(value)
    })
}

/// True when a value starts with a vendor's token prefix (`xoxp-`, `ghp_`,
/// `glpat-`, `hvs.`, `sk_live_`, `AKIA`…). Its vendor's own rule, which
/// knows the format's length and alphabet, decides whether it is one: a
/// malformed token (`xoxp-1234-1234-…`, a short `hvs.…`) is an example, not
/// a secret the generic assignment should find instead.
fn has_vendor_prefix(value: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "xoxa-",
        "xoxb-",
        "xoxe-",
        "xoxo-",
        "xoxp-",
        "xoxr-",
        "xoxs-",
        "xapp-",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "gldt-",
        "glrt-",
        "glptt-",
        "glsoat-",
        "hvs.",
        "hvb.",
        "hvr.",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
        "sk-ant-",
        "sk-proj-",
        "npm_",
        "pypi-",
        "shpat_",
        "shpss_",
        "shpca_",
        "shppa_",
        "dop_v1_",
        "doo_v1_",
        "dckr_pat_",
        "lin_api_",
        "pscale_tkn_",
        "AKIA",
        "ASIA",
        "AIza",
    ];
    PREFIXES.iter().any(|p| value.starts_with(p))
}

/// A `scheme://user:password@host` whose password is not a placeholder
/// (`user:password@`, `:****@`, `:${DB_PASS}@`). The password alone is
/// judged: a documentation host (`db.example.com`) does not make a real
/// password made up.
fn url_password_is_real(line: &str, re: &Regex) -> bool {
    re.find_iter(line).any(|m| {
        let rest = m.as_str().split_once("://").map_or("", |(_, r)| r);
        let userinfo = rest.rsplit_once('@').map_or("", |(u, _)| u);
        let password = userinfo.split_once(':').map_or("", |(_, p)| p);
        !made_up(password) && !is_word_placeholder(password)
    })
}

/// Words that stand for a credential in examples: `password`, `pass`,
/// `secret`, `pwd`, `passwd` (any case).
fn is_word_placeholder(value: &str) -> bool {
    ["password", "passwd", "pass", "pwd", "secret", "pw"]
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w))
}

/// A detector whose pattern names its value `(?P<value>…)`: the value is
/// neither made up nor a reference (`machine h password p`).
fn value_is_real(line: &str, re: &Regex) -> bool {
    re.captures_iter(line)
        .any(|caps| could_be_secret(caps.name("value").map_or("", |m| m.as_str())))
}

/// A value that is not made up, not a word standing for a credential and
/// not code or a reference.
fn could_be_secret(value: &str) -> bool {
    !made_up(value) && !is_word_placeholder(value) && looks_like_secret_value(value)
}

/// True when an assignment's key names something about a secret, not the
/// secret: `credentialsId`, `secret_name`, `PASSWORD_FILE`, `token_url`,
/// `--password-stdin` (the value is read from the input, not written here).
fn names_a_reference(assignment: &str) -> bool {
    let key = assignment
        .trim_start_matches(|c: char| c == '-' || c.is_whitespace())
        .split(['=', ':', ' ', '"', '\''])
        .next()
        .unwrap_or("");
    const SUFFIXES: &[&str] = &[
        "id", "ids", "name", "names", "path", "file", "url", "uri", "type", "length", "count",
        "size", "version", "hint", "field", "label", "header", "env", "var", "ref", "arn",
        // Options whose value is not the secret: it is read elsewhere
        // (`--password-stdin registry.example`, `--password-command "pass x"`).
        "stdin", "prompt", "command", "cmd",
    ];
    SUFFIXES.iter().any(|suffix| {
        key.len() > suffix.len()
            && key.is_char_boundary(key.len() - suffix.len())
            && key[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            && {
                let before = key.as_bytes()[key.len() - suffix.len() - 1];
                let first = key.as_bytes()[key.len() - suffix.len()];
                matches!(before, b'_' | b'-' | b'.')
                    || (first.is_ascii_uppercase() && before.is_ascii_lowercase())
            }
    })
}

/// A value an assignment could hide a secret in: not code or a reference
/// (`os.getenv(…)`, `settings.api_token`, `MY_TOKEN`, `$BASE/x`, a path,
/// a `#selector`, escaped markup `&lt;…`), not plain words
/// (`notapassword`, `shorter-version`): a digit, mixed case or a symbol.
fn looks_like_secret_value(value: &str) -> bool {
    // A leading `#` marks a selector or an anchor (`#add-password`); what
    // follows must look like a secret by itself.
    let value = value.strip_prefix('#').unwrap_or(value);
    if is_code_or_reference(value) {
        return false;
    }
    let (mut digit, mut upper, mut lower, mut symbol) = (false, false, false, false);
    for b in value.bytes() {
        match b {
            b'0'..=b'9' => digit = true,
            b'A'..=b'Z' => upper = true,
            b'a'..=b'z' => lower = true,
            b'_' | b'-' | b'.' => {}
            _ => symbol = true,
        }
    }
    digit || (upper && lower) || symbol
}

/// A long quoted string of many kinds of characters spread evenly
/// (`"7`D'}/vYR)T;W\5]EBrf;…"`): a generated secret, even where brackets
/// or parentheses would otherwise read as code. Code and prose repeat
/// their letters (a call like `os.environ.get('DB_PASSWORD')` stays
/// under the threshold).
fn random_string(value: &str) -> bool {
    value.len() >= 24 && rule_set::entropy(value.as_bytes()) >= 4.5
}

/// Code or a reference, not a literal: a call or an interpolation
/// (`os.getenv(…)`, `${X}`), a path or a variable (`/run/x`, `$X`), an
/// address, escaped markup (`&lt;…`), a dotted name without a digit or a
/// symbol (`settings.db.password`).
fn is_code_or_reference(value: &str) -> bool {
    value.contains(['(', ')', '[', ']', '{', '}'])
        || value.starts_with(['/', '$'])
        || is_plain_url(value)
        || (value.starts_with('&') && value.contains(';'))
        || (value.contains('.')
            && value
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || matches!(b, b'.' | b'_' | b'-')))
}

/// A URL without credentials in it (`https://host/reset`): an address,
/// not a secret. One with `user:password@` is the URL detectors' to judge.
fn is_plain_url(value: &str) -> bool {
    value.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+')
            && !rest
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("")
                .contains('@')
    })
}

/// A JWT's header and payload must decode to JSON objects.
fn jwt_is_real(line: &str, re: &Regex) -> bool {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    re.find_iter(line).any(|m| {
        m.as_str().split('.').take(2).all(|part| {
            engine
                .decode(part.trim_end_matches('='))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .is_some_and(|v| v.is_object())
        })
    })
}

/// Scans a JSON value: every string, plus secret-looking keys holding
/// non-empty, non-placeholder values.
pub fn scan_json(value: &serde_json::Value, root: &str, out: &mut Vec<Finding>) {
    walk(value, root, &mut Vec::new(), out);
}

/// One step of a JSON path, borrowed: the path is formatted only when a
/// finding needs it, never per key on the request path.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Where a value sits (`arguments.items[2].token`), written out only when a
/// finding is recorded.
struct Location<'p, 'a> {
    root: &'p str,
    path: &'p [Step<'a>],
}

impl std::fmt::Display for Location<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.root)?;
        for step in self.path {
            match step {
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn walk<'a>(
    value: &'a serde_json::Value,
    root: &str,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<Finding>,
) {
    let c = compiled();
    match value {
        // Both layers, the hand-written detectors and the maintained rule
        // set: a value only the rule set knows (a Doppler or Shopify token)
        // is as much a secret in an argument as in a command line.
        serde_json::Value::String(s) => scan_text(s, Location { root, path }, out),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(item, root, path, out);
                path.pop();
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                path.push(Step::Key(key));
                let filled = || match item {
                    serde_json::Value::String(s) => !c.placeholder.is_match(s.trim()),
                    serde_json::Value::Null | serde_json::Value::Bool(_) => false,
                    serde_json::Value::Number(_) => true,
                    serde_json::Value::Array(a) => !a.is_empty(),
                    serde_json::Value::Object(_) => false,
                };
                if c.secret_key.is_match(key) && filled() && !is_benign_key(key) {
                    out.push(Finding {
                        detector: "secret_key_name",
                        location: Location { root, path }.to_string(),
                    });
                }
                walk(item, root, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Key names that contain a secret word but describe, not hold, secrets.
fn is_benign_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.ends_with("_count")
        || k.ends_with("_type")
        || k.ends_with("_id") && !k.contains("secret")
        || k.ends_with("_name")
        || k.ends_with("_file")
        || k.ends_with("_path")
        || k.ends_with("_url") && !k.contains("password")
        || k == "max_tokens"
        || k == "tokens"
        || k.starts_with("num_")
}

/// `text` with every detector match replaced by its first four characters
/// and `…[masked]` (for showing a value to a person; never persisted).
pub fn mask_text(text: &str) -> String {
    let c = compiled();
    let mut out = text.to_owned();
    if c.set.is_match(text) {
        for idx in c.set.matches(text).iter() {
            out = c
                .detector(idx)
                .replace_all(&out, |m: &regex::Captures<'_>| {
                    let whole = m.get(0).map_or("", |w| w.as_str());
                    // A detector that names its value (`-pX`, `password = X`)
                    // keeps the words around it for the reviewer and masks
                    // the value whole.
                    if let (Some(all), Some(value)) = (m.get(0), m.name("value")) {
                        let (from, to) = (value.start() - all.start(), value.end() - all.start());
                        return format!("{}[masked]{}", &whole[..from], &whole[to..]);
                    }
                    let keep: String = whole.trim_start().chars().take(4).collect();
                    format!("{keep}…[masked]")
                })
                .into_owned();
        }
    }
    // What only the maintained rule set recognises: its secret part.
    let mut ranges = Vec::new();
    RuleSet::embedded().scan(&out, |_, _, secret| ranges.push(secret));
    ranges.sort_by_key(|r| std::cmp::Reverse(r.start));
    let mut last_start = usize::MAX;
    for r in ranges {
        let (mut start, mut end) = (r.start, r.end.min(last_start));
        while !out.is_char_boundary(start) {
            start -= 1;
        }
        while end < out.len() && !out.is_char_boundary(end) {
            end += 1;
        }
        if start >= end || out[start..end].contains("[masked]") {
            continue;
        }
        let keep: String = out[start..end].chars().take(4).collect();
        out.replace_range(start..end, &format!("{keep}…[masked]"));
        last_start = start;
    }
    out
}

/// A JSON value with every string masked ([`mask_text`]) and the values of
/// secret-named keys masked whole.
pub fn mask_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let c = compiled();
    match value {
        Value::String(s) => Value::String(mask_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let secret_key = c.secret_key.is_match(key) && !is_benign_key(key);
                    let masked = match item {
                        Value::String(s) if secret_key && !c.placeholder.is_match(s.trim()) => {
                            Value::String("[masked]".into())
                        }
                        Value::Number(_) if secret_key => Value::String("[masked]".into()),
                        other => mask_json(other),
                    };
                    (key.clone(), masked)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// True when `text` holds anything a detector recognises.
pub fn contains_secret(text: &str) -> bool {
    let mut out = Vec::new();
    scan_text(text, "", &mut out);
    !out.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_shorter_than_any_match_are_not_searched() {
        // Read off the patterns (the shortest detectors span 8 bytes: a
        // Slack token's `xoxb-1-a`), not a guess.
        assert_eq!(rule_set::minimum_len(r"xox[abp]-[0-9]{3,}", true), 8);
        assert_eq!(rule_set::minimum_len(r"(?i)key\s*=\s*(\w{4,})", true), 8);
        assert_eq!(compiled().min_len, 8);
        assert!(RuleSet::embedded().min_len() >= compiled().min_len);
        let mut found = Vec::new();
        scan_text("pass", "t", &mut found);
        scan_text("mysql -pS3cr3t", "t", &mut found);
        assert_eq!(found.len(), 1, "{found:?}");
        // A key that names a secret is still seen whatever its value.
        let mut found = Vec::new();
        scan_json(
            &serde_json::json!({"token": "abc"}),
            "arguments",
            &mut found,
        );
        assert_eq!(found[0].detector, "secret_key_name");
    }

    #[test]
    fn masking_covers_what_only_the_maintained_rules_find() {
        // A Shopify token: no hand-written detector knows it, gitleaks does.
        let key = "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";
        let text = format!("shop = \"{key}\" # ci");
        let mut found = Vec::new();
        scan_text(&text, "t", &mut found);
        let detectors: Vec<&str> = found.iter().map(|f| f.detector).collect();
        assert_eq!(detectors, ["gitleaks.shopify-access-token"]);
        let masked = mask_text(&text);
        assert!(!masked.contains(key), "{masked}");
        assert!(
            masked.contains("shpa…[masked]") && masked.ends_with("# ci"),
            "{masked}"
        );
    }

    #[test]
    fn json_values_are_scanned_by_the_maintained_rules_too() {
        // No hand-written detector knows a Shopify token: the rule set must
        // still find it in a tool argument, at its JSON path.
        let args = serde_json::json!({
            "items": [{"note": "use 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 here"}],
            "path": "src/main.rs",
        });
        let mut found = Vec::new();
        scan_json(&args, "arguments", &mut found);
        assert_eq!(
            found,
            [Finding {
                detector: "gitleaks.shopify-access-token",
                location: "arguments.items[0].note".into(),
            }]
        );
    }

    #[test]
    fn masking_a_command_line_password_keeps_the_command() {
        let masked = mask_text("mysql -u root -pS3cr3tPassw0rd! -h db.internal");
        assert_eq!(masked, "mysql -u root -p[masked] -h db.internal");
        let masked = mask_text("CREATE USER app IDENTIFIED BY 'Tr0ub4dor&3xyz';");
        assert!(!masked.contains("Tr0ub"), "{masked}");
        assert!(
            masked.starts_with("CREATE USER app IDENTIFIED BY"),
            "{masked}"
        );
    }

    #[test]
    fn masking_hides_secret_values_and_keeps_the_rest() {
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let masked = mask_text(&format!("git push https://x:{token}@github.com/o/r main"));
        assert!(!masked.contains(token), "{masked}");
        assert!(
            masked.contains("git push") && masked.contains("[masked]"),
            "{masked}"
        );
        let json = mask_json(
            &serde_json::json!({"password": "hunter2hunter2", "cmd": format!("echo {token}"), "n": 3}),
        );
        assert_eq!(json["password"], "[masked]");
        assert!(!json.to_string().contains(token));
        assert_eq!(json["n"], 3);
    }

    fn detect(text: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        scan_text(text, "t", &mut out);
        out.into_iter().map(|f| f.detector).collect()
    }

    #[test]
    fn static_patterns_compile() {
        assert_eq!(compiled().each.len(), DETECTORS.len());
    }

    #[test]
    fn known_formats() {
        assert_eq!(detect("key AKIAQ3EGRSUL6TZ7X4NB here"), ["aws_access_key"]);
        assert!(detect(&format!("ghp_{}", "a".repeat(36))).contains(&"github_token"));
        assert!(detect("-----BEGIN OPENSSH PRIVATE KEY-----").contains(&"private_key_pem"));
        assert!(detect("postgres://app:hunter2secret@db:5432/x")
            .contains(&"connection_string_password"));
        assert!(detect("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl").contains(&"jwt"));
    }

    #[test]
    fn near_misses_and_placeholders() {
        assert!(detect("akiaiosfodnn7example").is_empty());
        assert!(detect("password = ${DB_PASSWORD}").is_empty());
        assert!(detect("just a report about ports").is_empty());
        // References, code and plain words are not secret values.
        assert!(detect("PASSWORD=$(get-password)").is_empty());
        assert!(detect("password = os.getenv(\"DB_PASSWORD\")").is_empty());
        assert!(detect("token: settings.api_token_value").is_empty());
        assert!(detect("not_secret = notapassword").is_empty());
        assert!(detect("secret_name = DATABASE_MASTER_KEY").is_empty());
        assert!(detect("credentialsId: 'ff083f76-7804-4ef1-80e4-fe975bb9141b'").is_empty());
        assert!(detect("PASSWORD_FILE=/run/secrets/db-pass-2").is_empty());
        // Placeholders in a known format are not secrets.
        assert!(detect("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").is_empty());
        assert!(detect("key = AKIAXXXXXXXXXXXXXXXX").is_empty());
        assert!(
            detect("xoxp-572370529330-573807301142-572331691188-####################").is_empty()
        );
        // A vendor's prefix is its rule's to judge: a malformed token is
        // not a generic assignment's find.
        assert!(
            detect("\"token3\": \"xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d\"")
                .is_empty()
        );
        assert!(detect("token = \"glpat-Zq8vL2mN4p\"").is_empty());
        assert!(!detect("token = \"glpat-Zq8vL2mN4pR7xK9wB3cD\"").is_empty());
        // A literal with a digit, mixed case or a symbol is one.
        assert_eq!(
            detect("db_password = \"S3cr3t-Pa55\""),
            ["secret_assignment"]
        );
        assert_eq!(detect("--password Tr0ub4dor&3"), ["secret_assignment"]);
        for line in [
            "mysql -u root -pS3cr3tPassw0rd! -h db.internal",
            "docker login -u bot -p 8f4K2mQ9xV7bN3cZ registry.internal",
            "CREATE USER app IDENTIFIED BY 'Tr0ub4dor&3xyz';",
            "ALTER ROLE app WITH PASSWORD 'Zq8vL2mN4pR7';",
            "sshpass -p 'Zq8vL2mN4pR7' ssh admin@10.0.0.5",
            "redis-cli -a Zq8vL2mN4pR7tY6u -h cache.internal",
            "htpasswd -b .htpasswd admin Zq8vL2mN4pR7",
            "az login --service-principal -u app -p Zq8vL2mN4pR7tY6uI9oP~1aS3 --tenant t",
            "openssl enc -aes-256-cbc -k Zq8vL2mN4pR7tY6u -in f -out g",
            "openssl pkcs12 -export -in c.pem -passout pass:Zq8vL2mN4pR7 -out c.p12",
            "sqlcmd -S db -U sa -P Zq8vL2mN4pR7",
            "ldapsearch -x -D cn=admin -w Zq8vL2mN4pR7 -b dc=x",
            "smbclient //fs/share -U alice%Zq8vL2mN4pR7",
            "7z a -pZq8vL2mN4pR7 backup.7z data/",
            "keytool -list -keystore k.jks -storepass Zq8vL2mN4pR7",
        ] {
            assert!(
                detect(line).contains(&"command_line_password"),
                "{line}: {:?}",
                detect(line)
            );
        }
        for line in [
            "mysql -u root -p -h db.internal",
            "mysql -u root -p\"$MYSQL_PASSWORD\" app",
            "docker login -u bot --password-stdin registry.internal",
            "docker login -u AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "redis-cli -a \"$REDIS_PASSWORD\" ping",
            "mysql -u app -P 3306 -h db",
            "zip -r dist.zip dist/",
            "7z x archive.7z",
            "sshpass -f ~/.pw ssh host",
            "psql -c \"ALTER ROLE app WITH PASSWORD NULL\"",
            "grep -p pattern file",
        ] {
            assert!(
                !detect(line).contains(&"command_line_password"),
                "{line}: {:?}",
                detect(line)
            );
        }
        // Selectors, paths, escaped markup and made-up runs are not.
        assert!(detect("this.addPassword = \"#add-password\";").is_empty());
        assert!(detect("\"password\": \"&lt;YOURPASSWORD&gt;\"").is_empty());
        assert!(detect("RESET_PASSWORD=$BASE_URL/forgot_password").is_empty());
        assert!(detect("okta_api_token: 000000000000000000000000000000000000000000aa").is_empty());
        assert!(detect("api_token = \"1234567890abcdef1234567890abcdef\"").is_empty());
        assert_eq!(detect("password = \"#gets0m3\""), ["secret_assignment"]);
        // A quoted value runs to its closing quote, the other quote and
        // brackets included, when it is long and random.
        assert_eq!(
            detect("jwtsecret: \"7`D'}/vYR)T;W\\5]EBrf;_&k>qX??]G&3CF=;@vyrVB\""),
            ["secret_assignment"]
        );
        assert!(detect("password = \"os.environ.get('DB_PASSWORD')\"").is_empty());
        assert!(detect("echo 'export DB_PASSWORD=\"'$DEPLOY_PASSWORD'\"' >> .env").is_empty());
        // The value is everything after the key's separator: base64 padding
        // and colons inside it stay part of it.
        assert_eq!(
            detect("auth_token=c2VjcmV0LXZhbHVl=="),
            ["secret_assignment"]
        );
        assert_eq!(
            detect("password: \"deploy:correcthorse\""),
            ["secret_assignment"]
        );
        // An address is not a secret; one with credentials in it is.
        assert!(detect("password_reset: https://example.com/account/reset").is_empty());
        assert!(!detect("token: https://bot:Xy9pQ2wer77@git.corp.internal/x").is_empty());
    }

    #[test]
    fn connection_strings_are_judged_on_their_password() {
        // A real password at a documentation host is still a password.
        assert_eq!(
            detect("mongodb://app:D1fficultP%40ssw0rd@db0.example.com:27017/?authSource=admin"),
            ["connection_string_password"]
        );
        assert!(detect("postgres://user:password@db.example.com/app").is_empty());
        assert!(detect("mysql://root:${MYSQL_ROOT_PASSWORD}@db/app").is_empty());
        assert!(detect("redis://default:xxxxxxxx@cache:6379").is_empty());
    }

    #[test]
    fn netrc_credentials() {
        assert_eq!(
            detect("machine api.github.com login octo password gh7Hq2xVp9"),
            ["netrc_password"]
        );
        assert_eq!(
            detect("machine ftp.corp.internal password S3cure!pass"),
            ["netrc_password"]
        );
        assert!(detect("machine api.github.com login octo password $TOKEN").is_empty());
        assert!(detect("the machine has a login password screen").is_empty());
    }

    #[test]
    fn json_keys_and_paths_without_values() {
        let v = serde_json::json!({
            "arguments": {"api_key": "abc123def456", "token_count": 5, "password": "", "list": ["x", "AKIAQ3EGRSUL6TZ7X4NB"]}
        });
        let mut out = Vec::new();
        scan_json(&v, "$", &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].location, "$.arguments.api_key");
        assert_eq!(out[1].location, "$.arguments.list[1]");
        assert!(!format!("{out:?}").contains("abc123def456"));
    }
}
