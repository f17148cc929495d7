//! The maintained secret rule sets, read once into one set: gitleaks'
//! default rules (MIT, `policies/secrets/gitleaks.toml`) and Nosey Parker's
//! secret rules (Apache-2.0, `policies/secrets/noseyparker.toml`), each
//! vendored with its licence.
//!
//! As gitleaks does: a rule runs only when one of its keywords occurs in the
//! text (one Aho-Corasick pass over all keywords), its secret must reach the
//! rule's entropy, and the global and per-rule allowlists (placeholders,
//! variables, stopwords) drop what is not a secret. GitHub tokens must also
//! carry a valid checksum. Rules that name no keywords (Nosey Parker's) get
//! the literals every match must contain, read off the pattern. A rule's
//! regex is compiled the first time a text holds its keywords: building the
//! set takes ~35 ms and ~4 MiB (the keyword automaton), not ~220 ms and
//! ~20 MiB of automata for rules most deployments never run.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::Span;
use serde::Deserialize;

/// The vendored gitleaks rule file.
pub const GITLEAKS_RULES: &str = include_str!("../../policies/secrets/gitleaks.toml");

/// The vendored Nosey Parker rules, converted to the same schema.
pub const NOSEYPARKER_RULES: &str = include_str!("../../policies/secrets/noseyparker.toml");

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
    /// The gitleaks pattern; compiled the first time a text holds the
    /// rule's keywords, so rules that never run cost no automata.
    pattern: Box<str>,
    regex: OnceLock<Option<Regex>>,
    entropy: Option<f64>,
    secret_group: Option<usize>,
    allows: Vec<Allow>,
    /// The pattern's leading `[\w.-]{0,50}?` was dropped (see [`compile`]).
    widens_left: bool,
    /// The keyword groups that must all occur (one bit each).
    needs: u8,
    /// From a later file: defers to an earlier file's rule that matched the
    /// same bytes and judged them not a secret (an allowlisted example key).
    defers: bool,
}

impl Rule {
    /// The rule's regex, compiled on first use; `None` when it exceeds the
    /// compiler's size limit (reported once).
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                let regex = compile(&self.pattern);
                if regex.is_none() {
                    tracing::warn!(rule = self.id, "secret rule too large to compile; not used");
                }
                regex
            })
            .as_ref()
    }
}

/// The compiled rule set.
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Keyword pattern → the rules it enables, with the keyword group of the
    /// rule it belongs to.
    keyword_rules: Vec<Vec<(usize, u8)>>,
    keywords: AhoCorasick,
    /// Rules without keywords: always run.
    always: Vec<usize>,
    /// No rule matches fewer bytes than this: shorter texts are not searched.
    min_len: usize,
    global: Allow,
    /// Rules that could not be compiled here (Go-only syntax), by id.
    pub skipped: Vec<String>,
}

/// Compiles a gitleaks (Go RE2) pattern. RE2's `\w`, `\d`, `\s` and `\b`
/// are ASCII; so are these, over bytes, which also keeps compilation of the
/// whole set around 25 ms instead of seconds of Unicode classes.
///
/// Built without the one-pass DFA the `regex` crate adds for capture
/// groups: across the ~370 rules it held 7 MiB for the life of the
/// process, and captures are only asked of a match, where the bounded
/// backtracker finds them in the match's few bytes.
fn compile(pattern: &str) -> Option<Regex> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .onepass(false)
                .utf8_empty(false)
                .nfa_size_limit(Some(64 << 20)),
        )
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(&searched(pattern))
        .ok()
}

/// The pattern as [`compile`] reads it; `None` for syntax it cannot read
/// (Go-only).
fn parse(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    syntax::parse_with(
        &searched(pattern),
        &syntax::Config::new().unicode(false).utf8(false),
    )
    .ok()
}

/// The pattern as searched: a leading lazy `[\w.-]{0,50}?` only widens the
/// match to the left of the keyword; without it the engine can skip ahead
/// to the keywords.
fn searched(pattern: &str) -> std::borrow::Cow<'_, str> {
    match pattern.split_once(r"[\w.-]{0,50}?") {
        Some((flags, rest)) if flags.is_empty() || flags == "(?i)" => {
            format!("{flags}{rest}").into()
        }
        _ => pattern.into(),
    }
}

