//! What a command writes and reads, and which locations are outside the
//! workspace.

use super::patterns::patterns;
use super::tool_languages::Step;
use super::vocabulary::PRINT_ONLY;
use crate::policy::shell::SimpleCommand;

/// Paths a command writes: redirection targets, `tee` files, `dd of=`, the
/// destination of copies and moves, files edited in place.
pub(super) fn written_paths<'a>(cmd: &'a SimpleCommand, steps: &'a [Step<'a>]) -> Vec<&'a str> {
    let mut paths: Vec<&str> = cmd
        .redirects
        .iter()
        .filter(|r| r.write)
        .map(|r| r.target.as_str())
        .collect();
    let positional = || cmd.positional();
    match cmd.program.as_str() {
        "tee" | "touch" | "truncate" | "mkdir" | "ln" | "chmod" | "chown" | "chgrp" | "setfacl"
        | "chattr" | "shred" => paths.extend(positional()),
        // `mv` takes its sources away from where they were.
        "mv" => paths.extend(positional().chain(target_directory(cmd))),
        "cp" | "install" | "rsync" | "scp" | "rename" | "ditto" => {
            if let Some(target) = target_directory(cmd) {
                paths.push(target);
            } else if positional().nth(1).is_some() {
                paths.extend(positional().last());
            }
        }
        "sed" | "perl" | "ruby"
            if cmd
                .args
                .iter()
                .any(|a| a == "-i" || a.starts_with("-i") || a == "--in-place") =>
        {
            paths.extend(positional().skip(1))
        }
        "dd" => paths.extend(cmd.args.iter().filter_map(|a| a.strip_prefix("of="))),
        "patch" => paths.extend(positional().next()),
        // Editors write the files they open.
        "vi" | "vim" | "nvim" | "vimdiff" | "gvim" | "ex" | "ed" | "nano" | "pico" | "emacs"
        | "joe" | "jed" | "micro" | "mcedit" | "ne" | "kak" | "hx" | "helix" | "sudoedit"
        | "gedit" | "kate" | "mousepad" | "leafpad" => {
            paths.extend(positional().filter(|a| !a.starts_with('+')))
        }
        _ => {}
    }
    // Files inline code writes (`file_put_contents("/etc/cron.d/x", …)`,
    // `open(F, ">>", $ENV{HOME}."/.bashrc")`).
    if let Some(code) = cmd.code.as_deref().filter(|code| code_writes(code)) {
        paths.extend(
            code.split(['"', '\''])
                .skip(1)
                .step_by(2)
                .filter(|lit| lit.starts_with(['/', '~'])),
        );
    }
    // Output redirections inside code (`print "x" > "/etc/cron.d/y"`).
    if let Some(code) = program_text(cmd).filter(|code| code.contains(['>', '-'])) {
        paths.extend(
            patterns()
                .code_redirect
                .captures_iter(code)
                .filter_map(|c| c.get(1).or_else(|| c.get(2)).map(|m| m.as_str())),
        );
    }
    // A sed script's `w file` (`1s/.*/x/w /etc/y`).
    if let Some(script) = sed_script(cmd) {
        paths.extend(
            patterns()
                .sed_write
                .captures_iter(script)
                .filter_map(|c| c.get(1).map(|m| m.as_str())),
        );
    }
    // Output options of any program (`gcc -o`, `curl -o`, `wget -O`).
    for (i, a) in cmd.args.iter().enumerate() {
        if matches!(
            a.as_str(),
            "-o" | "--output" | "--out" | "--output-document"
        ) || (a == "-O" && cmd.program == "wget")
        {
            if let Some(p) = cmd.args.get(i + 1) {
                paths.push(p);
            }
        } else if let Some(p) = a
            .strip_prefix("--output=")
            .or_else(|| a.strip_prefix("--out="))
        {
            paths.push(p);
        }
    }
    // Writes in a program's own command language (`vim -c ':w /x'`).
    paths.extend(steps.iter().filter_map(|s| match s {
        Step::Writes(path) => Some(*path),
        _ => None,
    }));
    paths
}

/// The program text a command runs: its inline code, or an awk program.
pub(super) fn program_text(cmd: &SimpleCommand) -> Option<&str> {
    cmd.code.as_deref().or_else(|| awk_program(cmd))
}

/// An awk program (awk's first operand).
pub(super) fn awk_program(cmd: &SimpleCommand) -> Option<&str> {
    matches!(cmd.program.as_str(), "awk" | "gawk" | "mawk" | "nawk")
        .then(|| cmd.positional().next())
        .flatten()
}

