//! Rule patterns with a literal screen in front of them.
//!
//! Most patterns in a policy cannot match unless some literal occurs in the
//! text (`authorized_keys`, `0.0.0.0` or `::`, `.ssh`, `drop`…). Those
//! literals are read off each pattern's syntax tree once, when the policy is
//! compiled, and a search for any of them (ignoring ASCII case, so it can
//! only admit more than the patterns do) runs before the regexes. A pattern
//! from which no literal can be read (`\S+`, `.*`) turns the screen off for
//! its set: the screen never changes what matches, only how often the
//! regexes run.
//!
//! The screen searches a short text (an argument, a program name) with an
//! Aho-Corasick automaton, which starts at once (after a look at whether
//! the text holds any byte a literal starts with: most arguments hold
//! none), and a longer one (a command line) with a regex that is nothing
//! but the alternation of the literals, which the regex engine answers with
//! its vectorised literal searcher (Teddy) alone: 24 ns on a 76-byte
//! command line where the automaton, stepping byte by byte, took 180 ns; on
//! a 5-byte argument the automaton takes 8 ns and the regex 20–35 ns.
//!
//! A screened set needs no prefilter of the regex engine's own (which for
//! literal-heavy patterns is a dense Aho-Corasick automaton, over 1 MiB
//! across the default policy): the screen has already found a literal when
//! the regexes run.

use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most literals a pattern's alternatives and classes expand to before the
/// reading gives up on that part of the pattern.
const MAX_LITERALS: usize = 64;

/// A class of at most this many characters (`[Dd]`, `[Kk\u{212A}]`) counts
/// as a literal of each.
const MAX_CLASS: usize = 4;

/// A regex set behind a literal screen.
#[derive(Debug)]
pub(crate) struct PatternSet {
    set: Regex,
    screen: Option<Screen>,
}

/// Texts shorter than this are screened by the automaton, longer ones by the
/// literal searcher (measured on the default policy's screens).
const SHORT_TEXT: usize = 32;

/// One search for a set's literals, two ways (see the module's notes).
#[derive(Debug)]
struct Screen {
    /// The bytes a literal starts with, in either ASCII case: a short text
    /// holding none of them is rejected before the automaton starts.
    first: [u64; 4],
    short: AhoCorasick,
    long: Regex,
}

impl Screen {
    fn is_match(&self, text: &str) -> bool {
        match text.len() < SHORT_TEXT {
            true => {
                let starts = |b: u8| self.first[usize::from(b >> 6)] >> (b & 63) & 1 != 0;
                text.bytes().any(starts) && self.short.is_match(text)
            }
            false => self.long.is_match(text),
        }
    }
}

impl PatternSet {
    /// Compiles `patterns` (the `regex` crate's syntax and defaults); the
    /// error says which pattern is wrong and why.
    pub(crate) fn new(patterns: &[String]) -> Result<PatternSet, String> {
        let screen = screen(patterns);
        let set = Regex::builder()
            .configure(
                Regex::config()
                    .which_captures(WhichCaptures::None)
                    .auto_prefilter(screen.is_none()),
            )
            .build_many(patterns)
            .map_err(|e| match (e.pattern(), e.syntax_error()) {
                (Some(i), Some(syntax)) => format!(
                    "`{}` is not a valid regex: {syntax}",
                    patterns[i.as_usize()]
                ),
                _ => e.to_string(),
            })?;
        Ok(PatternSet { set, screen })
    }

    /// True when any pattern matches `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.screen.as_ref().is_none_or(|s| s.is_match(text)) && self.set.is_match(text)
    }

    /// True when the set has a literal screen.
    #[cfg(test)]
    fn screened(&self) -> bool {
        self.screen.is_some()
    }
}

