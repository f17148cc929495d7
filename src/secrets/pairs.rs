//! A user name and a password given together: `user = bob` beside
//! `password = open_sesame` (INI, YAML, `.env`, Perl and Ruby hashes) or
//! `--user root --password rootpass` on one command line. People choose
//! passwords that are plain words, and a plain word alone cannot be told
//! from prose (`password: required`); next to a user name it is a
//! credential. The password must still be a literal: not a placeholder, a
//! reference, code, or a word that describes a field.

use std::sync::OnceLock;

use regex::Regex;

/// Lines either side of the password's line where its user may be named.
const NEARBY_LINES: usize = 3;

/// Assigning a user name (`user = x`, `"username": "x"`, `User ID=x`,
/// `:login => 'x'`, `--user x`): the key ends a word, the value is a
/// literal.
const USER: &str = r#"(?i)(?:^|[^a-z0-9])(?:[a-z0-9_.\-]*[_.\-])?(?:user|username|user_?name|user ?id|login|uid)['"]?(?:\s*(?::=|=>|[:=])\s*|\s+)['"]?[A-Za-z0-9_.@\\\-]+"#;

/// Words that describe a password field rather than fill it.
const FIELD_WORDS: &[&str] = &[
    "required",
    "optional",
    "string",
    "hidden",
    "sensitive",
    "boolean",
    "integer",
    "number",
    "masked",
    "encrypted",
    "unknown",
    "default",
    "prompt",
    "secret",
    "password",
    "passwd",
    "disabled",
    "enabled",
    "invalid",
    "missing",
    "omitted",
    "removed",
    "unchanged",
];

fn user_assignment() -> &'static Regex {
    static USER_RE: OnceLock<Regex> = OnceLock::new();
    USER_RE.get_or_init(|| Regex::new(USER).expect("static user pattern"))
}

/// True when line `line_no` of `text`, which the password detector `re`
/// matched, assigns a literal password and a user name is assigned on it
/// or within [`NEARBY_LINES`] of it.
pub(super) fn is_credential_pair(text: &str, line_no: usize, line: &str, re: &Regex) -> bool {
    let literal = re.captures_iter(line).any(|caps| {
        let value = caps.name("value").map_or("", |m| m.as_str());
        is_literal_password(value)
    });
    literal
        && text
            .lines()
            .skip(line_no.saturating_sub(NEARBY_LINES))
            .take(2 * NEARBY_LINES + 1)
            .any(|nearby| user_assignment().is_match(nearby))
}

/// A value that can only be the password itself: not made up, not a word
/// standing for one, not code or a reference, not an environment variable's
/// name (`DB_PASSWORD`), not a field description.
fn is_literal_password(value: &str) -> bool {
    let shouting = value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    !shouting
        && !super::made_up(value)
        && !super::is_word_placeholder(value)
        && !super::is_code_or_reference(value)
        && !FIELD_WORDS.iter().any(|w| value.eq_ignore_ascii_case(w))
}

#[cfg(test)]
mod tests {
    use super::super::contains_secret;

    #[test]
    fn a_user_beside_a_plain_password_is_a_credential() {
        for text in [
            "user = Aladdin\npassword = open_sesame\n",
            "[SupportSite]\nUsername=thisismyunsername\nPassword=thisismypassword\n",
            "AUTO_SESSION_USERNAME=myusername\nAUTO_SESSION_PASSWORD=mypassword\n",
            "beta => {\n  host => 'db',\n  user => 'joe',\n  password => 'thisismypassword',\n}\n",
            "mysql --user=root --password=rootpassword app",
            "user: deploy\n# the shared one\npassword: bluebird\n",
        ] {
            assert!(contains_secret(text), "{text}");
        }
    }

    #[test]
    fn descriptions_references_and_lone_words_are_not() {
        for text in [
            "password = open_sesame",
            "user: string\npassword: string\n",
            "username: admin\npassword: required\n",
            "user = ${DB_USER}\npassword = ${DB_PASSWORD}\n",
            "user: app\npassword: DB_PASSWORD\n",
            "user: app\npassword: settings.db.password\n",
            "user: app\npassword: password\n",
            "--user root --password \"$MYSQL_PWD\"",
            "bypass = nothing\nuser = x",
        ] {
            assert!(!contains_secret(text), "{text}");
        }
    }
}
