//! Commands in the small languages some programs take on their command line
//! or their input: vi's ex commands (`vim -c ':w /etc/x'`), sqlite3's
//! dot-commands (`.shell`, `.import`), make's functions (`$(shell …)`,
//! `$(file >…)`), gdb's commands (`dump value /x …`, `attach`), Apache's
//! directives (`-C 'Include /x'`), Puppet's resources (`puppet apply -e
//! 'file { "/x": … }'`), and the files sed and awk scripts read (`r
//! /x`, `getline < "/x"`; their writes and commands are read in `paths`
//! and `capability`). Each is
//! a read, a write or a command run by a program that is not a shell, so it
//! is judged like the same step written in shell syntax.

use super::paths::{awk_program, sed_script};
use super::patterns::patterns;
use crate::policy::shell::SimpleCommand;

/// The language a program's embedded commands are written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Language {
    Ex,
    Sqlite,
    Make,
    Gdb,
    Apache,
    Puppet,
    Sed,
    Awk,
}

fn language(program: &str) -> Option<Language> {
    Some(match program {
        "vi" | "vim" | "nvim" | "view" | "rview" | "vimdiff" | "gvim" | "ex" | "rvim" | "vimx"
        | "evim" | "nvi" | "gview" | "nview" => Language::Ex,
        "sqlite3" | "sqlite" => Language::Sqlite,
        "make" | "gmake" | "bmake" | "remake" => Language::Make,
        "gdb" | "gdb-multiarch" | "cgdb" => Language::Gdb,
        "apache2" | "apache2ctl" | "apachectl" | "httpd" => Language::Apache,
        "puppet" => Language::Puppet,
        "sed" | "gsed" => Language::Sed,
        "awk" | "gawk" | "mawk" | "nawk" => Language::Awk,
        _ => return None,
    })
}

/// One step an embedded command takes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step<'a> {
    /// Reads this file.
    Reads(&'a str),
    /// Writes this file.
    Writes(&'a str),
    /// Runs a command line (or a shell).
    Runs,
    /// Attaches to another running process (gdb's `attach`).
    Attaches,
}

/// Every step the embedded commands of `cmd` take.
pub(super) fn steps(cmd: &SimpleCommand) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let Some(lang) = language(&cmd.program) else {
        return out;
    };
    for text in statements(cmd, lang) {
        match lang {
            Language::Ex => ex_steps(text, &mut out),
            Language::Sqlite => sqlite_steps(text, &mut out),
            Language::Make => make_steps(text, &mut out),
            Language::Gdb => gdb_steps(text, &mut out),
            Language::Apache => apache_steps(text, &mut out),
            Language::Puppet => puppet_steps(text, &mut out),
            Language::Sed => script_reads(&patterns().sed_read, text, &mut out),
            Language::Awk if text.contains("getline") => {
                script_reads(&patterns().awk_getline, text, &mut out)
            }
            Language::Awk => {}
        }
    }
    out
}

/// The texts of `cmd` written in `lang`: option values that carry commands
/// and, for sqlite3 and gdb, the lines of their input (vi's input is the
/// text it edits, unless told otherwise: not judged as commands).
fn statements(cmd: &SimpleCommand, lang: Language) -> Vec<&str> {
    match lang {
        Language::Sed => return sed_script(cmd).into_iter().collect(),
        Language::Awk => return awk_program(cmd).into_iter().collect(),
        _ => {}
    }
    let args = &cmd.args;
    let after = |i: usize, names: &[&str]| i > 0 && names.contains(&args[i - 1].as_str());
    let mut out: Vec<&str> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let a = a.as_str();
        match lang {
            Language::Ex => {
                if let Some(c) = a.strip_prefix('+') {
                    out.extend(c.split('|'));
                } else if after(i, &["-c", "--cmd"]) {
                    out.extend(a.split('|'));
                }
            }
            Language::Sqlite => {
                if a.starts_with('.') || after(i, &["-cmd", "--cmd"]) {
                    out.push(a);
                }
            }
            Language::Make => {
                if a.contains("$(") || a.contains("${") {
                    out.push(a);
                }
            }
            Language::Gdb => {
                if let Some(c) = a
                    .strip_prefix("--eval-command=")
                    .or_else(|| a.strip_prefix("--init-eval-command="))
                {
                    out.push(c);
                } else if after(i, &["-ex", "-iex", "--ex", "--eval-command"]) {
                    out.push(a);
                }
            }
            Language::Apache => {
                if after(i, &["-C", "-c"]) {
                    out.push(a);
                }
            }
            Language::Puppet => {
                if let Some(code) = a.strip_prefix("--execute=") {
                    out.push(code);
                } else if after(i, &["-e", "--execute"]) {
                    out.push(a);
                }
            }
            Language::Sed | Language::Awk => {}
        }
    }
    if matches!(lang, Language::Sqlite | Language::Gdb) {
        out.extend(cmd.input.iter().flat_map(|t| t.lines()));
    }
    out
}

