//! Database statements that destroy data (`DROP`, `TRUNCATE`, `ALTER …
//! DROP`, `GRANT ALL`, the key-value and document stores' equivalents
//! (`FLUSHALL`, `dropDatabase()`), and `DELETE`/`UPDATE` whose `WHERE`
//! selects every row (none at all, `WHERE true`, `WHERE 1=1`, `… OR 1=1`:
//! BigQuery and Spanner refuse a `DELETE` without `WHERE`, so `WHERE true`
//! is how one empties a table there); and those that grant access or set
//! a credential ([`grants`]).
//!
//! Statements are read where a statement is expected, not in any text: a
//! commit message "update docs set the default" is not SQL. That is a
//! database client's arguments and input, a subcommand that runs
//! statements (`bq query`, `gcloud spanner databases execute-sql`), an
//! option that carries one (`--sql`, `--query-string`, `--command`), and a
//! tool argument named for one ([`statement_key`]).

use super::patterns::patterns;
use crate::policy::operands::leading_operands;
use crate::policy::shell::SimpleCommand;

/// The patterns' indices in `patterns().sql` whose statement is harmless
/// when a `WHERE` clause narrows it: `DELETE FROM t WHERE …`, `UPDATE t SET
/// … WHERE …`.
const FILTERABLE: [usize; 2] = [2, 5];

/// True when `text` holds a statement that destroys or overwrites data.
pub(crate) fn destroys(text: &str) -> bool {
    let sql = &patterns().sql;
    if !sql.is_match(text) {
        return false;
    }
    statements(text).any(|statement| {
        let found = sql.matches(statement);
        let narrowed = || where_condition(statement).is_some_and(|c| !always_true(c));
        found.matched_any() && (found.iter().any(|i| !FILTERABLE.contains(&i)) || !narrowed())
    })
}

/// True when `text` holds a statement that grants or takes away access or
/// sets a credential (`GRANT SELECT ON t TO bob`, `CREATE USER`, `ALTER
/// ROLE … PASSWORD`, `ACL SETUSER`, `CONFIG SET requirepass`,
/// `db.createUser(…)`).
pub(crate) fn grants(text: &str) -> bool {
    patterns().sql_grants.is_match(text)
}