/// The fewest bytes a match of `pattern` can span (0 when it cannot be
/// read): a rule's as searched, over ASCII classes as [`compile`] reads it
/// (`unicode = false`), or a `regex` crate pattern's (`unicode = true`).
pub(super) fn minimum_len(pattern: &str, unicode: bool) -> usize {
    let pattern = match unicode {
        true => pattern.into(),
        false => searched(pattern),
    };
    regex_syntax::ParserBuilder::new()
        .unicode(unicode)
        .utf8(unicode)
        .build()
        .parse(&pattern)
        .ok()
        .and_then(|hir| hir.properties().minimum_len())
        .unwrap_or(0)
}

/// Keyword groups read off a rule's pattern: each group is a set of literals
/// (lower-case, 2 bytes or more) one of which every match contains. The
/// prefixes of the pattern, or of the tails of its top-level sequence:
/// the two most selective (longest shortest literal), so `(?:facebook|fb)
/// .? (?:api|app) …` runs only where both occur. Empty when there are none
/// (the rule then runs on every text).
fn required_literals(hir: &regex_syntax::hir::Hir) -> Vec<Vec<String>> {
    use regex_syntax::hir::{Hir, HirKind};
    /// The prefixes every match of `hir` starts with, when usable.
    /// Too many literals are cut short: fewer, shorter ones.
    fn prefixes(hir: &Hir) -> Option<Vec<String>> {
        [4096, 64].into_iter().find_map(|limit| {
            let mut extractor = regex_syntax::hir::literal::Extractor::new();
            extractor.limit_total(limit).limit_class(4);
            let mut out: Vec<String> = extractor
                .extract(hir)
                .literals()?
                .iter()
                .map(|l| String::from_utf8_lossy(l.as_bytes()).to_ascii_lowercase())
                .collect();
            out.sort();
            out.dedup();
            (!out.is_empty() && out.iter().all(|l| l.len() >= 2) && out.len() <= 64).then_some(out)
        })
    }
    /// True when the literal prefixes of anything starting with `hir` are
    /// unbounded (what [`prefixes`] rejects whatever follows).
    fn is_unbounded(hir: &Hir) -> bool {
        let mut extractor = regex_syntax::hir::literal::Extractor::new();
        extractor.limit_total(4096).limit_class(4);
        !extractor.extract(hir).is_finite()
    }
    fn shortest(literals: &[String]) -> usize {
        literals.iter().map(String::len).min().unwrap_or(0)
    }
    /// Every usable group of `hir`, in no particular order.
    fn groups(hir: &Hir, out: &mut Vec<Vec<String>>) {
        match hir.kind() {
            HirKind::Capture(c) => groups(&c.sub, out),
            // Every tail of a sequence is part of every match.
            HirKind::Concat(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    // A tail that opens with a part of unbounded prefixes (a
                    // long class, a repetition) has none either: looking at
                    // the part alone skips copying and expanding the tail.
                    let tail = match is_unbounded(part) {
                        true => None,
                        false => prefixes(&Hir::concat(parts[i..].to_vec())),
                    };
                    match tail {
                        Some(literals) => out.push(literals),
                        None if matches!(part.kind(), HirKind::Capture(_)) => groups(part, out),
                        None => {}
                    }
                }
            }
            _ => out.extend(prefixes(hir)),
        }
    }
    let mut all = Vec::new();
    groups(&fold_case(hir), &mut all);
    // Most selective first; a tail's prefixes often repeat a longer tail's.
    all.sort_by_key(|g| std::cmp::Reverse(shortest(g)));
    let mut chosen: Vec<Vec<String>> = Vec::new();
    for group in all {
        let overlaps = chosen.iter().any(|c| {
            c.iter().any(|a| {
                group
                    .iter()
                    .any(|b| a.contains(b.as_str()) || b.contains(a.as_str()))
            })
        });
        if !overlaps && chosen.len() < 2 {
            chosen.push(group);
        }
    }
    chosen
}

/// `hir` with each case-folded ASCII letter (`[Aa]`, what `(?i)` makes of
/// `a`) as its lower-case letter. Keywords are matched without case, and
/// each folded letter would double the literals to extract: a 40-letter
/// case-insensitive phrase took the extractor tens of milliseconds.
fn fold_case(hir: &regex_syntax::hir::Hir) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};
    match hir.kind() {
        HirKind::Class(Class::Bytes(class)) => match class.ranges() {
            [upper, lower]
                if upper.start() == upper.end()
                    && lower.start() == lower.end()
                    && upper.start().is_ascii_uppercase()
                    && upper.start().to_ascii_lowercase() == lower.start() =>
            {
                Hir::literal([lower.start()])
            }
            _ => hir.clone(),
        },
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(fold_case).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(fold_case).collect()),
        HirKind::Capture(capture) => Hir::capture(Capture {
            sub: Box::new(fold_case(&capture.sub)),
            ..capture.clone()
        }),
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            sub: Box::new(fold_case(&repetition.sub)),
            ..repetition.clone()
        }),
        _ => hir.clone(),
    }
}

