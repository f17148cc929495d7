//! Which programs a rule can fire on, read off its `commands` globs or its
//! `line` patterns, so the engine skips a rule whose programs no command
//! names before running any of its matchers.
//!
//! A command's line is its program's basename, a space, then its
//! arguments. A `line` pattern anchored at the start (`^cargo (test|build)`,
//! `^python[0-9.]* -m`) can only match lines whose program is one of the
//! words before the first space of its prefix literals (`cargo`), or starts
//! with a literal that has no space (`python`). The literals come from
//! `regex-syntax`'s prefix extractor, the one the regex engine itself uses,
//! so any pattern it can bound is anchored, not only the ones a hand-written
//! reader recognises.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::Look;

type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// Program names a rule can only fire on: exact names and name prefixes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    /// Whole program names (`git`).
    pub exact: HashSet<String>,
    /// Names a program starts with (`python` for `python3.12`, `mkfs.`).
    pub prefixes: Vec<String>,
}

impl Anchor {
    /// True when a command running `program` may satisfy the rule.
    /// Prefixes compare without ASCII case, as `commands` globs do.
    pub fn admits(&self, program: &str) -> bool {
        self.exact.contains(program) || self.prefixes.iter().any(|p| starts_with(program, p))
    }

    /// The anchor of a `commands` list, unless a glob in it is more than a
    /// trailing `*` (`mkfs.*` anchors on the prefix `mkfs.`).
    pub fn from_commands(list: &[String]) -> Option<Anchor> {
        let mut anchor = Anchor::default();
        for name in list {
            match name.strip_suffix('*') {
                _ if name.is_empty() => return None,
                Some(prefix) if !prefix.is_empty() && !has_glob_syntax(prefix) => {
                    anchor.prefixes.push(prefix.to_owned())
                }
                None if !has_glob_syntax(name) => {
                    anchor.exact.insert(name.clone());
                }
                _ => return None,
            }
        }
        Some(anchor)
    }

    /// The anchor of `line` patterns, when every one is anchored at the
    /// start and has a finite, non-empty set of prefix literals.
    pub fn from_line_patterns(patterns: &[String]) -> Option<Anchor> {
        let mut anchor = Anchor::default();
        for pattern in patterns {
            let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
            if !hir.properties().look_set_prefix().contains(Look::Start) {
                return None;
            }
            let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
            for literal in seq.literals()? {
                let bytes = literal.as_bytes();
                match bytes.iter().position(|b| *b == b' ') {
                    Some(0) => return None,
                    Some(space) => {
                        anchor
                            .exact
                            .insert(String::from_utf8(bytes[..space].to_vec()).ok()?);
                    }
                    None if bytes.is_empty() => return None,
                    None => anchor
                        .prefixes
                        .push(String::from_utf8(bytes.to_vec()).ok()?),
                }
            }
        }
        // A prefix covers every exact name and every longer prefix it starts.
        let mut prefixes = std::mem::take(&mut anchor.prefixes);
        prefixes.sort();
        prefixes.dedup();
        let covers = |p: &String, name: &str| name.starts_with(p.as_str());
        anchor.prefixes = prefixes
            .iter()
            .filter(|q| !prefixes.iter().any(|p| p != *q && covers(p, q)))
            .cloned()
            .collect();
        anchor
            .exact
            .retain(|name| !prefixes.iter().any(|p| covers(p, name)));
        Some(anchor)
    }
}

/// True when `program` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with(program: &str, prefix: &str) -> bool {
    program
        .as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn has_glob_syntax(name: &str) -> bool {
    name.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(patterns: &[&str]) -> Option<(Vec<String>, Vec<String>)> {
        let list: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Anchor::from_line_patterns(&list).map(|a| {
            let mut exact: Vec<String> = a.exact.into_iter().collect();
            exact.sort();
            let mut prefixes = a.prefixes;
            prefixes.sort();
            (exact, prefixes)
        })
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn anchored_line_patterns_name_their_programs() {
        assert_eq!(
            anchor(&[r"^systemctl( --\S+)* (stop)\b", r"^service \S+ stop"]),
            Some((names(&["service", "systemctl"]), vec![]))
        );
        assert_eq!(
            anchor(&[r"^(npm|yarn) publish\b", r"^(twine upload|poetry publish)"]),
            Some((names(&["npm", "poetry", "twine", "yarn"]), vec![]))
        );
        assert_eq!(
            anchor(&[r"^git( -C \S+)? stash", r"^git( -C \S+)? branch"]),
            Some((names(&["git"]), vec![]))
        );
        // No space after the literal: the program starts with it.
        assert_eq!(
            anchor(&[r"^python[0-9.]* -m (pytest|mypy)\b"]),
            Some((vec![], names(&["python"])))
        );
        assert_eq!(
            anchor(&[r"^(pytest|py\.test|tox)\b"]),
            Some((vec![], names(&["py.test", "pytest", "tox"])))
        );
        assert_eq!(
            anchor(&[r"^(mkfs|wipefs)", r"^mkfs\.ext4 "]),
            Some((vec![], names(&["mkfs", "wipefs"]))),
            "mkfs covers mkfs.ext4"
        );
        assert_eq!(
            anchor(&[r"^make( (test|check))?$"]),
            Some((vec![], names(&["make"])))
        );
        // Case-insensitive literals are enumerated.
        assert_eq!(
            anchor(&[r"^(?i:gh) pr"]),
            Some((names(&["GH", "Gh", "gH", "gh"]), vec![]))
        );
    }

    #[test]
    fn patterns_that_can_match_anywhere_are_not_anchored() {
        assert_eq!(anchor(&[r".*\s(--host)"]), None);
        assert_eq!(anchor(&[r"^git push", r"--force"]), None);
        assert_eq!(anchor(&[r"^(git|.*) push"]), None);
        assert_eq!(
            anchor(&[r"(?m)^git push"]),
            None,
            "a line start is not the start"
        );
        assert_eq!(anchor(&[r"^\S+ push"]), None);
        assert_eq!(anchor(&[r"^ push"]), None);
        assert_eq!(anchor(&[r"^("]), None, "an invalid pattern");
    }

    #[test]
    fn anchored_programs_are_admitted_and_others_not() {
        let a =
            Anchor::from_line_patterns(&names(&[r"^python[0-9.]* -m", r"^cargo test"])).unwrap();
        assert!(a.admits("python3.12"));
        assert!(a.admits("cargo"));
        assert!(!a.admits("cargo-nextest"));
        assert!(!a.admits("ls"));
    }

    #[test]
    fn command_globs_anchor_when_they_are_names_or_prefixes() {
        let a = Anchor::from_commands(&names(&["dd", "mkfs.*"])).unwrap();
        assert!(a.admits("dd") && a.admits("mkfs.ext4"));
        assert!(!a.admits("mkfs") && !a.admits("ddrescue"));
        assert_eq!(Anchor::from_commands(&names(&["*rm"])), None);
        assert_eq!(Anchor::from_commands(&names(&["*"])), None);
        assert_eq!(Anchor::from_commands(&names(&["x[yz]"])), None);
    }
}