/// The screen of a set: a search for the literals one of which every match
/// contains, ignoring ASCII case, or `None` when some pattern has none.
fn screen(patterns: &[String]) -> Option<Screen> {
    let mut literals: Vec<Vec<u8>> = Vec::new();
    for pattern in patterns {
        let hir = regex_syntax::parse(pattern).ok()?;
        literals.extend(required(&hir)?);
    }
    let literals = minimal(literals);
    let alternation = literals
        .iter()
        .map(|literal| literal.iter().map(|&b| format!("\\x{b:02X}")).collect())
        .collect::<Vec<String>>()
        .join("|");
    let long = Regex::builder()
        // Bytes, not characters: a literal may hold part of a character.
        .syntax(
            syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .case_insensitive(true),
        )
        .configure(
            Regex::config()
                .which_captures(WhichCaptures::None)
                .utf8_empty(false),
        )
        .build(&alternation)
        .ok()?;
    let short = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&literals)
        .ok()?;
    let mut first = [0u64; 4];
    for b in literals.iter().filter_map(|l| l.first()) {
        for b in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
            first[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }
    Some(Screen { first, short, long })
}

/// `literals` without those that contain another (a text holding
/// `/.ssh/` holds `.ssh`), shortest first.
fn minimal(mut literals: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    literals.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for l in literals {
        if !kept
            .iter()
            .any(|k| l.windows(k.len()).any(|w| w == k.as_slice()))
        {
            kept.push(l);
        }
    }
    kept
}

/// Literals one of which every match of `hir` contains (none empty), or
/// `None` when no such set can be read.
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    if let Some(set) = exact(hir) {
        return set.iter().all(|l| !l.is_empty()).then_some(set);
    }
    match hir.kind() {
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for alt in alts {
                all.extend(required(alt)?);
            }
            (all.len() <= MAX_LITERALS).then_some(all)
        }
        HirKind::Concat(parts) => {
            // Runs of parts that match exact strings join into longer
            // literals; the run (or inexact part) with the longest
            // shortest literal is the most selective screen.
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut run: Option<Vec<Vec<u8>>> = None;
            let mut consider = |candidate: Option<Vec<Vec<u8>>>| {
                if let Some(c) = candidate.filter(|c| c.iter().all(|l| !l.is_empty())) {
                    if best.as_ref().is_none_or(|b| shortest(&c) > shortest(b)) {
                        best = Some(c);
                    }
                }
            };
            for part in parts {
                match exact(part) {
                    Some(set) => {
                        run = match run.take() {
                            None => Some(set),
                            Some(prefix) => match cross(&prefix, &set) {
                                Some(joined) => Some(joined),
                                None => {
                                    consider(Some(prefix));
                                    Some(set)
                                }
                            },
                        }
                    }
                    None => {
                        consider(run.take());
                        consider(required(part));
                    }
                }
            }
            consider(run);
            best
        }
        _ => None,
    }
}

/// The strings `hir` matches when they are few and finite (lowercased).
fn exact(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
        HirKind::Class(Class::Unicode(c)) => {
            let chars = c.iter().flat_map(|r| r.start()..=r.end());
            small_class(chars.map(|ch| ch.to_string().into_bytes()))
        }
        HirKind::Class(Class::Bytes(c)) => {
            let bytes = c.iter().flat_map(|r| r.start()..=r.end());
            small_class(bytes.map(|b| vec![b]))
        }
        HirKind::Capture(c) => exact(&c.sub),
        HirKind::Repetition(r) if r.min == 1 && r.max == Some(1) => exact(&r.sub),
        HirKind::Repetition(r) if r.min == 0 && r.max == Some(1) => {
            let mut set = exact(&r.sub)?;
            set.push(Vec::new());
            dedup(set)
        }
        HirKind::Concat(parts) => parts
            .iter()
            .try_fold(vec![Vec::new()], |acc, part| cross(&acc, &exact(part)?)),
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for alt in alts {
                all.extend(exact(alt)?);
            }
            dedup(all)
        }
        _ => None,
    }
}

/// A class's members as literals, when there are few of them.
fn small_class(members: impl Iterator<Item = Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let mut set = Vec::new();
    for m in members {
        if set.len() == MAX_CLASS {
            return None;
        }
        set.push(m.to_ascii_lowercase());
    }
    dedup(set)
}