/// The files a sed script (`r /x`, `1R /x`) or an awk program (`getline
/// < "/x"`) reads: the first group of `pattern`'s matches.
fn script_reads<'a>(pattern: &regex::Regex, text: &'a str, out: &mut Vec<Step<'a>>) {
    out.extend(
        pattern
            .captures_iter(text)
            .filter_map(|c| c.get(1).map(|m| Step::Reads(m.as_str()))),
    );
}

/// The first word of a command (letters only) and what follows it, after
/// leading colons, blanks and a `!` that forces the command.
fn verb(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches([':', ' ', '\t']);
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    (word, rest.strip_prefix('!').unwrap_or(rest).trim_start())
}

/// The first blank-separated word of `text`, quotes around it removed.
fn first_word(text: &str) -> Option<&str> {
    text.split_whitespace()
        .next()
        .map(|w| w.trim_matches(['"', '\'']))
        .filter(|w| !w.is_empty())
}

/// `:!sh`, `:terminal`, `:py3 …`, `:call system(…)`; `:w /x`, `:saveas /x`,
/// `:redir! >> /x`; `:r /x`, `:e /x`, `:source /x`.
fn ex_steps<'a>(text: &'a str, out: &mut Vec<Step<'a>>) {
    if patterns().ex_command.is_match(text) {
        out.push(Step::Runs);
        return;
    }
    let (word, rest) = verb(text);
    let file = || first_word(rest.trim_start_matches(['>', ' ']));
    let is = |short: &str, long: &str| word.len() >= short.len() && long.starts_with(word);
    if rest.starts_with('!') {
        return; // `:w !cmd`, `:r !cmd`: run commands (the pattern above)
    }
    if is("w", "write")
        || is("sav", "saveas")
        || is("wq", "wq")
        || is("x", "xit")
        || is("redi", "redir")
    {
        if word.starts_with("redi") && !rest.starts_with('>') {
            return; // `:redir END`, `:redir @a`
        }
        out.extend(file().map(Step::Writes));
    } else if is("r", "read") || is("e", "edit") || is("so", "source") || is("sp", "split") {
        out.extend(file().map(Step::Reads));
    }
}

/// `.shell`, `.system`, `.once |cmd`; `.import /x t`, `.read /x`; `.output /x`.
fn sqlite_steps<'a>(text: &'a str, out: &mut Vec<Step<'a>>) {
    let Some(text) = text.trim_start().strip_prefix('.') else {
        return;
    };
    let (word, rest) = verb(text);
    let file = first_word(rest);
    if matches!(word, "shell" | "system") || file.is_some_and(|f| f.starts_with('|')) {
        out.push(Step::Runs);
        return;
    }
    let Some(file) = file else { return };
    match word {
        "import" | "read" | "open" | "restore" => out.push(Step::Reads(file)),
        "output" | "once" | "save" | "backup" | "excel" => out.push(Step::Writes(file)),
        _ => {}
    }
}