/// The statements of `text`: split at each `;` outside a quoted literal.
fn statements(text: &str) -> impl Iterator<Item = &str> {
    let mut quote = None;
    text.split(move |c: char| {
        match (quote, c) {
            (None, '\'' | '"' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        c == ';' && quote.is_none()
    })
}

/// True when a program is a database client (`psql`, `mysql`, `bq`…, any
/// program whose name holds `sql` or `cql`).
pub(super) fn is_client(program: &str) -> bool {
    matches!(
        program,
        "redis-cli"
            | "valkey-cli"
            | "keydb-cli"
            | "mongo"
            | "mongosh"
            | "duckdb"
            | "clickhouse"
            | "clickhouse-client"
            | "bq"
            | "trino"
            | "presto"
            | "hive"
            | "beeline"
            | "influx"
            | "impala-shell"
            | "snowsql"
            | "sqlite"
            | "cockroach"
            | "db2"
            | "isql"
            | "osql"
            | "vsql"
            | "pgcli"
            | "mycli"
            | "litecli"
            | "usql"
            | "mariadb"
    ) || program.contains("sql")
        || program.contains("cql")
}

/// True when a program takes database statements on its command line or
/// input: a database client ([`is_client`]), or a subcommand that runs
/// them (`bq query`, `execute-sql`, `execute-statement`, `dolt sql`, `turso
/// db shell`).
pub(super) fn takes_statements(cmd: &SimpleCommand) -> bool {
    let program = cmd.program.as_str();
    let client = is_client(program);
    client
        || leading_operands(program, &cmd.args).any(|op| {
            let w = op.word;
            ["sql", "query", "statement"]
                .iter()
                .any(|k| contains_ignoring_case(w, k))
                || w.eq_ignore_ascii_case("execute")
                || w.eq_ignore_ascii_case("shell")
        })
}

/// True when `text` holds `needle` (lower case), ignoring ASCII case.
fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// True when an option's name says its value is a statement (`--sql`,
/// `--query-string`, `--statement`, `--command`, `--execute`, `--eval`).
pub(super) fn statement_option(option: &str) -> bool {
    let Some(name) = option.strip_prefix("--") else {
        return false;
    };
    let name = name.split('=').next().unwrap_or(name);
    ["sql", "query", "statement", "command", "execute", "eval"]
        .iter()
        .any(|k| contains_ignoring_case(name, k))
}

/// True when `text` starts with a statement's keyword (`SELECT …`,
/// `DROP TABLE …`, `PRAGMA …`): a statement, not a shell command line.
pub(super) fn starts_statement(text: &str) -> bool {
    let first = text
        .trim_start()
        .split([' ', '\t', '\n', '('])
        .next()
        .unwrap_or("");
    [
        "select", "insert", "update", "delete", "create", "drop", "alter", "truncate", "with",
        "show", "describe", "desc", "explain", "pragma", "grant", "revoke", "begin", "merge",
        "upsert", "replace", "copy", "vacuum", "analyze", "call", "use", "values",
    ]
    .iter()
    .any(|k| first.eq_ignore_ascii_case(k))
}

/// True when a tool argument's key names a statement (`sql`, `query`,
/// `statement`, `stmt`, `cypher`; not `command`, which is a shell
/// command line and read as one).
pub(crate) fn statement_key(key: &str) -> bool {
    ["sql", "query", "statement", "stmt", "cypher"]
        .iter()
        .any(|k| contains_ignoring_case(key, k))
}

/// The condition of the statement's `WHERE` clause, up to the end of the
/// statement or a clause that follows it (`LIMIT`, `RETURNING`, `ORDER BY`).
fn where_condition(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let at = word_at(&lower, "where", 0)?;
    let start = at + "where".len();
    let mut end = lower[start..].find(';').map_or(text.len(), |e| start + e);
    for clause in ["limit", "returning", "order"] {
        if let Some(e) = word_at(&lower[..end], clause, start) {
            end = e;
        }
    }
    Some(&text[start..end])
}

/// The first place at or after `from` where `word` stands as a whole word.
fn word_at(text: &str, word: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(found) = text[at..].find(word) {
        let i = at + found;
        let before = i == 0 || !is_word_byte(bytes[i - 1]);
        let after = bytes.get(i + word.len()).is_none_or(|&b| !is_word_byte(b));
        if before && after {
            return Some(i);
        }
        at = i + word.len();
    }
    None
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when a condition holds for every row: one of its `OR` branches is
/// made only of conditions that always hold (`true`, `1`, `1=1`, `'a'='a'`,
/// `id = id`, `2 > 1`, `name LIKE '%'`, `NOT false`).
fn always_true(condition: &str) -> bool {
    let lower = condition.to_ascii_lowercase();
    let holds =
        split_words(&lower, "or").any(|branch| split_words(branch, "and").all(trivially_true));
    holds
}

/// `text` split at `word` standing as a whole word.
fn split_words<'t>(text: &'t str, word: &'t str) -> impl Iterator<Item = &'t str> + 't {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match word_at(t, word, 0) {
            Some(i) => {
                rest = Some(&t[i + word.len()..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

fn trivially_true(atom: &str) -> bool {
    let atom = atom.trim_matches(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"'));
    if let Some(negated) = atom.strip_prefix("not ") {
        return matches!(negated.trim(), "false" | "0");
    }
    if atom == "true" || atom.parse::<i64>().is_ok_and(|n| n != 0) {
        return true;
    }
    if let Some((left, pattern)) = atom.split_once(" like ") {
        return !left.trim().is_empty() && pattern.trim().trim_matches('\'') == "%";
    }
    for op in ["<>", "!=", ">=", "<=", "==", "=", ">", "<"] {
        let Some((left, right)) = atom.split_once(op) else {
            continue;
        };
        let (left, right) = (left.trim(), right.trim());
        if left.is_empty() || right.is_empty() {
            return false;
        }
        if let (Ok(a), Ok(b)) = (left.parse::<f64>(), right.parse::<f64>()) {
            return match op {
                "<>" | "!=" => a != b,
                ">=" => a >= b,
                "<=" => a <= b,
                ">" => a > b,
                "<" => a < b,
                _ => a == b,
            };
        }
        return matches!(op, "=" | "==" | ">=" | "<=") && left == right;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_destroy() {
        for text in [
            "DROP TABLE users",
            "truncate table sessions",
            "DELETE FROM orders",
            "DELETE FROM orders;",
            "DELETE FROM users WHERE true",
            "DELETE FROM ds.users WHERE 1=1",
            "delete from users where 1",
            "DELETE FROM users WHERE id = 3 OR 1=1",
            "DELETE FROM users WHERE 'a' = 'a'",
            "DELETE FROM users WHERE (id = id)",
            "DELETE FROM users WHERE name LIKE '%'",
            "DELETE FROM users WHERE 2 > 1 LIMIT 1000",
            "UPDATE users SET role = 'admin'",
            "UPDATE users SET role = 'admin' WHERE 1=1",
            "UPDATE users SET active = false WHERE NOT false",
            "FLUSHALL",
        ] {
            assert!(destroys(text), "{text}");
        }
        for text in [
            "SELECT * FROM users WHERE true",
            "DELETE FROM orders WHERE id = 3",
            "DELETE FROM users WHERE created < now() - interval '1 day'",
            "DELETE FROM users WHERE id = 3 AND 1=1",
            "DELETE FROM users WHERE 1=0",
            "DELETE FROM users WHERE a = b",
            "UPDATE users SET role = 'admin' WHERE id = 4",
            "UPDATE users SET n = 1 WHERE name LIKE 'a%'",
        ] {
            assert!(!destroys(text), "{text}");
        }
    }

    #[test]
    fn statements_that_grant() {
        for text in [
            "GRANT SELECT, INSERT ON orders TO analyst",
            "grant admin to bob",
            "REVOKE ALL ON SCHEMA public FROM app",
            "CREATE USER bob WITH PASSWORD 'x'",
            "ALTER ROLE app WITH SUPERUSER",
            "CREATE LOGIN svc WITH PASSWORD = 'x'",
            "SET PASSWORD FOR 'bob'@'%' = 'x'",
            "ACL SETUSER bob on >x +@all",
            "CONFIG SET requirepass x",
            "db.grantRolesToUser(\"bob\", [\"root\"])",
        ] {
            assert!(grants(text), "{text}");
        }
        for text in [
            "SELECT * FROM grants",
            "SHOW GRANTS FOR bob",
            "ALTER TABLE users ADD COLUMN role text",
            "CONFIG GET requirepass",
            "CONFIG SET maxmemory 100mb",
            "db.getUsers()",
        ] {
            assert!(!grants(text), "{text}");
        }
    }

    #[test]
    fn where_statements_are_expected() {
        assert!(statement_option("--sql"));
        assert!(statement_option("--query-string=x"));
        assert!(!statement_option("-m"));
        assert!(!statement_option("--message"));
        assert!(statement_key("sql"));
        assert!(statement_key("sqlQuery"));
        assert!(!statement_key("body"));
    }
}
