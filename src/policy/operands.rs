//! A command's leading operands: the words that name what it does (`aws
//! s3 rb`, `git -C dir stash clear`, `heroku apps:destroy`), read past
//! global options. One reader serves the rule engine's `subcommands` and
//! option-free `line` readings, and the capability analysis's verbs.

/// One of a command's leading operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operand<'a> {
    /// Its position among the arguments.
    pub index: usize,
    /// The word.
    pub word: &'a str,
    /// It follows an option this analysis does not know, so it may be
    /// that option's value rather than an operand.
    pub maybe_value: bool,
}

/// How many arguments the reader looks at: subcommands come first.
const LEADING: usize = 12;

/// The leading operands of `program`'s arguments, up to the first path or
/// file name (operands that name what to act on, not what to do) or `--`.
/// Options are passed over, and so is the value of a global option known
/// to take one (`git -C dir`, `kubectl -n ns`). After an option this
/// analysis does not know, a word shaped like a value (a path, a dotted
/// name) is passed over as that value, and any other word comes marked
/// [`Operand::maybe_value`].
pub(crate) fn leading_operands<'a>(
    program: &'a str,
    args: &'a [String],
) -> impl Iterator<Item = Operand<'a>> + 'a {
    let (mut next, mut done) = (Next::Operand, false);
    args.iter()
        .take(LEADING)
        .enumerate()
        .filter_map(move |(index, arg)| {
            if done || arg == "--" {
                done = true;
                return None;
            }
            if arg.len() > 1 && arg.starts_with('-') {
                next = match (arg.contains('='), takes_value(program, arg)) {
                    (true, _) | (false, Some(false)) => Next::Operand,
                    (false, Some(true)) => Next::Value,
                    (false, None) => Next::MaybeValue,
                };
                return None;
            }
            let this = std::mem::replace(&mut next, Next::Operand);
            let value_like = value_like(arg);
            match this {
                Next::Value => None,
                Next::MaybeValue if value_like => None,
                _ => {
                    done = value_like;
                    (!value_like).then_some(Operand {
                        index,
                        word: arg,
                        maybe_value: this == Next::MaybeValue,
                    })
                }
            }
        })
}

/// A path or a dotted name (`./c`, `prod.yaml`, `a.b`), not `host:1.2`:
/// one pass over a short word costs less than three searches.
fn value_like(word: &str) -> bool {
    let (mut dot, mut colon) = (false, false);
    for b in word.bytes() {
        match b {
            b'/' => return true,
            b'.' => dot = true,
            b':' => colon = true,
            _ => {}
        }
    }
    dot && !colon
}

/// What the word after an option is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    Operand,
    Value,
    MaybeValue,
}

/// True when `args[i]` may be the value of the option before it rather
/// than a flag or operand of its own: it follows an option written
/// without `=` (`git clean -f -e --help` excludes the pattern `--help`).
pub(crate) fn may_be_option_value(args: &[String], i: usize) -> bool {
    i > 0 && args[i - 1].starts_with('-') && !args[i - 1].contains('=')
}

/// The words that may be a command's subcommand: its first leading
/// operand, and after an option this analysis does not know, both the
/// word that may be that option's value and the one after it (`helm
/// --burst-limit 50 upgrade` → `50`, `upgrade`).
pub(crate) fn subcommands<'a>(
    program: &'a str,
    args: &'a [String],
) -> impl Iterator<Item = Operand<'a>> + 'a {
    let mut done = false;
    leading_operands(program, args).take_while(move |op| {
        let more = !done;
        done = !op.maybe_value;
        more
    })
}

/// How a global option is read: `Some(true)` when its value is the next
/// word (not the subcommand), `Some(false)` when it stands alone, `None`
/// when this analysis does not know (the next word is then read both ways).
fn takes_value(program: &str, arg: &str) -> Option<bool> {
    let known = match program {
        // Closed sets: every other global option of these stands alone.
        "git" => {
            return Some(matches!(
                arg,
                "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--config-env"
            ))
        }
        "docker" => {
            return Some(matches!(
                arg,
                "-H" | "--host"
                    | "--context"
                    | "-c"
                    | "--config"
                    | "-l"
                    | "--log-level"
                    | "--tlscacert"
                    | "--tlscert"
                    | "--tlskey"
            ))
        }
        "terraform" | "tofu" => return Some(arg == "-chdir"),
        "kubectl" | "oc" | "helm" => matches!(
            arg,
            "-n" | "--namespace"
                | "--context"
                | "--kube-context"
                | "--kubeconfig"
                | "--cluster"
                | "--kube-token"
                | "--kube-apiserver"
        ),
        "podman" => matches!(
            arg,
            "-H" | "--host" | "--context" | "--config" | "--connection"
        ),
        "terragrunt" => arg == "--working-dir" || arg == "--terragrunt-working-dir",
        "pulumi" => matches!(arg, "-C" | "--cwd" | "-s" | "--stack" | "--color"),
        _ => false,
    };
    known.then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell;

    #[test]
    fn subcommands_skip_global_option_values() {
        let words = |line: &str| {
            let cmd = &shell::split(line)[0];
            subcommands(&cmd.program, &cmd.args)
                .map(|op| op.word.to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(words("git -C /repo reset --hard"), ["reset"]);
        assert_eq!(words("kubectl -n prod delete pod x"), ["delete"]);
        // An option not known to take a value or not: both readings.
        assert_eq!(words("helm --kube-context prod upgrade app"), ["upgrade"]);
        assert_eq!(
            words("helm --burst-limit 50 upgrade app"),
            ["50", "upgrade"]
        );
        // Programs whose global options are all known: no second reading.
        assert_eq!(words("git --no-pager log push"), ["log"]);
        assert_eq!(words("cdk --verbose deploy stack"), ["deploy", "stack"]);
        assert_eq!(words("cdk --app=x deploy stack"), ["deploy"]);
        assert_eq!(words("fly -- deploy"), Vec::<String>::new());
    }

    #[test]
    fn leading_operands_stop_at_the_first_path() {
        let words = |line: &str| {
            let cmd = &shell::split(line)[0];
            leading_operands(&cmd.program, &cmd.args)
                .map(|op| (op.word.to_owned(), op.maybe_value))
                .collect::<Vec<_>>()
        };
        let definite = |w: &[&str]| w.iter().map(|w| (w.to_string(), false)).collect::<Vec<_>>();
        assert_eq!(
            words("aws s3 rb s3://bucket --force"),
            definite(&["s3", "rb"])
        );
        // An unknown option's dotted or path value is passed over; another
        // word may be its value.
        assert_eq!(
            words("aws --profile prod ec2 stop-instances"),
            [
                ("prod".into(), true),
                ("ec2".into(), false),
                ("stop-instances".into(), false)
            ]
        );
        assert_eq!(
            words("gcloud --project=p --configuration ./c sql instances delete db"),
            definite(&["sql", "instances", "delete", "db"])
        );
        // Known global options: their values are never operands.
        assert_eq!(
            words("git -C /repo -c core.x=1 --no-pager stash clear"),
            definite(&["stash", "clear"])
        );
        assert_eq!(words("kubectl -- delete pod x"), definite(&[]));
    }
}