/// `$(shell …)`; `$(file >/x,…)`, `$(file >>/x,…)`; `$(file </x)`.
fn make_steps<'a>(text: &'a str, out: &mut Vec<Step<'a>>) {
    for open in ["$(", "${"] {
        for (at, _) in text.match_indices(open) {
            let call = text[at + 2..].trim_start();
            if call.starts_with("shell ") || call.starts_with("shell\t") {
                out.push(Step::Runs);
            } else if let Some(arg) = call.strip_prefix("file ") {
                let arg = arg.trim_start();
                let (write, path) = match arg.strip_prefix(">>").or_else(|| arg.strip_prefix('>')) {
                    Some(path) => (true, path),
                    None => (false, arg.strip_prefix('<').unwrap_or(arg)),
                };
                let end = path.find([',', ')', '}']).unwrap_or(path.len());
                let path = path[..end].trim();
                if !path.is_empty() {
                    out.push(if write {
                        Step::Writes(path)
                    } else {
                        Step::Reads(path)
                    });
                }
            }
        }
    }
}

/// `shell …`, `pipe …`; `dump [format] value|memory /x …`, `append …`;
/// `restore /x`, `source /x`.
fn gdb_steps<'a>(text: &'a str, out: &mut Vec<Step<'a>>) {
    let text = text.trim_start();
    if text.starts_with(['!', '|']) {
        out.push(Step::Runs);
        return;
    }
    let (word, rest) = verb(text);
    match word {
        "shell" | "pipe" => out.push(Step::Runs),
        "dump" | "append" => {
            let file = rest.split_whitespace().find(|w| {
                !matches!(
                    *w,
                    "binary" | "ihex" | "srec" | "tekhex" | "verilog" | "value" | "memory"
                )
            });
            out.extend(file.map(Step::Writes));
        }
        "restore" | "source" => out.extend(first_word(rest).map(Step::Reads)),
        "attach" => out.push(Step::Attaches),
        _ => {}
    }
}

/// `Include /x`, `IncludeOptional /x`; piped logs (`ErrorLog "|cmd"`).
fn apache_steps<'a>(text: &'a str, out: &mut Vec<Step<'a>>) {
    let (word, rest) = verb(text);
    match word {
        "Include" | "IncludeOptional" => out.extend(first_word(rest).map(Step::Reads)),
        "ErrorLog" | "CustomLog" | "TransferLog"
            if rest.trim_start_matches('"').starts_with('|') =>
        {
            out.push(Step::Runs)
        }
        _ => {}
    }
}

/// `file { "/x": … }` writes `/x`; `exec { … }` runs a command.
fn puppet_steps<'a>(text: &'a str, out: &mut Vec<Step<'a>>) {
    for (at, _) in text.match_indices('{') {
        let before = text[..at].trim_end();
        let resource = before
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or_default();
        match resource {
            "exec" => out.push(Step::Runs),
            "file" => {
                let title = text[at + 1..].trim_start();
                let quote = title.chars().next().filter(|c| matches!(c, '"' | '\''));
                if let Some(q) = quote {
                    if let Some(end) = title[1..].find(q) {
                        out.push(Step::Writes(&title[1..1 + end]));
                    }
                }
            }
            _ => {}
        }
    }
}