/// A sed script: the value of the first `-e`, or the first operand.
pub(super) fn sed_script(cmd: &SimpleCommand) -> Option<&str> {
    if !matches!(cmd.program.as_str(), "sed" | "gsed") {
        return None;
    }
    cmd.args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with('-')
                || (*i > 0 && matches!(cmd.args[i - 1].as_str(), "-e" | "--expression"))
        })
        .map(|(_, a)| a.as_str())
        .next()
}

/// True when inline code writes or appends to files.
fn code_writes(code: &str) -> bool {
    [
        "write", "append", "put", "print F", ">>", "\">\"", "'>'", "'w'", "\"w\"", "'a'", "\"a\"",
    ]
    .iter()
    .any(|w| code.contains(w))
}

/// Paths a command reads (its file operands, input redirections, the file
/// lists it reads from a here-string: `cpio -o <<< /etc/shadow`, and the
/// values of its variable assignments).
pub(super) fn read_paths<'a>(
    cmd: &'a SimpleCommand,
    steps: &'a [Step<'a>],
) -> impl Iterator<Item = &'a str> {
    read_operands(cmd, steps).chain(
        cmd.assignments
            .iter()
            .filter_map(|a| a.split_once('=').map(|(_, v)| v)),
    )
}

/// True when a command reads a location outside the workspace: an absolute
/// path, a home dotfile or a climb out of the tree (`../..`) among its
/// operands, option values and input redirections, other than the system
/// locations every tool reads (`/usr`, `/etc/os-release`, `/proc/self`,
/// `/dev/null`). Programs that only print their arguments read nothing;
/// changing directory reads nothing (what runs there is judged itself).
pub(super) fn reads_outside<'a>(cmd: &'a SimpleCommand, steps: &'a [Step<'a>]) -> bool {
    let program = cmd.program.as_str();
    // Printed words; setters; directory changes; operands that are removed
    // (the destroy facts judge those; written ones are skipped below).
    if PRINT_ONLY.contains(&program)
        || matches!(
            program,
            "export" | "cd" | "pushd" | "rm" | "rmdir" | "unlink"
        )
    {
        return false;
    }
    // cmd.exe's switches (`dir /b`) are not directories at the root.
    let switch = |path: &str| super::windows::is_switch_of(cmd, path);
    let mut candidates = read_operands(cmd, steps)
        .filter(|path| {
            is_path_like(path) && outside_workspace(path) && !system_readable(path) && !switch(path)
        })
        .peekable();
    if candidates.peek().is_none() {
        return false;
    }
    // The pattern of a search or the script of a text filter is not a path.
    let pattern = matches!(
        program,
        "grep"
            | "egrep"
            | "fgrep"
            | "rg"
            | "ag"
            | "ack"
            | "awk"
            | "gawk"
            | "mawk"
            | "nawk"
            | "sed"
            | "jq"
            | "yq"
    )
    .then(|| cmd.positional().next())
    .flatten();
    let written = written_paths(cmd, steps);
    candidates.any(|path| {
        Some(path) != pattern && !written.contains(&path) && !names_a_resource(cmd, path)
    })
}

/// True when `path` names an API resource shaped like a path: the value of
/// a resource option (`--resource-id /subscriptions/…`, `--raw /api/v1/…`)
/// or a cloud CLI's operand ([`cloud_resource_operand`]).
fn names_a_resource(cmd: &SimpleCommand, path: &str) -> bool {
    cloud_resource_operand(cmd, path)
        || cmd.args.iter().enumerate().any(|(i, a)| {
            let (option, value) = match a.split_once('=') {
                Some((option, value)) if option.starts_with('-') => (option, value),
                _ if i > 0 && cmd.args[i - 1].starts_with('-') => {
                    (cmd.args[i - 1].as_str(), a.as_str())
                }
                _ => return false,
            };
            value == path && is_resource_option(option)
        })
}