/// True for `scheme://…` or `host.name/…`.
fn is_url(text: &[u8]) -> bool {
    if let Some(at) = text.windows(3).position(|w| w == b"://") {
        return at > 0;
    }
    text.iter().position(|&b| b == b'/').is_some_and(|slash| {
        let host = &text[..slash];
        host.contains(&b'.')
            && host
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    })
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

/// A GitHub token's last six characters are the base62 CRC32 of the rest;
/// true for anything that is not shaped like a GitHub token.
fn github_checksum_ok(token: &[u8]) -> bool {
    let Some(body) = [b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"]
        .iter()
        .find_map(|p| token.strip_prefix(p.as_slice()))
        .and_then(|body| std::str::from_utf8(body).ok())
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
    /// Compiles a gitleaks-format rule file; rule ids get `gitleaks.`.
    pub fn from_toml(text: &str) -> Result<RuleSet, String> {
        RuleSet::from_files(&[("gitleaks.", text)])
    }

    /// Compiles rule files (gitleaks' schema) into one set: `(id prefix,
    /// file text)`. The first file's global allowlist applies to every rule.
    pub fn from_files(files: &[(&str, &str)]) -> Result<RuleSet, String> {
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        let mut keyword_list: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<(usize, u8)>> = Vec::new();
        let mut always = Vec::new();
        let mut min_len = usize::MAX;
        let mut global = None;
        for (file_index, (prefix, text)) in files.iter().enumerate() {
            let file: RuleFile = toml::from_str(text).map_err(|e| e.to_string())?;
            global = global.or_else(|| Allow::compile(&file.allowlist));
            for spec in file.rules {
                let Some(pattern) = &spec.regex else {
                    continue; // path-only rules
                };
                let Some(hir) = parse(pattern) else {
                    skipped.push(spec.id);
                    continue;
                };
                let index = rules.len();
                min_len = min_len.min(hir.properties().minimum_len().unwrap_or(0));
                let groups = match spec.keywords.is_empty() {
                    true => required_literals(&hir),
                    false => vec![spec.keywords.clone()],
                };
                if groups.is_empty() {
                    always.push(index);
                }
                for (group, keywords) in groups.iter().enumerate() {
                    for keyword in keywords {
                        let keyword = keyword.to_ascii_lowercase();
                        let entry = (index, group as u8);
                        match keyword_list.iter().position(|k| *k == keyword) {
                            Some(at) => keyword_rules[at].push(entry),
                            None => {
                                keyword_list.push(keyword);
                                keyword_rules.push(vec![entry]);
                            }
                        }
                    }
                }
                rules.push(Rule {
                    // Rule ids live as long as the process: the set is built once.
                    id: Box::leak(format!("{prefix}{}", spec.id).into_boxed_str()),
                    pattern: pattern.as_str().into(),
                    regex: OnceLock::new(),
                    entropy: spec.entropy,
                    secret_group: spec.secret_group,
                    allows: spec.allowlists.iter().filter_map(Allow::compile).collect(),
                    widens_left: pattern.contains(r"[\w.-]{0,50}?"),
                    needs: (1u8 << groups.len()) - 1,
                    defers: file_index > 0,
                });
            }
        }
        // A full DFA: an overlapping search (every keyword present) has no
        // prefilter, and the DFA is twice as fast as the NFAs at it.
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&keyword_list)
            .map_err(|e| e.to_string())?;
        let global = global.unwrap_or(Allow {
            regexes: Vec::new(),
            stopwords: Vec::new(),
            target: Target::Secret,
            all: false,
        });
        let min_len = if rules.is_empty() { 0 } else { min_len };
        Ok(RuleSet {
            rules,
            keyword_rules,
            keywords,
            always,
            min_len,
            global,
            skipped,
        })
    }

    /// The vendored gitleaks and Nosey Parker rules, read by the first scan.
    pub fn embedded() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        // The vendored files are tested by `the_vendored_rules_compile`.
        SET.get_or_init(|| {
            RuleSet::from_files(&[("gitleaks.", GITLEAKS_RULES), ("", NOSEYPARKER_RULES)])
                .expect("vendored secret rules")
        })
    }

    /// The fewest bytes any rule's match spans: a shorter text holds no
    /// secret this set can find.
    pub fn min_len(&self) -> usize {
        self.min_len
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
        // Which keyword groups of each rule occur (a rule runs when all
        // do), and which rules any keyword touched, in rule order. Nothing
        // is allocated for a text without keywords.
        if text.len() < self.min_len {
            return;
        }
        let mut seen: Vec<u8> = Vec::new();
        let mut touched: Vec<usize> = self.always.clone();
        for m in self.keywords.find_overlapping_iter(text) {
            if seen.is_empty() {
                seen = vec![0u8; self.rules.len()];
                self.always
                    .iter()
                    .for_each(|&i| seen[i] = self.rules[i].needs);
            }
            for &(i, group) in &self.keyword_rules[m.pattern().as_usize()] {
                if seen[i] == 0 {
                    touched.push(i);
                }
                seen[i] |= 1 << group;
            }
        }
        if touched.is_empty() {
            return;
        }
        touched.sort_unstable();
        let bytes = text.as_bytes();
        // Secrets an earlier file's rule rejected (rarely any: no allocation).
        let mut rejected: Vec<std::ops::Range<usize>> = Vec::new();
        for rule in touched
            .iter()
            .filter(|&&i| seen.is_empty() || seen[i] == self.rules[i].needs)
            .map(|&i| &self.rules[i])
        {
            let Some(regex) = rule.regex() else {
                continue;
            };
            for caps in regex.captures_iter(bytes) {
                let whole = caps.get_match().expect("a match").span();
                let secret = match rule.secret_group {
                    Some(g) => caps.get_group(g),
                    None => (1..caps.group_len())
                        .filter_map(|g| caps.get_group(g))
                        .find(|s| !s.is_empty()),
                }
                .unwrap_or(whole);
                let range = secret.range();
                if rule.defers
                    && rejected
                        .iter()
                        .any(|r| r.start < range.end && range.start < r.end)
                {
                    continue;
                }
                if self.is_real(rule, bytes, &bytes[range.clone()], whole) {
                    found(rule.id, whole.range(), range);
                } else if !rule.defers {
                    rejected.push(range);
                }
            }
        }
    }

    fn is_real(&self, rule: &Rule, text: &[u8], secret: &[u8], whole: Span) -> bool {
        if rule.entropy.is_some_and(|min| entropy(secret) < min) {
            return false;
        }
        // A fixed-length format matched inside a longer token is not that
        // format: the token must end where the match ends.
        // A URL's secret path (`hooks.slack.com/workflows/…`) has no fixed
        // length, whatever bound the pattern puts on it.
        let next = text.get(whole.end).copied();
        let matched = &text[whole.range()];
        if next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && secret.last() == matched.last()
            && !is_url(matched)
        {
            return false;
        }
        let line_start = text[..whole.start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = text[whole.end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| whole.end + i);
        let line = &text[line_start..line_end];
        // The match as gitleaks sees it: a rule whose leading lazy
        // `[\w.-]{0,50}?` was dropped for speed starts its match up to 50
        // such bytes further left (`X-MS-Exchange-Organization-AuthSource`),
        // which `regexTarget = "match"` allowlists look at.
        let mut start = whole.start;
        if rule.widens_left {
            let floor = start.saturating_sub(50).max(line_start);
            while start > floor
                && (text[start - 1].is_ascii_alphanumeric()
                    || matches!(text[start - 1], b'.' | b'-' | b'_'))
            {
                start -= 1;
            }
        }
        let whole = &text[start..whole.end];
        if self.global.allows(secret, whole, line)
            || rule.allows.iter().any(|a| a.allows(secret, whole, line))
        {
            return false;
        }
        github_checksum_ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        RuleSet::embedded().scan(text, |id, _, _| out.push(id));
        out
    }

    #[test]
    fn the_vendored_rules_compile() {
        let set = RuleSet::embedded();
        assert!(set.len() >= 380, "{} rules", set.len());
        assert!(set.skipped.is_empty(), "not compiled: {:?}", set.skipped);
        // Regexes are compiled on first use: every one must compile.
        let failed: Vec<_> = set
            .rules
            .iter()
            .filter(|r| r.regex().is_none())
            .map(|r| r.id)
            .collect();
        assert!(failed.is_empty(), "too large to compile: {failed:?}");
        // Every Nosey Parker rule got keywords from its pattern.
        let without: Vec<_> = set.always.iter().map(|&i| set.rules[i].id).collect();
        assert!(without.is_empty(), "rules without keywords: {without:?}");
    }

    #[test]
    fn a_rule_set_knows_its_shortest_match() {
        // The lazy left widening is dropped before measuring, as before searching.
        assert_eq!(
            minimum_len(r"[\w.-]{0,50}?(?i)token\s*=\s*([a-z0-9]{20})", false),
            26
        );
        let set = RuleSet::from_toml(
            "[[rules]]\nid = \"a\"\nregex = 'shpat_[a-f0-9]{32}'\n\
             [[rules]]\nid = \"b\"\nregex = 'tok_[a-z]{12}'\n",
        )
        .unwrap();
        assert_eq!(set.min_len(), 16);
        let mut hits = 0;
        set.scan("tok_abcdefghijk", |_, _, _| hits += 1); // 15 bytes: not searched
        set.scan("tok_abcdefghijkl", |_, _, _| hits += 1);
        assert_eq!(hits, 1);
    }

    #[test]
    fn keywords_are_read_off_patterns() {
        let lits = |p: &str| {
            required_literals(&parse(p).unwrap())
                .first()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(lits(r"\b(xoxb-[0-9]{10,12})\b"), ["xoxb-"]);
        assert_eq!(lits(r"(?i)secret.{0,20}\b([0-9a-z]{32,64})\b"), ["secret"]);
        assert_eq!(
            lits(r"(?x)(?i)(?: api_key | apikey ) .{0,3} = (\w{30})"),
            ["api_key", "apikey"]
        );
        // The most selective part of a sequence.
        assert_eq!(
            lits(r"\b([a-z0-9]{40})\.apps\.example\.com"),
            [".apps.example.com"]
        );
        assert_eq!(
            lits(r"(?i)(?:mailgun|mg).{0,20}key-([a-z0-9]{32})"),
            ["key-"]
        );
        assert_eq!(lits(r"(?i)\b([a-z0-9]{6}[a-f0-9]{30}nral)\b"), ["nral"]);
        assert!(required_literals(&parse(r"\b[A-Za-z0-9]{32}\b").unwrap()).is_empty());
        // Two groups where two parts are required.
        assert_eq!(
            required_literals(
                &parse(r"(?i)\b(?:facebook|fb).?(?:api|app|secret)\b([a-z0-9]{32})").unwrap()
            ),
            [vec!["api", "app", "secret"], vec!["facebook", "fb"]]
        );
        // A case-insensitive phrase is one keyword, not its first letters
        // (every case of each letter was a literal of its own).
        assert_eq!(
            required_literals(
                &parse(r"(?x)(?i)associated\ with\ your\ New\ Relic\ account\.\s+license_key:\s*([a-f0-9]{40})")
                    .unwrap()
            ),
            [vec!["associated with your new relic account."], vec!["license_key:"]]
        );
        // Too many combinations are cut to fewer, shorter ones, not dropped.
        let optional =
            lits(r"(?i)\baws_?(?:secret)?_?(?:access)?_?(?:key)?\s*=\s*([a-z0-9/+=]{40})");
        assert!(optional.contains(&"aws".to_string()), "{optional:?}");
        assert!(optional.len() <= 64);
    }

    #[test]
    fn a_rule_is_compiled_when_its_keywords_first_occur() {
        let set = RuleSet::from_toml(
            "[[rules]]\nid = \"a\"\nregex = 'shpat_[a-f0-9]{32}'\nkeywords = [\"shpat_\"]\n\
             [[rules]]\nid = \"b\"\nregex = 'tok_[a-z]{12}'\nkeywords = [\"tok_\"]\n",
        )
        .unwrap();
        let compiled = |set: &RuleSet| -> Vec<bool> {
            set.rules.iter().map(|r| r.regex.get().is_some()).collect()
        };
        assert_eq!(compiled(&set), [false, false]);
        set.scan("nothing to see in this text", |_, _, _| {});
        assert_eq!(compiled(&set), [false, false]);
        let mut hits = 0;
        set.scan("value: tok_abcdefghijkl", |_, _, _| hits += 1);
        assert_eq!((hits, compiled(&set)), (1, vec![false, true]));
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
    fn url_secrets_have_no_fixed_length() {
        let long = "https://hooks.slack.com/workflows/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";
        assert!(ids(long).iter().any(|i| i.contains("slack-webhook")));
        assert!(is_url(b"hooks.slack.com/services/x"));
        assert!(!is_url(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCY"));
    }

    #[test]
    fn entropy_of_uniform_and_constant_text() {
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
