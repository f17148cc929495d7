//! Commands that change nothing whatever their verbs say: a request for
//! usage or a version alone (`lxc-destroy -?`, `rmmod --version`), and a
//! preview of a change (`--dry-run`, `terraform plan -destroy`, `az …
//! --what-if`).
//!
//! Only the verb and flag readings give way to a preview: a program that
//! does not know the flag refuses it (the CLI parsers of cobra, click,
//! argparse and clap all do), and what a command writes, reads, runs or
//! connects to is judged as before.

use crate::policy::operands::may_be_option_value;
use crate::policy::shell::SimpleCommand;

/// True when a command only prints its usage or version: its one argument
/// asks for it, with nothing fed to it or set for it. A shell or an
/// interpreter is taken at its word only for `--help` and `--version`:
/// `sh -h` sets an option and reads commands from its input. So is a power
/// command: `shutdown -h` halts the machine.
pub(super) fn usage_only(cmd: &SimpleCommand, interprets: bool) -> bool {
    let [arg] = cmd.args.as_slice() else {
        return false;
    };
    let own_meaning = interprets
        || matches!(
            cmd.program.as_str(),
            "shutdown" | "halt" | "poweroff" | "reboot"
        );
    let asks = match arg.as_str() {
        "--help" | "--version" => true,
        "-h" | "-help" | "-?" | "/?" | "-V" | "--usage" | "--help-cmd" => !own_meaning,
        _ => false,
    };
    asks && cmd.assignments.is_empty()
        && cmd.redirects.is_empty()
        && cmd.input.is_empty()
        && cmd.code.is_none()
}

/// [`usage_only`] for any command: the policy's command rules pass over a
/// usage or version request as the capability reading does (`parted -h`,
/// `su -V`, `rmmod --version`).
pub fn usage_request(cmd: &SimpleCommand) -> bool {
    use super::vocabulary::{is_interpreter, program_class, SHELL};
    if cmd.args.len() != 1 {
        return false;
    }
    let program = cmd.program.as_str();
    usage_only(
        cmd,
        program_class(program) & SHELL != 0 || is_interpreter(program),
    )
}

/// True when a command previews a change instead of making it: a dry-run
/// flag (`--dry-run`, `--dry-run=client`, `--dryrun`, `--what-if`,
/// `-WhatIf`, `--simulate`; not `--dry-run=none` or `--dry-run no`), or a
/// first operand that plans, previews or diffs (`terraform plan -destroy`,
/// `pulumi preview`, `kubectl diff`).
pub fn previews(cmd: &SimpleCommand) -> bool {
    let args = &cmd.args;
    let off = |value: &str| {
        ["none", "false", "no", "off", "0"]
            .iter()
            .any(|v| value.eq_ignore_ascii_case(v))
    };
    let dry = args.iter().enumerate().any(|(i, arg)| {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (arg.as_str(), None),
        };
        let named = name.starts_with('-')
            && [
                "--dry-run",
                "--dryrun",
                "--dry_run",
                "--what-if",
                "--whatif",
                "-whatif",
                "--simulate",
            ]
            .iter()
            .any(|flag| name.eq_ignore_ascii_case(flag));
        let value = value.or_else(|| args.get(i + 1).map(String::as_str));
        // `git clean -f -e --dry-run` excludes a pattern, then deletes.
        named && !value.is_some_and(off) && !may_be_option_value(args, i)
    });
    dry || cmd
        .positional()
        .next()
        .is_some_and(|first| matches!(first, "plan" | "preview" | "diff"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> SimpleCommand {
        crate::policy::shell::split(line).remove(0)
    }

    #[test]
    fn usage_and_version_requests() {
        assert!(usage_only(&command("lxc-destroy -?"), false));
        assert!(usage_only(&command("rmmod --version"), false));
        assert!(usage_only(&command("bash --help"), true));
        assert!(!usage_only(&command("sh -h"), true));
        assert!(!usage_only(&command("rmmod --version > /etc/x"), false));
        assert!(!usage_only(
            &command("LD_PRELOAD=/tmp/x.so rmmod --version"),
            false
        ));
        assert!(!usage_only(&command("rm -rf --help x"), false));
        // The power commands' `-h` halts.
        assert!(!usage_request(&command("shutdown -h")));
        assert!(usage_request(&command("shutdown --help")));
        assert!(usage_request(&command("parted -h")));
        assert!(!usage_request(&command("bash -h")));
    }

    #[test]
    fn previews_of_a_change() {
        for line in [
            "pio system prune --dry-run",
            "kubectl delete ns prod --dry-run=client",
            "systemd-repart --dry-run yes",
            "az group delete -n g --what-if",
            "terraform plan -destroy",
        ] {
            assert!(previews(&command(line)), "{line}");
        }
        for line in [
            "kubectl delete ns prod --dry-run=none",
            "systemd-repart --dry-run no",
            "terraform destroy",
            "aws s3 rb s3://b --force",
            "mytool delete -e --dry-run x",
        ] {
            assert!(!previews(&command(line)), "{line}");
        }
    }
}
