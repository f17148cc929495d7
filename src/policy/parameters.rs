//! Parameter expansions with an operator (`${NAME:-word}`, `${NAME:?}`,
//! `${NAME%/}`), as the splitter reads them: each is its variable
//! (`${HOME:?}/` is `${HOME}/`, `${HOME%/}` is `${HOME}`), and a command
//! holding a default, assigned or alternative value is read a second time
//! with that value in place — what runs when the variable is unset (or, for
//! `:+`, set): `rm -rf "${TARGET:-/}"` is also `rm -rf /`.

use super::shell::Redirect;

/// Reduces operator expansions in `words` and redirection targets to their
/// variables, and returns the second reading (the words and redirections
/// with the values in place) when any expansion held one.
pub(super) fn readings(
    words: &mut [String],
    redirects: &mut [Redirect],
) -> Option<(Vec<String>, Vec<Redirect>)> {
    let has = |w: &String| w.contains('$') && w.contains("${");
    if !words.iter().any(has) && !redirects.iter().any(|r| has(&r.target)) {
        return None;
    }
    let mut second: Option<Vec<String>> = None;
    for at in 0..words.len() {
        let Some(variable) = rewrite(&words[at], false) else {
            continue;
        };
        match rewrite(&words[at], true) {
            Some(value) => second.get_or_insert_with(|| words.to_vec())[at] = value,
            None => {
                if let Some(second) = second.as_mut() {
                    second[at].clone_from(&variable);
                }
            }
        }
        words[at] = variable;
    }
    let mut second_redirects: Option<Vec<Redirect>> = None;
    for at in 0..redirects.len() {
        let Some(variable) = rewrite(&redirects[at].target, false) else {
            continue;
        };
        match rewrite(&redirects[at].target, true) {
            Some(value) => {
                second_redirects.get_or_insert_with(|| redirects.to_vec())[at].target = value
            }
            None => {
                if let Some(second) = second_redirects.as_mut() {
                    second[at].target.clone_from(&variable);
                }
            }
        }
        redirects[at].target = variable;
    }
    if second.is_none() && second_redirects.is_none() {
        return None;
    }
    Some((
        second.unwrap_or_else(|| words.to_vec()),
        second_redirects.unwrap_or_else(|| redirects.to_vec()),
    ))
}

/// `word` with every operator expansion replaced: by its value (`values`:
/// the default, assigned or alternative word; `None` when there is none)
/// or by its variable (`${NAME}`; `None` when nothing changed).
fn rewrite(word: &str, values: bool) -> Option<String> {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    let mut changed = false;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let body = &rest[at + 2..];
        let Some(close) = matching_brace(body) else {
            // Unclosed: the rest is left as written.
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let inner = &body[..close];
        let name = name_len(inner);
        let (name, op) = inner.split_at(name);
        let operator = !name.is_empty()
            && op
                .bytes()
                .next()
                .is_some_and(|c| b":-=+?%#/^,@".contains(&c));
        match (operator, values.then(|| value(op)).flatten()) {
            (true, Some(value)) => {
                out.push_str(value);
                changed = true;
            }
            (true, None) if !values => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
                changed = true;
            }
            _ => out.push_str(&rest[at..at + 2 + close + 1]),
        }
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The word a default (`:-`, `-`), assignment (`:=`, `=`) or alternative
/// (`:+`, `+`) operator yields.
fn value(op: &str) -> Option<&str> {
    [":-", ":=", ":+", "-", "=", "+"]
        .iter()
        .find_map(|p| op.strip_prefix(p))
}

/// The length of the parameter name at the start of an expansion's body:
/// a variable, a positional digit or a special parameter.
fn name_len(inner: &str) -> usize {
    let b = inner.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => b
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .unwrap_or(b.len()),
        Some(c) if c.is_ascii_digit() || b"@*#?$!".contains(c) => 1,
        _ => 0,
    }
}

/// The offset of the `}` closing an expansion whose body starts `body`
/// (nested `${…}` counted).
fn matching_brace(body: &str) -> Option<usize> {
    let b = body.as_bytes();
    let mut depth = 0usize;
    for (i, c) in b.iter().enumerate() {
        match c {
            b'{' if i > 0 && b[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn operators_reduce_to_their_variable() {
        for (word, variable) in [
            ("${HOME:?}/", "${HOME}/"),
            ("${HOME?unset}", "${HOME}"),
            ("${HOME%/}", "${HOME}"),
            ("${HOME##*/}x", "${HOME}x"),
            ("${TARGET:-/}", "${TARGET}"),
            ("a${X:+${Y:-z}}b", "a${X}b"),
        ] {
            assert_eq!(rewrite(word, false).as_deref(), Some(variable), "{word}");
        }
        // Plain, length, indirect and array expansions are left alone.
        assert_eq!(rewrite("a${X:-/}b${y", false).as_deref(), Some("a${X}b${y"));
        for word in ["${HOME}", "${#HOME}", "${!ref}", "${a[@]}", "$HOME", "${x"] {
            assert_eq!(rewrite(word, false), None, "{word}");
        }
    }

    #[test]
    fn defaults_assignments_and_alternatives_are_a_second_reading() {
        for (word, value) in [
            ("${TARGET:-/}", "/"),
            ("${TARGET-/}", "/"),
            ("${TARGET:=/}", "/"),
            ("${X:+/etc}", "/etc"),
            ("${D:-$HOME}/", "$HOME/"),
        ] {
            assert_eq!(rewrite(word, true).as_deref(), Some(value), "{word}");
        }
        assert_eq!(rewrite("${HOME:?}", true), None);

        let mut list = words(&["rm", "-rf", "${TARGET:-/}", "${HOME%/}"]);
        let mut redirects = vec![Redirect {
            write: true,
            target: "${LOG:-/etc/passwd}".into(),
        }];
        let (second, second_redirects) = readings(&mut list, &mut redirects).unwrap();
        assert_eq!(list, ["rm", "-rf", "${TARGET}", "${HOME}"]);
        assert_eq!(second, ["rm", "-rf", "/", "${HOME}"]);
        assert_eq!(redirects[0].target, "${LOG}");
        assert_eq!(second_redirects[0].target, "/etc/passwd");

        // Nothing to read twice.
        let mut list = words(&["rm", "-rf", "${HOME:?}/"]);
        assert!(readings(&mut list, &mut []).is_none());
        assert_eq!(list, ["rm", "-rf", "${HOME}/"]);
    }
}