/// True when `cmd` attaches to another running process, which lets it read
/// that process's memory and secrets (`gdb -p`, `gcore`, `strace -p`);
/// `steps` are the command's own [`steps`].
pub(super) fn attaches_to_process(cmd: &SimpleCommand, steps: &[Step<'_>]) -> bool {
    let pid_option = || {
        cmd.args.iter().any(|a| {
            a == "-p" || a == "--pid" || a.starts_with("--pid=") || a.starts_with("--attach")
        })
    };
    match cmd.program.as_str() {
        "gcore" | "gdbserver" => true,
        "gdb" | "gdb-multiarch" | "cgdb" | "lldb" => {
            pid_option() || steps.contains(&Step::Attaches)
        }
        "strace" | "ltrace" | "perf" | "bpftrace" | "py-spy" | "rbspy" => pid_option(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell::split;

    fn steps_of(line: &str) -> Vec<String> {
        let cmds = split(line);
        steps(&cmds[cmds.len() - 1])
            .into_iter()
            .map(|s| format!("{s:?}"))
            .collect()
    }

    #[test]
    fn ex_commands() {
        assert_eq!(
            steps_of("vim -c ':redir! >/etc/x | echo \"DATA\" | redir END | q'"),
            ["Writes(\"/etc/x\")"]
        );
        assert_eq!(
            steps_of("vim -c ':w /etc/cron.d/x' f"),
            ["Writes(\"/etc/cron.d/x\")"]
        );
        assert_eq!(
            steps_of("vi '+r ~/.ssh/id_rsa'"),
            ["Reads(\"~/.ssh/id_rsa\")"]
        );
        assert_eq!(steps_of("vim -c ':w !sh' f"), ["Runs"]);
        assert_eq!(steps_of("vim '+terminal'"), ["Runs"]);
        assert!(steps_of("vim -c 'set nu' f").is_empty());
    }

    #[test]
    fn sqlite_dot_commands() {
        assert_eq!(steps_of("sqlite3 db '.shell id'"), ["Runs"]);
        assert_eq!(steps_of("sqlite3 db -cmd '.once |sh'"), ["Runs"]);
        assert_eq!(
            steps_of("sqlite3 <<EOF\nCREATE TABLE x(x TEXT);\n.import /etc/shadow x\nEOF"),
            ["Reads(\"/etc/shadow\")"]
        );
        assert_eq!(
            steps_of("sqlite3 db '.output /tmp/o'"),
            ["Writes(\"/tmp/o\")"]
        );
        assert!(steps_of("sqlite3 db 'select 1'").is_empty());
    }

    #[test]
    fn make_functions() {
        assert_eq!(
            steps_of("make -s --eval='$(file >/etc/x,DATA)' ."),
            ["Writes(\"/etc/x\")"]
        );
        assert_eq!(
            steps_of("make --eval='$(file >/dev/stdout,$(file </etc/shadow))' ."),
            ["Writes(\"/dev/stdout\")", "Reads(\"/etc/shadow\")"]
        );
        assert_eq!(steps_of("make X='$(shell id)'"), ["Runs"]);
        assert!(steps_of("make -j4 all").is_empty());
    }

    #[test]
    fn gdb_commands() {
        assert_eq!(
            steps_of("gdb -nx -ex 'dump value /etc/x \"DATA\"' -ex quit"),
            ["Writes(\"/etc/x\")"]
        );
        assert_eq!(steps_of("gdb -batch -ex 'shell id'"), ["Runs"]);
        assert!(steps_of("gdb -ex run ./a.out").is_empty());
    }

    #[test]
    fn apache_directives_and_puppet_resources() {
        assert_eq!(
            steps_of("apache2ctl -c 'Include /etc/shadow'"),
            ["Reads(\"/etc/shadow\")"]
        );
        assert_eq!(steps_of("httpd -C 'ErrorLog \"|/bin/id\"'"), ["Runs"]);
        assert!(steps_of("apache2ctl -t").is_empty());
        assert_eq!(
            steps_of("puppet apply -e 'file { \"/etc/x\": content => \"DATA\" }'"),
            ["Writes(\"/etc/x\")"]
        );
        assert_eq!(
            steps_of("puppet apply -e 'exec { \"id\": path => \"/bin\" }'"),
            ["Runs"]
        );
        assert!(steps_of("puppet apply site.pp").is_empty());
    }

    #[test]
    fn attaching_to_processes() {
        let yes = [
            "gcore 1234",
            "gdb -p 1234",
            "gdb -ex 'attach 1'",
            "strace -p 1",
        ];
        for line in yes {
            let cmd = &split(line)[0];
            assert!(attaches_to_process(cmd, &steps(cmd)), "{line}");
        }
        let no = ["gdb ./a.out", "strace ls", "perf stat ls"];
        for line in no {
            let cmd = &split(line)[0];
            assert!(!attaches_to_process(cmd, &steps(cmd)), "{line}");
        }
    }
}
