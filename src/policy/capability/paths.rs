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
        // Editors write the files they open.
        "vi" | "vim" | "nvim" | "vimdiff" | "gvim" | "ex" | "ed" | "nano" | "pico" | "emacs"
        | "joe" | "jed" | "micro" | "mcedit" | "ne" | "kak" | "hx" | "helix" | "sudoedit"
        | "gedit" | "kate" | "mousepad" | "leafpad" => {
            paths.extend(positional.iter().copied().filter(|a| !a.starts_with('+')))
        }
        _ => {}
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

/// Paths a command reads (its file operands and input redirections).
pub(super) fn read_paths(cmd: &SimpleCommand) -> impl Iterator<Item = &str> {
    cmd.redirects
        .iter()
        .filter(|r| !r.write)
        .map(|r| r.target.as_str())
        .chain(cmd.args.iter().map(|a| {
            // `--file=~/.aws/credentials`, `if=/etc/shadow`, `@~/.netrc`.
            let value = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
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
