//! The maintained secret rule set: gitleaks' default rules (MIT, vendored
//! in `policies/secrets/gitleaks.toml` with its licence), compiled once.
//!
//! As gitleaks does: a rule runs only when one of its keywords occurs in the
//! text (one Aho-Corasick pass over all keywords), its secret must reach the
//! rule's entropy, and the global and per-rule allowlists (placeholders,
//! variables, stopwords) drop what is not a secret. GitHub tokens must also
//! carry a valid checksum.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

/// The vendored rule file.
pub const GITLEAKS_RULES: &str = include_str!("../../policies/secrets/gitleaks.toml");

#[derive(Deserialize)]
struct RuleFile {
    #[serde(default)]
    allowlist: AllowSpec,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AllowSpec {
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    condition: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleSpec {
    id: String,
    regex: Option<String>,
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    secret_group: Option<usize>,
    #[serde(default)]
    allowlists: Vec<AllowSpec>,
}

/// Which part of a match an allowlist looks at.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Secret,
    Match,
    Line,
}

struct Allow {
    regexes: Vec<Regex>,
    stopwords: Vec<String>,
    target: Target,
    /// `AND`: every given kind of check must hold; otherwise any.
    all: bool,
}

impl Allow {
    fn compile(spec: &AllowSpec) -> Option<Allow> {
        if spec.regexes.is_empty() && spec.stopwords.is_empty() {
            // Path-only allowlists do not apply to text without a path.
            return None;
        }
        Some(Allow {
            regexes: spec.regexes.iter().filter_map(|r| compile(r)).collect(),
            stopwords: spec
                .stopwords
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            target: match spec.regex_target.as_deref() {
                Some("match") => Target::Match,
                Some("line") => Target::Line,
                _ => Target::Secret,
            },
            all: spec.condition.as_deref() == Some("AND") && spec.paths.is_empty(),
        })
    }

    /// True when this allowlist lets the finding go.
    fn allows(&self, secret: &[u8], whole: &[u8], line: &[u8]) -> bool {
        let text = match self.target {
            Target::Secret => secret,
            Target::Match => whole,
            Target::Line => line,
        };
        let by_regex = !self.regexes.is_empty() && self.regexes.iter().any(|r| r.is_match(text));
        let lower = String::from_utf8_lossy(secret).to_ascii_lowercase();
        let by_word =
            !self.stopwords.is_empty() && self.stopwords.iter().any(|w| lower.contains(w));
        if self.all {
            (self.regexes.is_empty() || by_regex) && (self.stopwords.is_empty() || by_word)
        } else {
            by_regex || by_word
        }
    }
}

struct Rule {
    id: &'static str,
    regex: Regex,
    entropy: Option<f64>,
    secret_group: Option<usize>,
    allows: Vec<Allow>,
    /// The pattern's leading `[\w.-]{0,50}?` was dropped (see [`compile`]).
    widens_left: bool,
}

/// The compiled rule set.
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Keyword pattern → the rules it enables.
    keyword_rules: Vec<Vec<usize>>,
    keywords: AhoCorasick,
    /// Rules without keywords: always run.
    always: Vec<usize>,
    global: Allow,
    /// Rules that could not be compiled here (Go-only syntax), by id.
    pub skipped: Vec<String>,
}

/// Compiles a gitleaks (Go RE2) pattern. RE2's `\w`, `\d`, `\s` and `\b`
/// are ASCII; so are these, over bytes, which also keeps compilation of the
/// whole set around 25 ms instead of seconds of Unicode classes.
fn compile(pattern: &str) -> Option<Regex> {
    // A leading lazy `[\w.-]{0,50}?` only widens the match to the left of
    // the keyword; without it the engine can skip ahead to the keywords.
    let pattern = match pattern.split_once(r"[\w.-]{0,50}?") {
        Some((flags, rest)) if flags.is_empty() || flags == "(?i)" => format!("{flags}{rest}"),
        _ => pattern.to_owned(),
    };
    RegexBuilder::new(&pattern)
        .unicode(false)
        .size_limit(64 << 20)
        .build()
        .ok()
}