/// True when `path` is an operand of a cloud CLI or a key-value store's
/// client that names a resource shaped like a path (`aws logs tail
/// /aws/lambda/fn`, `etcdctl get --prefix /registry`), not a local file:
/// only their transfer verbs (`s3 cp`, `storage blob upload`, `scp`,
/// `snapshot save`) read or write local paths through their operands.
fn cloud_resource_operand(cmd: &SimpleCommand, path: &str) -> bool {
    matches!(
        cmd.program.as_str(),
        "aws"
            | "gcloud"
            | "az"
            | "doctl"
            | "oci"
            | "ibmcloud"
            | "hcloud"
            | "linode-cli"
            // Key-value stores whose keys are shaped like paths.
            | "etcdctl"
            | "consul"
            | "zkCli.sh"
            | "zookeeper-shell"
    ) && !path.starts_with('~')
        && !cmd.positional().any(|word| {
            matches!(
                word,
                "cp" | "mv"
                    | "sync"
                    | "rsync"
                    | "scp"
                    | "copy"
                    | "upload"
                    | "upload-batch"
                    | "download"
                    | "download-batch"
                    | "import"
                    | "export"
                    | "deploy"
                    | "ssh"
                    | "snapshot"
            )
        })
        && cmd.positional().any(|word| word == path)
}

/// An option whose value names an API resource, not a file.
fn is_resource_option(option: &str) -> bool {
    let name = option.trim_start_matches('-').to_ascii_lowercase();
    name.ends_with("id")
        || name.ends_with("ids")
        || [
            "scope", "raw", "url", "uri", "endpoint", "route", "resource", "api-path",
        ]
        .iter()
        .any(|w| name.ends_with(w))
}

/// A word that names a file: starts like a path, no shell or regex syntax.
fn is_path_like(word: &str) -> bool {
    (word.starts_with(['/', '~'])
        || word.starts_with("$HOME")
        || word.starts_with("${HOME}")
        || super::has(word, "../.."))
        && !word.contains([
            ' ', '(', ')', '{', '}', '|', '^', '\\', '\'', '"', '<', '>', ';',
        ])
}

/// System locations any program may read: binaries, libraries, the OS's
/// identity, CA certificates, the process's own entries, harmless devices.
pub(super) fn system_readable(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/usr/",
        "/bin/",
        "/sbin/",
        "/lib/",
        "/lib32/",
        "/lib64/",
        "/nix/store/",
        "/proc/self/",
        "/etc/ssl/certs",
        "/etc/ca-certificates",
        "/etc/os-release",
        "/etc/lsb-release",
        "/etc/debian_version",
        "/etc/alpine-release",
        "/etc/redhat-release",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/timezone",
        "/etc/localtime",
        "/proc/cpuinfo",
        "/proc/meminfo",
        "/proc/version",
        "/proc/loadavg",
        "/proc/uptime",
        "/dev/zero",
        "/dev/urandom",
        "/dev/random",
    ];
    matches!(path, "/usr" | "/bin" | "/sbin" | "/lib" | "/lib64")
        || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// A directory of system programs (`/bin`, `/usr/local/sbin`), without a
/// trailing `/`.
pub(super) fn binary_directory(path: &str) -> bool {
    let path = path.strip_prefix("/usr").unwrap_or(path);
    let path = path.strip_prefix("/local").unwrap_or(path);
    matches!(path, "/bin" | "/sbin" | "/libexec")
}

/// What a command reads, without its assignments: its operands and the
/// paths its code opens.
fn read_operands<'a>(
    cmd: &'a SimpleCommand,
    steps: &'a [Step<'a>],
) -> impl Iterator<Item = &'a str> {
    // Only text that can hold code is searched (most arguments cannot: no
    // call or block in them), so no searcher is set up for the rest.
    let opened = cmd
        .args
        .iter()
        .chain(&cmd.input)
        .filter(|text| text.bytes().any(|b| b == b'(' || b == b'{'))
        .flat_map(|text| opened_paths(text));
    cmd.redirects
        .iter()
        .filter(|r| !r.write)
        .map(|r| r.target.as_str())
        .chain(
            cmd.input
                .iter()
                .flat_map(|text| text.lines().map(str::trim)),
        )
        .chain(cmd.args.iter().map(|a| operand_value(a)))
        .chain(opened)
        .chain(steps.iter().filter_map(|s| match s {
            Step::Reads(path) => Some(*path),
            _ => None,
        }))
}

/// The path an argument names: the value of `--file=~/.aws/credentials`
/// or `if=/etc/shadow`, `@~/.netrc` without its `@`, the path of
/// `man:/etc/shadow` or `file:///etc/shadow` (not of a remote file
/// system's `dbfs:/data`). Byte searches: arguments are
/// short, and a character searcher's set-up costs more than the scan.
fn operand_value(arg: &str) -> &str {
    let find = |s: &str, byte: u8| s.bytes().position(|b| b == byte);
    let value = find(arg, b'=').map_or(arg, |at| &arg[at + 1..]);
    let value = match find(value, b':') {
        Some(at)
            if at > 0
                && value[at + 1..].starts_with(['/', '~'])
                && value[..at].bytes().all(|b| b.is_ascii_alphabetic())
                && !remote_storage_scheme(&value[..at]) =>
        {
            let rest = &value[at + 1..];
            // `file:///etc/shadow`: the path after the authority.
            rest.strip_prefix("//").unwrap_or(rest)
        }
        _ => value,
    };
    value.trim_start_matches('@')
}

