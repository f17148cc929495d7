//! Commands that print a credential: a CLI asked for its access token or
//! password (`gcloud auth print-access-token`, `aws ecr get-login-password`,
//! `gh auth token`, `vault print token`, `heroku auth:token`), a private key
//! exported (`gpg --export-secret-keys`), a keyring or credential helper
//! read (`secret-tool lookup`, `keyctl print`, `git credential fill`,
//! `docker-credential-desktop get`), a configuration shown with its secrets
//! (`kubectl config view --raw`, `--show-token`), or a secret-named
//! variable printed (`printenv GITHUB_TOKEN`, `echo $AWS_SECRET_ACCESS_KEY`).
//! The value lands in the agent's context, as a secret manager's does.

use super::{Capabilities, Capability};
use crate::policy::operands::{leading_operands, may_be_option_value};
use crate::policy::shell::SimpleCommand;

/// Words that name a credential inside a CLI's leading words.
/// (Not `credentials`: `az aks get-credentials` writes a kubeconfig.)
const NOUNS: &[&str] = &["token", "password", "passwd"];
/// Verbs that print what they name.
const REVEALS: &[&str] = &[
    "print", "get", "show", "export", "dump", "reveal", "display", "read", "fetch", "view", "cat",
];

/// Marks every command that prints a credential as reading a sensitive
/// one, unless the next command is a login reading it from its input
/// (`aws ecr get-login-password | docker login --password-stdin`, `echo
/// "$GH_TOKEN" | gh auth login --with-token`): then it never reaches the
/// agent.
pub(super) fn mark_credential_prints(commands: &[SimpleCommand], caps: &mut [Capabilities]) {
    for (i, (cmd, cap)) in commands.iter().zip(caps).enumerate() {
        if prints_credential(cmd) && !handed_to_login(commands, i) {
            cap.add(
                Capability::ReadsSensitive,
                "prints a credential (a token, password or private key)",
            );
        }
    }
}

/// True when command `i` pipes into a login that reads a secret from its
/// input. The pipe's next stage is the commands after it up to the first
/// that does not pipe on (a wrapper and the command it runs share a stage).
fn handed_to_login(commands: &[SimpleCommand], i: usize) -> bool {
    commands[i].pipes_on
        && commands[i + 1..]
            .iter()
            .scan(true, |open, next| {
                let this = open.then_some(next);
                *open = next.pipes_on;
                this
            })
            .any(|next| {
                next.args.iter().any(|a| {
                    matches!(
                        a.as_str(),
                        "--password-stdin" | "--with-token" | "--token-stdin" | "--secret-stdin"
                    )
                })
            })
}

/// True when `cmd` prints a credential (not when it asks for usage).
fn prints_credential(cmd: &SimpleCommand) -> bool {
    if cmd.args.iter().any(|a| a == "--help" || a == "-h") {
        return false;
    }
    let program = cmd.program.as_str();
    let args = &cmd.args;
    let has = |word: &str| args.iter().any(|a| a == word);
    let first = cmd.positional().next().unwrap_or("");
    let by_program = match program {
        "gpg" | "gpg2" => args
            .iter()
            .any(|a| a.starts_with("--export-secret-") || a.starts_with("--export-ssh-key")),
        "secret-tool" => first == "lookup",
        "keyctl" => matches!(first, "print" | "read" | "pipe"),
        "kwallet-query" => has("-r") || has("--read-password"),
        "security" => first == "dump-keychain" && has("-d"),
        "git" => first == "credential" && cmd.positional().nth(1) == Some("fill"),
        "kubectl" | "oc" => first == "config" && has("--raw"),
        "printenv" => cmd.positional().any(names_secret),
        "echo" | "printf" => args.iter().any(|a| {
            a.split('$')
                .skip(1)
                .any(|v| names_secret(v.trim_start_matches('{')))
        }),
        _ => program.starts_with("docker-credential-") && first == "get",
    };
    by_program
        || args.iter().any(|a| {
            matches!(
                a.as_str(),
                "--show-token" | "--show-secret" | "--show-secrets"
            )
        })
        || asks_for_credential(program, args)
}

/// A CLI's leading words asking for a credential: a word joining a
/// revealing verb and a credential noun (`print-access-token`,
/// `get-login-password`), or a credential noun as the last leading word,
/// after a verb or alone (`vault print token`, `gh auth token`,
/// `heroku auth:token`). Not `npm token list`, `gh auth status`, nor
/// creating or revoking one (access grants and destruction).
fn asks_for_credential(program: &str, args: &[String]) -> bool {
    let is = |part: &str, list: &[&str]| list.iter().any(|w| part.eq_ignore_ascii_case(w));
    let mut words = leading_operands(program, args).take(4).peekable();
    let mut prev: Option<&str> = None;
    while let Some(op) = words.next() {
        let word = op.word;
        // Nouns start with `t` or `p`: most words are passed over here.
        let noun = word.split(['-', '_', ':', '.']).any(|p| {
            p.as_bytes()
                .first()
                .is_some_and(|b| matches!(b | 0x20, b't' | b'p'))
                && is(p, NOUNS)
        });
        // `--access-token token`: an option's value, not a word of the CLI's.
        if noun && !may_be_option_value(args, op.index) {
            let any_part =
                |w: &str, list: &[&str]| w.split(['-', '_', ':', '.']).any(|p| is(p, list));
            let auth = |w: &str| any_part(w, &["auth", "login", "account"]);
            let verb_before = prev.is_some_and(|p| is(p, REVEALS));
            // A noun alone is a request for it only under an auth command
            // (`gh auth token`; not `openssl passwd`, which hashes its input).
            let last = words.peek().is_none();
            if any_part(word, REVEALS)
                || verb_before
                || (last && (auth(word) || prev.is_some_and(auth)))
            {
                return true;
            }
        }
        prev = Some(word);
    }
    false
}

/// True when a variable name names a secret (`GITHUB_TOKEN`,
/// `AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`, `API_KEY`).
fn names_secret(name: &str) -> bool {
    let name: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|k| upper.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell;

    fn prints(line: &str) -> bool {
        prints_credential(&shell::split(line)[0])
    }

    #[test]
    fn credentials_printed() {
        for line in [
            "gcloud auth print-access-token",
            "az account get-access-token",
            "aws ecr get-login-password --region us-east-1",
            "aws sts get-session-token",
            "gh auth token",
            "vault print token",
            "heroku auth:token",
            "doctl auth token",
            "glab auth status --show-token",
            "gpg --armor --export-secret-keys",
            "secret-tool lookup service github",
            "keyctl print %user:token",
            "git credential fill",
            "docker-credential-desktop get",
            "kubectl config view --raw",
            "printenv GITHUB_TOKEN",
            "echo $AWS_SECRET_ACCESS_KEY",
            "echo \"token=${API_TOKEN}\"",
        ] {
            assert!(prints(line), "{line}");
        }
        for line in [
            "gcloud auth list",
            "az account show",
            "aws sts get-caller-identity",
            "gh auth status",
            "npm token list",
            "gh auth login",
            "kubectl config view",
            "gpg --list-secret-keys",
            "gpg --export --armor KEY",
            "secret-tool search key value",
            "printenv PATH",
            "echo $HOME",
            "git credential-cache exit",
            "passwd",
            "aws iam create-access-key",
            "openssl passwd -1 secret",
            "az aks get-credentials -g rg -n prod",
            "aws sso list-account-roles --account-id 1 --access-token token",
            "git config --get credential.helper",
        ] {
            assert!(!prints(line), "{line}");
        }
    }
}