/// Shannon entropy in bits per byte.
pub fn entropy(text: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in text {
        counts[b as usize] += 1;
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// A GitHub token's last six characters are the base62 CRC32 of the rest.
fn github_checksum_ok(token: &[u8]) -> bool {
    let Some(body) = std::str::from_utf8(token)
        .ok()
        .and_then(|t| t.split_once('_'))
        .map(|(_, body)| body)
    else {
        return true;
    };
    if body.len() != 36 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return true;
    }
    let (random, check) = body.split_at(30);
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32fast::hash(random.as_bytes());
    let mut encoded = [b'0'; 6];
    for slot in encoded.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    encoded == check.as_bytes()
}

impl RuleSet {
    /// Compiles a gitleaks-format rule file.
    pub fn from_toml(text: &str) -> Result<RuleSet, String> {
        let file: RuleFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        let mut keyword_list: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for spec in file.rules {
            let Some(pattern) = &spec.regex else {
                continue; // path-only rules
            };
            let Some(regex) = compile(pattern) else {
                skipped.push(spec.id);
                continue;
            };
            let index = rules.len();
            if spec.keywords.is_empty() {
                always.push(index);
            }
            for keyword in &spec.keywords {
                let keyword = keyword.to_ascii_lowercase();
                match keyword_list.iter().position(|k| *k == keyword) {
                    Some(at) => keyword_rules[at].push(index),
                    None => {
                        keyword_list.push(keyword);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
            rules.push(Rule {
                // Rule ids live as long as the process: the set is built once.
                id: Box::leak(format!("gitleaks.{}", spec.id).into_boxed_str()),
                regex,
                entropy: spec.entropy,
                secret_group: spec.secret_group,
                allows: spec.allowlists.iter().filter_map(Allow::compile).collect(),
                widens_left: pattern.contains(r"[\w.-]{0,50}?"),
            });
        }
        // A full DFA: an overlapping search (every keyword present) has no
        // prefilter, and the DFA is twice as fast as the NFAs at it.
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&keyword_list)
            .map_err(|e| e.to_string())?;
        let global = Allow::compile(&file.allowlist).unwrap_or(Allow {
            regexes: Vec::new(),
            stopwords: Vec::new(),
            target: Target::Secret,
            all: false,
        });
        Ok(RuleSet {
            rules,
            keyword_rules,
            keywords,
            always,
            global,
            skipped,
        })
    }

    /// The vendored gitleaks rules, compiled on first use.
    pub fn gitleaks() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        // The vendored file is tested by `the_vendored_rules_compile`.
        SET.get_or_init(|| RuleSet::from_toml(GITLEAKS_RULES).expect("vendored gitleaks rules"))
    }

    /// Number of rules in use.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is in use.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Calls `found(rule id, byte range of the match, byte range of the
    /// secret in it)` for each secret in `text`.
    pub fn scan(
        &self,
        text: &str,
        mut found: impl FnMut(&'static str, std::ops::Range<usize>, std::ops::Range<usize>),
    ) {
        let mut candidates = vec![false; self.rules.len()];
        for &i in &self.always {
            candidates[i] = true;
        }
        let mut any = !self.always.is_empty();
        for m in self.keywords.find_overlapping_iter(text) {
            for &i in &self.keyword_rules[m.pattern().as_usize()] {
                candidates[i] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        let bytes = text.as_bytes();
        for (rule, _) in self.rules.iter().zip(&candidates).filter(|(_, c)| **c) {
            for caps in rule.regex.captures_iter(bytes) {
                let whole = caps.get(0).expect("group 0");
                let secret = match rule.secret_group {
                    Some(g) => caps.get(g),
                    None => caps.iter().skip(1).flatten().find(|m| !m.is_empty()),
                }
                .unwrap_or(whole);
                if self.is_real(rule, bytes, secret.as_bytes(), whole) {
                    found(rule.id, whole.range(), secret.range());
                }
            }
        }
    }

    fn is_real(
        &self,
        rule: &Rule,
        text: &[u8],
        secret: &[u8],
        whole: regex::bytes::Match<'_>,
    ) -> bool {
        if rule.entropy.is_some_and(|min| entropy(secret) < min) {
            return false;
        }
        // A fixed-length format matched inside a longer token is not that
        // format: the token must end where the match ends.
        let next = text.get(whole.end()).copied();
        if next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && secret.last() == whole.as_bytes().last()
        {
            return false;
        }
        let line_start = text[..whole.start()]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = text[whole.end()..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| whole.end() + i);
        let line = &text[line_start..line_end];
        // The match as gitleaks sees it: a rule whose leading lazy
        // `[\w.-]{0,50}?` was dropped for speed starts its match up to 50
        // such bytes further left (`X-MS-Exchange-Organization-AuthSource`),
        // which `regexTarget = "match"` allowlists look at.
        let mut start = whole.start();
        if rule.widens_left {
            let floor = start.saturating_sub(50).max(line_start);
            while start > floor
                && (text[start - 1].is_ascii_alphanumeric()
                    || matches!(text[start - 1], b'.' | b'-' | b'_'))
            {
                start -= 1;
            }
        }
        let whole = &text[start..whole.end()];
        if self.global.allows(secret, whole, line)
            || rule.allows.iter().any(|a| a.allows(secret, whole, line))
        {
            return false;
        }
        !rule.id.starts_with("gitleaks.github-") || github_checksum_ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        RuleSet::gitleaks().scan(text, |id, _, _| out.push(id));
        out
    }

    #[test]
    fn the_vendored_rules_compile() {
        let set = RuleSet::gitleaks();
        assert!(set.len() >= 200, "{} rules", set.len());
        assert!(set.skipped.is_empty(), "not compiled: {:?}", set.skipped);
    }

    #[test]
    fn known_formats_are_found_and_examples_are_not() {
        // A token built with a valid checksum is found; its zeroed example is not.
        let random = "R3aLt0k3nV4lu3F0rT3st1ngPurp0s";
        let mut n = crc32fast::hash(random.as_bytes());
        let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut check = [b'0'; 6];
        for slot in check.iter_mut().rev() {
            *slot = digits[(n % 62) as usize];
            n /= 62;
        }
        let token = format!("ghp_{random}{}", std::str::from_utf8(&check).unwrap());
        assert!(ids(&format!("token = {token}"))
            .iter()
            .any(|i| i.contains("github")));
        assert!(ids("token = ghp_000000000000000000000000000000000000").is_empty());
        assert!(!ids("let url = \"https://example.com/api\";")
            .iter()
            .any(|i| i.contains("generic")));
    }

    #[test]
    fn match_allowlists_see_the_match_gitleaks_sees() {
        // The generic rule's allowlist names the header; the header's name
        // starts before the keyword the match is anchored on.
        let header = "X-MS-Exchange-Organization-AuthSource: sm02915.int.contoso.com";
        assert!(!ids(header).iter().any(|i| i.contains("generic")));
        assert!(ids("X-Custom-AuthSource: sm02915.int.contoso.com")
            .iter()
            .any(|i| i.contains("generic")));
    }

    #[test]
    fn entropy_of_uniform_and_constant_text() {
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