/// Every literal of `a` followed by every literal of `b`, if not too many.
fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len() * b.len() > MAX_LITERALS {
        return None;
    }
    let joined = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| [x.as_slice(), y].concat()))
        .collect();
    dedup(joined)
}

fn dedup(mut set: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    set.sort();
    set.dedup();
    (set.len() <= MAX_LITERALS).then_some(set)
}

fn shortest(set: &[Vec<u8>]) -> usize {
    set.iter().map(Vec::len).min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use regex::RegexSet;

    use super::*;

    fn literals(pattern: &str) -> Option<Vec<String>> {
        let hir = regex_syntax::parse(pattern).unwrap();
        required(&hir).map(|set| {
            minimal(set)
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn literals_are_read_off_patterns() {
        assert_eq!(
            literals(r"authorized_keys2?\b").unwrap(),
            ["authorized_keys"]
        );
        assert_eq!(literals(r"^php -S\b").unwrap(), ["php -s"]);
        // A run of exact parts joins into longer literals; alternatives
        // are all kept, minus those that hold a shorter one.
        assert_eq!(
            literals(r"\s(--[a-z]+|-[ab])[ =](0\.0\.0\.0|\[?::\]?)").unwrap(),
            [" ::", "=::", " [::", "=[::", " 0.0.0.0", "=0.0.0.0"]
        );
        // Case-insensitive classes fold to one lowercase literal, but a
        // non-ASCII member (the Kelvin sign) is kept as its own.
        assert_eq!(literals(r"(?i)drop\s+table").unwrap(), ["table"]);
        assert_eq!(literals(r"(?i)kill").unwrap().len(), 2);
        // Nothing to read: the set runs unscreened.
        assert_eq!(literals(r"^\S+$"), None);
        assert_eq!(literals(r"(a|\w+)x?"), None);
        assert_eq!(literals(r"a*"), None);
    }

    #[test]
    fn a_screen_never_changes_what_matches() {
        let patterns: Vec<String> = [
            r"(?i)\b(drop\s+(table|database)|truncate\s+(table\s+)?\w+)",
            r"(^|/)\.ssh(/|$)",
            r"^/etc/(shadow|sudoers)$",
        ]
        .map(str::to_owned)
        .into();
        let screened = PatternSet::new(&patterns).unwrap();
        assert!(screened.screened());
        let plain = RegexSet::new(&patterns).unwrap();
        for text in [
            "DROP   TABLE users",
            "psql -c 'Truncate Table x'",
            "truncatex",
            "cat ~/.ssh/id_rsa",
            "/etc/shadow",
            "/etc/shadowx",
            "ls -la",
            "dRoP\tDaTaBaSe prod",
            "",
            // Long texts take the literal searcher's path.
            "cd app && git status && psql -c 'DROP TABLE users' && ls",
            "cd app && git status && cargo build --release | tee build.log",
            "cp notes.txt /home/user/.SSH/known_hosts && echo done && exit 0",
            "cat /etc/shadow",
        ] {
            let screen = screened.screen.as_ref().unwrap();
            assert_eq!(
                screen.short.is_match(text),
                screen.long.is_match(text),
                "{text}"
            );
            assert_eq!(screened.is_match(text), plain.is_match(text), "{text}");
        }
        // A literal holding a non-ASCII character (the Kelvin sign folds to
        // `k`) is searched for as its bytes on both paths.
        let kill = PatternSet::new(&[r"(?i)\bkill\b".to_owned()]).unwrap();
        for text in [
            "\u{212A}ill",
            "please \u{212A}ill -9 the old worker process now",
            "skill",
        ] {
            let plain = RegexSet::new([r"(?i)\bkill\b"]).unwrap();
            assert_eq!(kill.is_match(text), plain.is_match(text), "{text}");
        }
        assert!(kill.is_match("please \u{212A}ill -9 the old worker process now"));
        let open = PatternSet::new(&[r"^\S+$".to_owned(), "x".to_owned()]).unwrap();
        assert!(!open.screened());
        assert!(open.is_match("abc"));
    }
}
