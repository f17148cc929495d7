//! Which argv may run in the sandbox: only allowlisted command prefixes, and
//! never a shell, a shell wrapper or a token carrying shell syntax — the
//! runner executes argv directly, so such tokens could only be an attempt to
//! smuggle a second command.

/// Programs that would interpret their arguments as shell code.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox", "env", "xargs",
    "eval", "exec", "nohup", "setsid", "sudo", "su", "doas",
];

/// Characters that mean shell syntax in a token.
const METACHARACTERS: &[char] = &[
    ';', '|', '&', '$', '`', '<', '>', '(', ')', '\n', '\r', '\0',
];

/// A refused argv, naming the offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: `{token}`")]
pub struct Rejected {
    /// The token that was refused (or the whole command for a prefix miss).
    pub token: String,
    /// Why.
    pub reason: &'static str,
}

/// The allowlist of command prefixes, each a list of leading tokens.
#[derive(Debug, Clone)]
pub struct CommandPolicy {
    prefixes: Vec<Vec<String>>,
}

impl CommandPolicy {
    /// A policy allowing argv that start with one of `prefixes`.
    pub fn new(prefixes: Vec<Vec<String>>) -> CommandPolicy {
        CommandPolicy { prefixes }
    }

    /// Checks an argv; `Ok` means it may run.
    pub fn check(&self, argv: &[String]) -> Result<(), Rejected> {
        let Some(program) = argv.first() else {
            return Err(Rejected {
                token: String::new(),
                reason: "empty command",
            });
        };
        let name = program.rsplit('/').next().unwrap_or(program);
        if SHELLS.contains(&name) {
            return Err(Rejected {
                token: program.clone(),
                reason: "shells and shell wrappers are not run in the sandbox; give the command's own argv",
            });
        }
        if let Some(token) = argv.iter().find(|t| t.contains(METACHARACTERS)) {
            return Err(Rejected {
                token: token.clone(),
                reason: "shell metacharacters are refused (no pipes, redirections, substitutions or command separators)",
            });
        }
        let allowed = self.prefixes.iter().any(|prefix| {
            prefix.len() <= argv.len()
                && prefix.iter().zip(argv).enumerate().all(|(i, (p, a))| {
                    // The program may be given by path: `/usr/bin/pytest` is `pytest`.
                    if i == 0 {
                        p == a || p == name
                    } else {
                        p == a
                    }
                })
        });
        if !allowed {
            return Err(Rejected {
                token: argv.join(" "),
                reason: "the command does not start with an allowlisted prefix (sandbox.allowed_commands)",
            });
        }
        Ok(())
    }

    /// Splits a command line into argv with shell quoting rules, refusing
    /// what only a shell could run.
    pub fn split(&self, line: &str) -> Result<Vec<String>, Rejected> {
        if let Some(c) = line.chars().find(|c| METACHARACTERS.contains(c)) {
            return Err(Rejected {
                token: c.to_string(),
                reason: "shell metacharacters are refused (no pipes, redirections, substitutions or command separators)",
            });
        }
        shlex::split(line).ok_or_else(|| Rejected {
            token: line.to_owned(),
            reason: "unbalanced quotes",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CommandPolicy {
        CommandPolicy::new(vec![
            vec!["cargo".into(), "test".into()],
            vec!["pytest".into()],
            vec!["npm".into(), "test".into()],
        ])
    }

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn prefixes_shells_and_metacharacters() {
        let p = policy();
        assert!(p.check(&argv("cargo test --all")).is_ok());
        assert!(p.check(&argv("/usr/local/bin/pytest -q")).is_ok());
        assert_eq!(
            p.check(&argv("cargo build")).unwrap_err().token,
            "cargo build"
        );
        assert_eq!(p.check(&argv("bash -c ls")).unwrap_err().token, "bash");
        assert_eq!(p.check(&argv("/bin/sh x")).unwrap_err().token, "/bin/sh");
        let err = p.check(&["pytest".into(), "$(curl x)".into()]).unwrap_err();
        assert_eq!(err.token, "$(curl x)");
        assert_eq!(
            p.check(&["pytest".into(), "`id`".into()])
                .unwrap_err()
                .token,
            "`id`"
        );
        assert_eq!(p.check(&[]).unwrap_err().reason, "empty command");
    }

    #[test]
    fn splitting_keeps_quotes_and_refuses_syntax() {
        let p = policy();
        assert_eq!(
            p.split(r#"pytest -k "a and b""#).unwrap(),
            ["pytest", "-k", "a and b"]
        );
        assert_eq!(p.split("cargo test | tee x").unwrap_err().token, "|");
        assert_eq!(p.split("cargo test > out").unwrap_err().token, ">");
        assert_eq!(
            p.split("pytest 'unbalanced").unwrap_err().reason,
            "unbalanced quotes"
        );
    }
}