/// Schemes of remote file systems and object stores, whose paths
/// (`dbfs:/data`, `hdfs:/user/x`, `gs:/b`) are not on this machine.
fn remote_storage_scheme(scheme: &str) -> bool {
    [
        "dbfs", "hdfs", "webhdfs", "viewfs", "s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss",
        "wasb", "wasbs", "adl", "oss", "cos", "swift", "ftp", "sftp", "ssh", "smb",
    ]
    .iter()
    .any(|s| scheme.eq_ignore_ascii_case(s))
}

/// Path literals that code in `text` opens (`open("/etc/shadow")`,
/// `io.open('/x', 'rb')`, `\\verbatiminput{/x}`).
fn opened_paths(text: &str) -> impl Iterator<Item = &str> {
    patterns()
        .code_path
        .captures_iter(text)
        .filter_map(|c| c.iter().skip(1).flatten().next().map(|m| m.as_str()))
}

/// Where agents' workspaces live in containers (the sandbox's is
/// `/workspace`; dev containers use `/workspaces`, images `/app`, `/src`).
const WORKSPACE_ROOTS: &[&str] = &[
    "/workspace",
    "/workspaces",
    "/repo",
    "/app",
    "/src",
    "/code",
    "/project",
    "/projects",
    "/work",
];

/// True for a path outside the workspace and temporary directories.
/// The value of `-t`/`--target-directory` (`cp`, `mv`, `install`).
fn target_directory(cmd: &SimpleCommand) -> Option<&str> {
    cmd.args
        .iter()
        .position(|a| a == "-t" || a == "--target-directory")
        .and_then(|i| cmd.args.get(i + 1))
        .map(String::as_str)
}

/// True for a home directory itself (`~`, `$HOME/`, `/root`, `/home/ann`,
/// macOS's `/Users/ann`):
/// written to, moved or changed recursively, it takes its dotfiles along.
pub(super) fn home_root(path: &str) -> bool {
    let path = path
        .trim_matches(|c| c == '"' || c == '\'')
        .trim_end_matches('/');
    matches!(
        path,
        "~" | "$HOME" | "${HOME}" | "/root" | "/home" | "/Users"
    ) || path
        .strip_prefix('~')
        .is_some_and(|user| !user.contains('/'))
        || ["/home/", "/Users/"].iter().any(|homes| {
            path.strip_prefix(homes)
                .is_some_and(|user| !user.contains('/'))
        })
}

pub(super) fn outside_workspace(path: &str) -> bool {
    let path = path.trim_matches(|c| c == '"' || c == '\'');
    let home = path.starts_with('~')
        || path.starts_with("$HOME")
        || path.starts_with("${HOME}")
        || path.starts_with("/root")
        || path.starts_with("/home/")
        || path.starts_with("/Users/");
    if home {
        // Dotfiles and dot-directories of a home: configuration.
        let rest = path
            .trim_start_matches("${HOME}")
            .trim_start_matches("$HOME")
            .trim_start_matches('~');
        return rest.contains("/.") || rest.starts_with('.');
    }
    if let Some(var) = path.strip_prefix('$') {
        // A location held in a variable is unknown, except the usual ones.
        let var = var.trim_start_matches('{');
        let end = var
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(var.len());
        return ![
            "PWD",
            "TMPDIR",
            "TMP",
            "TEMP",
            "OLDPWD",
            "CARGO_TARGET_DIR",
            "OUT_DIR",
        ]
        .contains(&&var[..end]);
    }
    if !path.starts_with('/') {
        return super::has(path, "../..");
    }
    !(path.starts_with("/tmp/")
        || path == "/tmp"
        || path.starts_with("/var/tmp/")
        || path.starts_with("/dev/null")
        || path.starts_with("/dev/std")
        || path.starts_with("/dev/fd/")
        || path.starts_with("/dev/tty")
        || path.starts_with("/proc/self/fd/")
        || WORKSPACE_ROOTS.iter().any(|root| {
            path.strip_prefix(root)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        || path.starts_with("/dev/shm/"))
}
