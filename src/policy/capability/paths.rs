//! What a command writes and reads, and which locations are outside the
//! workspace.

use crate::policy::shell::SimpleCommand;

/// Paths a command writes: redirection targets, `tee` files, `dd of=`, the
/// destination of copies and moves, files edited in place.
pub(super) fn written_paths(cmd: &SimpleCommand) -> Vec<&str> {
    let mut paths: Vec<&str> = cmd
        .redirects
        .iter()
        .filter(|r| r.write)
        .map(|r| r.target.as_str())
        .collect();
    let positional: Vec<&str> = cmd.positional().collect();
    match cmd.program.as_str() {
        "tee" | "touch" | "truncate" | "mkdir" | "ln" | "chmod" | "chown" | "chgrp" | "setfacl"
        | "chattr" | "shred" => paths.extend(positional.iter().copied()),
        "cp" | "mv" | "install" | "rsync" | "scp" | "rename" | "ditto" => {
            if let Some(target) = cmd
                .args
                .iter()
                .position(|a| a == "-t" || a == "--target-directory")
                .and_then(|i| cmd.args.get(i + 1))
            {
                paths.push(target);
            } else if positional.len() >= 2 {
                paths.push(positional[positional.len() - 1]);
            }
        }
        "sed" | "perl" | "ruby"
            if cmd
                .args
                .iter()
                .any(|a| a == "-i" || a.starts_with("-i") || a == "--in-place") =>
        {
            paths.extend(positional.iter().skip(1).copied())
        }
        "dd" => paths.extend(cmd.args.iter().filter_map(|a| a.strip_prefix("of="))),
        "patch" => paths.extend(positional.first().copied()),
        // Editors write the files they open.
        "vi" | "vim" | "nvim" | "vimdiff" | "gvim" | "ex" | "ed" | "nano" | "pico" | "emacs"
        | "joe" | "jed" | "micro" | "mcedit" | "ne" | "kak" | "hx" | "helix" | "sudoedit"
        | "gedit" | "kate" | "mousepad" | "leafpad" => {
            paths.extend(positional.iter().copied().filter(|a| !a.starts_with('+')))
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
    paths
}

/// True when inline code writes or appends to files.
fn code_writes(code: &str) -> bool {
    [
        "write", "append", "put", "print F", ">>", "\">\"", "'>'", "'w'", "\"w\"", "'a'", "\"a\"",
    ]
    .iter()
    .any(|w| code.contains(w))
}

/// Paths a command reads (its file operands, input redirections and the
/// file lists it reads from a here-string: `cpio -o <<< /etc/shadow`).
pub(super) fn read_paths(cmd: &SimpleCommand) -> impl Iterator<Item = &str> {
    cmd.redirects
        .iter()
        .filter(|r| !r.write)
        .map(|r| r.target.as_str())
        .chain(
            cmd.input
                .iter()
                .flat_map(|text| text.lines().map(str::trim)),
        )
        .chain(cmd.args.iter().map(|a| {
            // `--file=~/.aws/credentials`, `if=/etc/shadow`, `@~/.netrc`,
            // `man:/etc/shadow`.
            let value = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
            let value = match value.split_once(':') {
                Some((scheme, rest))
                    if rest.starts_with(['/', '~'])
                        && !scheme.is_empty()
                        && scheme.bytes().all(|b| b.is_ascii_alphabetic()) =>
                {
                    // `file:///etc/shadow`: the path after the authority.
                    rest.strip_prefix("//").unwrap_or(rest)
                }
                _ => value,
            };
            value.trim_start_matches('@')
        }))
        .chain(
            cmd.assignments
                .iter()
                .filter_map(|a| a.split_once('=').map(|(_, v)| v)),
        )
}

/// True for a path outside the workspace and temporary directories.
pub(super) fn outside_workspace(path: &str) -> bool {
    let path = path.trim_matches(|c| c == '"' || c == '\'');
    let home = path.starts_with('~')
        || path.starts_with("$HOME")
        || path.starts_with("${HOME}")
        || path.starts_with("/root")
        || path.starts_with("/home/");
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
        return path.contains("../..");
    }
    !(path.starts_with("/tmp/")
        || path == "/tmp"
        || path.starts_with("/var/tmp/")
        || path.starts_with("/dev/null")
        || path.starts_with("/dev/std")
        || path.starts_with("/dev/fd/")
        || path.starts_with("/dev/tty")
        || path.starts_with("/proc/self/fd/")
        || path.starts_with("/workspace")
        || path.starts_with("/dev/shm/"))
}
