//! Secret-looking argument keys: an agent passing a password or token as a
//! tool argument is refused before the call goes anywhere, naming the key
//! paths and never the values.
//!
//! A key is secret-looking when one of its words (split at `_`, `-`, `.`,
//! spaces and camelCase) is a secret word, or two neighbouring words make
//! one (`api key`, `private key`, `client secret`…). Whole words, so
//! `max_tokens` or `keyboard` are not, while `apiKey`, `GITHUB_TOKEN` and
//! `db-password` are.

use serde_json::Value;

/// Words that name a secret on their own.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
    "pwd",
];

/// Word pairs that name a secret together.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("signing", "key"),
    ("auth", "key"),
];

/// Paths (`arguments.db.password`, `arguments.items[2].token`) of every
/// secret-looking key holding a value (a non-empty string or a number);
/// objects and arrays are searched, not judged.
pub fn secret_like_paths(arguments: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    let mut path = String::with_capacity(64);
    path.push_str("arguments");
    walk(arguments, &mut path, &mut paths);
    paths
}

/// Walks `value` with `path` naming it; the one path buffer grows and
/// shrinks with the walk, so only reported paths are allocated.
fn walk(value: &Value, path: &mut String, out: &mut Vec<String>) {
    let at = path.len();
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                path.push('.');
                path.push_str(key);
                let holds_value = match value {
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Number(_) => true,
                    _ => false,
                };
                if holds_value && is_secret_key(key) {
                    out.push(path.clone());
                }
                walk(value, path, out);
                path.truncate(at);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                use std::fmt::Write;
                let _ = write!(path, "[{i}]");
                walk(item, path, out);
                path.truncate(at);
            }
        }
        _ => {}
    }
}

/// True when `key` names a secret (see the module's doc).
pub fn is_secret_key(key: &str) -> bool {
    // An ASCII key's words are pieces of it, so one that holds no secret
    // word and no pair's two words (`path`, `query`, `max_bytes`) is settled
    // without splitting it. Other keys are split, since a non-ASCII letter
    // can lower-case to an ASCII one (the Kelvin sign to `k`).
    let holds = |word: &str| contains_ignore_ascii_case(key, word);
    if key.is_ascii()
        && !SECRET_WORDS.iter().any(|w| holds(w))
        && !SECRET_PAIRS.iter().any(|(a, b)| holds(a) && holds(b))
    {
        return false;
    }
    let words = words(key);
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| SECRET_PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
}

/// `text` holds `needle` (lower-case ASCII), ignoring ASCII case.
fn contains_ignore_ascii_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Lower-case words of an identifier: `apiKey` → [api, key],
/// `GITHUB_TOKEN` → [github, token], `HTTPProxy` → [http, proxy].
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && !current.is_empty()
            && (chars[i - 1].is_lowercase()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase())
                    && chars[i - 1].is_uppercase());
        if boundary {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_words_whole_not_inside_other_words() {
        for key in [
            "password",
            "apiKey",
            "api_key",
            "GITHUB_TOKEN",
            "db-password",
            "clientSecret",
            "private_key",
            "AWSAccessKey",
            "credentials",
            "auth.token",
            "PASSPHRASE",
            "user_pwd",
            // Not ASCII: split, so the Kelvin sign reads as `k`.
            "api_\u{212A}ey",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "max_tokens",
            "keyboard",
            "keys",
            "path",
            "passwordless_login_enabled_count_x",
            "monkey",
            "tokenizer",
            "secretary",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn paths_name_keys_with_values_at_any_depth() {
        let args = serde_json::json!({
            "query": "select 1",
            "list": [[1, {"deep": [{"client_secret": "s"}]}]],
            "db": {"host": "x", "password": "hunter2"},
            "items": [{"apiKey": "abc"}, {"token": ""}],
            "max_tokens": 100,
            "token": null,
        });
        assert_eq!(
            secret_like_paths(&args),
            [
                "arguments.db.password",
                "arguments.items[0].apiKey",
                "arguments.list[0][1].deep[0].client_secret"
            ]
        );
    }
}
