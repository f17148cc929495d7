//! What a simple command can do, whatever its program is called: escape to
//! a shell, open a connection, write outside the workspace, read
//! credentials, destroy, escalate privilege, persist, load code, run code
//! built at run time, or disguise what it moves. Rules are written on these
//! facts (`when.capabilities`), so a program no rule names inherits
//! protection from what it does.
//!
//! The analysis looks at the program name only for a few classes (shells,
//! interpreters, socket tools, SQL clients); everything else comes from the
//! shape of the arguments, assignments, redirections and inline code.

use serde::{Deserialize, Serialize};

use super::shell::SimpleCommand;

mod credential_output;
mod hosts;
mod interfaces;
mod machine;
mod paths;
mod patterns;
mod previews;
mod round_trip;
mod security_controls;
pub(crate) mod sql;
mod tool_languages;
mod tool_paths;
mod verbs;
mod vocabulary;
mod windows;

use hosts::schemeless_url_hosts;
pub use hosts::{bare_hosts, canonical_host, mail_domains, url_hosts};
pub use previews::{previews, usage_request};
/// Facts that depend on a command's neighbours in the same action: a
/// decode of what an earlier command encoded, and a credential printed
/// where it is not handed straight to a login that reads it.
pub fn mark_across(commands: &[SimpleCommand], caps: &mut [Capabilities]) {
    round_trip::mark_round_trips(commands, caps);
    credential_output::mark_credential_prints(commands, caps);
}
pub use tool_paths::tool_path_facts;
pub use verbs::{http_method, is_http_client};

use paths::{
    awk_program, home_root, outside_workspace, program_text, read_paths, reads_outside, sed_script,
    written_paths,
};
use patterns::patterns;
use verbs::{names_database, read_verbs, removes_by_trailing_dash, script_args};
use vocabulary::*;

/// One thing a command can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Starts a shell or runs a command through a program that is not one
    /// (`awk 'BEGIN{system("sh")}'`, `find -exec sh`, `PAGER=…`, `git -c
    /// core.pager=…`, an interactive shell).
    ShellEscape,
    /// Opens a network connection or listens (socket tools, `/dev/tcp`,
    /// hosts and URLs of any scheme, socket APIs in inline code).
    Network,
    /// Writes outside the workspace (redirections, `tee`, `dd of=`, copies
    /// and in-place edits of system files or home dotfiles).
    WritesOutside,
    /// Reads a credential location (keys, cloud and tool credentials,
    /// `/etc/shadow`, process environments).
    ReadsSensitive,
    /// Deletes or overwrites beyond undo: destructive verbs and flags of any
    /// CLI, destructive SQL, HTTP DELETE, raw devices.
    Destroys,
    /// Gains privileges (sudo, setuid bits, capabilities, privileged
    /// containers, sudoers and passwd files).
    Privilege,
    /// Survives the session (cron, at, systemd units, shell rc files,
    /// authorized_keys, git hooks).
    Persists,
    /// Loads native code or plugins into a process (`LD_PRELOAD`, kernel
    /// modules, `-javaagent`, `ctypes`).
    LoadsCode,
    /// Runs code that is built or fetched at run time (`eval`, an
    /// interpreter reading its input, `$'\x..'`, a program name that is a
    /// variable).
    DynamicCode,
    /// Reads outside the workspace: an absolute path other than the system
    /// locations every tool reads, a home dotfile, a climb out of the tree.
    ReadsOutside,
    /// Disguises what it reads or writes: decodes what an earlier command
    /// of the same action encoded with the same codec (`xxd f | xxd -r`,
    /// `base64 f | base64 -d`), a round trip that changes nothing but what
    /// a filter sees.
    Obfuscates,
    /// Stops, suspends or reboots something running, by a verb of any CLI
    /// (`aws ec2 stop-instances`, `az vm deallocate`, `kubectl cordon`,
    /// `docker pause`), or takes a network interface down.
    Stops,
    /// Grants access or issues a credential, by a verb and a noun of any
    /// CLI (`aws iam attach-user-policy`, `az role assignment create`,
    /// `gh secret set`).
    GrantsAccess,
    /// Writes to a forge through its API (`gh api -X PUT …/pulls/5/merge`,
    /// `glab api --method POST`, fields sent by POST): the merges,
    /// releases, commits and settings `gh pr merge` and `git push` make.
    Publishes,
}

impl Capability {
    /// Every capability, in bit order.
    pub const ALL: [Capability; 14] = [
        Capability::ShellEscape,
        Capability::Network,
        Capability::WritesOutside,
        Capability::ReadsSensitive,
        Capability::Destroys,
        Capability::Privilege,
        Capability::Persists,
        Capability::LoadsCode,
        Capability::DynamicCode,
        Capability::ReadsOutside,
        Capability::Obfuscates,
        Capability::Stops,
        Capability::GrantsAccess,
        Capability::Publishes,
    ];

    fn bit(self) -> u16 {
        1 << self as u16
    }

    /// The bit mask of `list` (0 for none).
    pub(crate) fn mask(list: Option<&[Capability]>) -> u16 {
        list.unwrap_or_default().iter().fold(0, |m, c| m | c.bit())
    }

    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::ShellEscape => "shell_escape",
            Capability::Network => "network",
            Capability::WritesOutside => "writes_outside",
            Capability::ReadsSensitive => "reads_sensitive",
            Capability::Destroys => "destroys",
            Capability::Privilege => "privilege",
            Capability::Persists => "persists",
            Capability::LoadsCode => "loads_code",
            Capability::DynamicCode => "dynamic_code",
            Capability::ReadsOutside => "reads_outside",
            Capability::Obfuscates => "obfuscates",
            Capability::Stops => "stops",
            Capability::GrantsAccess => "grants_access",
            Capability::Publishes => "publishes",
        }
    }
}

/// The capabilities of one command, each with why (static text: the
/// analysis allocates nothing for evidence).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    bits: u16,
    why: [&'static str; Capability::ALL.len()],
}

impl Capabilities {
    pub(super) fn add(&mut self, cap: Capability, why: &'static str) {
        if self.bits & cap.bit() == 0 {
            self.bits |= cap.bit();
            self.why[cap as usize] = why;
        }
    }

    /// True when the command has `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        self.bits & cap.bit() != 0
    }

    /// True when it has one of `any` (unless 0) and all of `all`.
    pub(crate) fn matches(&self, any: u16, all: u16) -> bool {
        (any == 0 || self.bits & any != 0) && self.bits & all == all
    }

    /// The first capability of `mask` it has, for evidence.
    pub(crate) fn first_of(&self, mask: u16) -> Option<Capability> {
        Capability::ALL
            .into_iter()
            .find(|c| mask & c.bit() != 0 && self.has(*c))
    }

    /// True when it has none.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Why it has `cap`, when it does.
    pub fn why(&self, cap: Capability) -> Option<&'static str> {
        self.has(cap).then(|| self.why[cap as usize])
    }

    /// What it has, in bit order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.has(*c))
    }
}

/// The capabilities of one simple command.
pub fn analyse(cmd: &SimpleCommand) -> Capabilities {
    let mut caps = Capabilities::default();
    let c = Command::new(cmd);
    if previews::usage_only(cmd, c.is_shell || c.interpreter) {
        return caps;
    }
    program_facts(&c, &mut caps);
    assignment_facts(&c, &mut caps);
    argument_facts(&c, &mut caps);
    network_facts(&c, &mut caps);
    write_facts(&c, &mut caps);
    read_facts(&c, &mut caps);
    privilege_facts(&c, &mut caps);
    destroy_facts(&c, &mut caps);
    machine::machine_facts(cmd, &mut caps);
    windows::windows_facts(cmd, &mut caps);
    caps
}

/// A command and what every step asks of it, worked out once.
struct Command<'a> {
    cmd: &'a SimpleCommand,
    program: &'a str,
    is_shell: bool,
    /// An interpreter ([`is_interpreter`]).
    interpreter: bool,
    has_operand: bool,
    data_program: bool,
    /// Class bits (`SHELL`, `SOCKET`, `DATA`, `WORKTREE`).
    class: u8,
    /// What its commands in the program's own language do (`vim -c ':w /x'`).
    steps: Vec<tool_languages::Step<'a>>,
    /// It previews a change instead of making one ([`previews::previews`]),
    /// read when first asked.
    previews: std::cell::OnceCell<bool>,
}

impl<'a> Command<'a> {
    /// True when the command previews a change ([`previews::previews`]).
    fn previews(&self) -> bool {
        *self.previews.get_or_init(|| previews::previews(self.cmd))
    }

    fn new(cmd: &'a SimpleCommand) -> Command<'a> {
        let program = cmd.program.as_str();
        let class = program_class(program);
        Command {
            cmd,
            program,
            is_shell: class & SHELL != 0,
            interpreter: is_interpreter(program),
            has_operand: cmd.positional().next().is_some(),
            data_program: class & DATA != 0,
            class,
            steps: tool_languages::steps(cmd),
            previews: std::cell::OnceCell::new(),
        }
    }
}

/// Where the key is after git's `-c` or `config` at `at`: the next word
/// for `-c key=value`; for `config [--global] [-f file] [set] key value`,
/// the first operand after its options (and after `set`).
/// The base URL of a git `url.<base>.insteadOf` (or `pushInsteadOf`)
/// key when it names another machine (`url.https://evil.example/.insteadOf`,
/// `url.git@evil.example:.insteadOf`): every matching fetch or push goes there.
pub(super) fn git_rewrite_base(key: &str) -> Option<&str> {
    if !key.get(..4)?.eq_ignore_ascii_case("url.") {
        return None;
    }
    let (base, suffix) = key[4..].rsplit_once('.')?;
    let rewrites =
        suffix.eq_ignore_ascii_case("insteadof") || suffix.eq_ignore_ascii_case("pushinsteadof");
    let remote =
        (has(base, "://") && patterns().remote_url.is_match(base)) || scp_target(base).is_some();
    (rewrites && remote).then_some(base)
}

fn git_config_key(args: &[String], at: usize) -> Option<usize> {
    if args[at] == "-c" {
        return (at + 1 < args.len()).then_some(at + 1);
    }
    // `config` must be git's subcommand, not an operand of another one.
    let sub = crate::policy::operands::leading_operands("git", args).next();
    if sub.map(|op| op.index) != Some(at) {
        return None;
    }
    let mut i = at + 1;
    while let Some(a) = args.get(i) {
        if matches!(
            a.as_str(),
            "-f" | "--file" | "--blob" | "--type" | "--default" | "--comment"
        ) {
            i += 2;
        } else if a.starts_with('-') || a == "set" {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// The program itself: shells, interpreters, loaders, PowerShell cmdlets.
fn program_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let cmd = c.cmd;
    let program = c.program;
    let is_shell = c.is_shell;
    let has_operand = c.has_operand;
    if program.bytes().any(|b| b == b'$' || b == b'`') || has(program, "\\x") {
        caps.add(DynamicCode, "the program name is computed at run time");
    }
    if cmd.forks_itself {
        caps.add(
            Destroys,
            "a function that starts itself more than once: a fork bomb exhausts the machine",
        );
    }
    if matches!(program, "eval" | "source" | ".") && cmd.args.iter().any(|a| a.contains('$')) {
        caps.add(DynamicCode, "evaluates text built at run time");
    }
    if is_shell {
        let script = cmd
            .args
            .iter()
            .any(|a| a == "-c" || (a.starts_with('-') && !a.starts_with("--") && a.contains('c')));
        let interactive = cmd.args.iter().any(|a| {
            a.starts_with('-')
                && !a.starts_with("--")
                && (a.contains('i') || a.contains('p') || a.contains('s'))
        });
        if !script && (!has_operand || interactive) {
            caps.add(
                ShellEscape,
                "starts a shell that reads commands from its input or a terminal",
            );
        }
    } else if c.interpreter
        && cmd.code.is_none()
        && !has_operand
        && !cmd
            .args
            .iter()
            .any(|a| a == "-m" || a == "-V" || a == "--version" || a == "-h" || a == "--help")
    {
        caps.add(
            DynamicCode,
            "an interpreter reading its program from its input",
        );
    }
    let lower;
    let name = if program.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = program.to_ascii_lowercase();
        lower.as_str()
    } else {
        program
    };
    match name {
        "iex" | "invoke-expression" => caps.add(DynamicCode, "evaluates text as PowerShell"),
        "iwr" | "irm" | "invoke-webrequest" | "invoke-restmethod" | "start-bitstransfer" => {
            caps.add(Network, "a PowerShell web request")
        }
        "powershell" | "pwsh"
            if cmd.args.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                a == "-e" || a == "-enc" || a.starts_with("-encodedcommand")
            }) =>
        {
            caps.add(DynamicCode, "runs an encoded command")
        }
        _ => {}
    }
    if matches!(
        name,
        "ghci"
            | "pry"
            | "irb"
            | "jshell"
            | "csi"
            | "scala"
            | "guile"
            | "racket"
            | "sbcl"
            | "erl"
            | "ocaml"
            | "swipl"
            | "julia"
            | "octave-cli"
            | "psysh"
            | "pdb"
    ) && !has_operand
    {
        caps.add(DynamicCode, "a REPL reading its program from its input");
    }
    if cmd.args.iter().any(|a| {
        matches!(
            a.trim_start_matches('-'),
            "shell-escape" | "enable-write18" | "enable-pipes"
        )
    }) || (matches!(name, "nroff" | "groff" | "troff" | "pic")
        && cmd.args.iter().any(|a| a == "-U"))
    {
        caps.add(ShellEscape, "a document processor allowed to run commands");
    }
    if matches!(
        name,
        "tmux" | "screen" | "byobu" | "script" | "dtach" | "abduco"
    ) && !cmd.args.iter().any(|a| {
        matches!(
            a.as_str(),
            "ls" | "-ls" | "-list" | "list-sessions" | "list-windows" | "-V" | "--version"
        )
    }) {
        caps.add(ShellEscape, "a terminal session that starts a shell");
    }
    if program.starts_with("ld-linux") || program.starts_with("ld.so") || program == "ld.so" {
        caps.add(LoadsCode, "runs a program through the dynamic loader");
    }
    if program == "enable"
        && cmd
            .args
            .iter()
            .any(|a| a.starts_with('-') && a.contains('f'))
    {
        caps.add(LoadsCode, "loads a shell builtin from a shared object");
    }
    if program == "sysctl" && cmd.args.iter().any(|a| a.contains('=')) {
        caps.add(Privilege, "changes a kernel setting");
    }
    if installs_package_file(cmd) {
        caps.add(
            Privilege,
            "installs a package file, running its scripts with the package manager's rights",
        );
    }
    if cmd.positional().next() == Some("tunnel") {
        caps.add(Network, "opens a tunnel for remote access");
    }
    if program == "run-parts"
        && cmd
            .positional()
            .any(|dir| paths::binary_directory(dir.trim_end_matches('/')))
    {
        // Every program of /bin that the `--regex` lets through: a shell.
        caps.add(
            ShellEscape,
            "runs the programs of a system binary directory",
        );
    }
    if matches!(program, "insmod" | "modprobe" | "kextload" | "ldconfig") {
        caps.add(
            LoadsCode,
            "loads kernel modules or changes the loader's libraries",
        );
    }
}

/// Assignments: hook and loader variables, stored command lines.
fn assignment_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let cmd = c.cmd;
    let program = c.program;
    if (program == "unset" && cmd.args.iter().any(|a| a.starts_with("HIST")))
        || (program == "history"
            && (cmd.args.iter().any(|a| a.starts_with("-c"))
                || cmd
                    .args
                    .windows(2)
                    .any(|w| w[0] == "-w" && w[1] == "/dev/null")))
        || (program == "set"
            && cmd
                .args
                .windows(2)
                .any(|w| w[0] == "+o" && w[1] == "history"))
    {
        caps.add(Destroys, "erases or turns off the shell history");
    }
    let export_like = matches!(
        program,
        "export" | "declare" | "typeset" | "setenv" | "local" | "readonly"
    );
    let assignments = cmd
        .assignments
        .iter()
        .chain(cmd.args.iter().filter(|_| export_like));
    for assignment in assignments {
        let Some((name, value)) = assignment.split_once('=') else {
            continue;
        };
        if (HOOK_VARIABLES.contains(&name)
            || name.ends_with("PAGER")
            || name.ends_with("EDITOR")
            || name.ends_with("_COMMAND")
            || name.ends_with("PASSCOMMAND"))
            && !value.is_empty()
        {
            caps.add(
                ShellEscape,
                "sets a variable that makes programs run a command",
            );
        } else if name != "SHELL" && names_shell(value) {
            caps.add(ShellEscape, "stores a command line that starts a shell");
        }
        if turns_off_history(name, value) {
            caps.add(Destroys, "turns off the shell history");
        }
        if LOADER_VARIABLES.contains(&name)
            || (matches!(name, "NODE_OPTIONS")
                && (value.contains("--require")
                    || value.contains("-r ")
                    || value.contains("--import")
                    || value.contains("--loader")))
            || (matches!(
                name,
                "JAVA_TOOL_OPTIONS" | "_JAVA_OPTIONS" | "JDK_JAVA_OPTIONS"
            ) && value.contains("agent"))
        {
            caps.add(LoadsCode, "sets a variable that loads code into programs");
        }
        if MODULE_PATH_VARIABLES.contains(&name) && value.split([':', ';']).any(foreign_code_dir) {
            caps.add(
                LoadsCode,
                "points a module search path outside the workspace or at a temporary directory",
            );
        }
    }
}

/// True when the option at `i` (`--command`, `--execute`) of a program
/// that takes database statements carries a statement (`wrangler d1
/// execute db --command "SELECT …"`), which is read as SQL, not run by a shell.
fn runs_a_statement(cmd: &crate::policy::shell::SimpleCommand, i: usize) -> bool {
    let arg = &cmd.args[i];
    let value = match arg.split_once('=') {
        Some((_, value)) => Some(value),
        None => cmd.args.get(i + 1).map(String::as_str),
    };
    sql::statement_option(arg)
        && value.is_some_and(sql::starts_statement)
        && sql::takes_statements(cmd)
}

/// A directory code should not be loaded from: outside the workspace and
/// the system's own locations, or a temporary directory anyone can write.
fn foreign_code_dir(dir: &str) -> bool {
    let dir = dir.trim_matches(|c| c == '"' || c == '\'');
    let temporary = ["/tmp", "/var/tmp", "/dev/shm"].iter().any(|t| {
        dir.strip_prefix(t)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    });
    temporary || (!dir.is_empty() && outside_workspace(dir) && !paths::system_readable(dir))
}

/// Arguments and inline code: shells named inside them, options that run commands, plugins, sockets, git settings, destructive flags.
fn argument_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let p = patterns();
    let cmd = c.cmd;
    let program = c.program;
    let is_shell = c.is_shell;
    let data_program = c.data_program;
    for (i, arg) in cmd.args.iter().enumerate() {
        if !data_program && !is_shell && !arg.starts_with("#!") && names_shell(arg) {
            caps.add(ShellEscape, "names a shell in an argument");
        }
        if arg.starts_with('-')
            && program != "find"
            && !arg.starts_with("--no-")
            && !arg.starts_with("--help")
            && p.exec_option.is_match(arg)
            && !runs_a_statement(cmd, i)
        {
            caps.add(ShellEscape, "an option that runs a command");
        }
        if matches!(
            arg.as_str(),
            "-javaagent"
                | "-agentpath"
                | "--load-extension"
                | "--plugin"
                | "-engine"
                | "--preload"
                | "-load"
        ) || arg.starts_with("-javaagent:")
            || arg.starts_with("-agentpath:")
            || arg.starts_with("--load-extension=")
            || (program == "sqlite3" && has(arg, ".load"))
            || (program.starts_with("ssh")
                && matches!(arg.as_str(), "-D" | "-I" | "-s" | "-S")
                && program != "ssh")
            || has(arg, "PKCS11Provider=")
            || has(arg, "SecurityKeyProvider=")
        {
            caps.add(LoadsCode, "loads a plugin or native library");
        }
        if (has(arg, "/dev/") || has(arg, "/inet")) && p.dev_socket.is_match(arg) {
            caps.add(Network, "a /dev/tcp or /dev/udp socket");
        }
        if matches!(program, "socat" | "ncat" | "nc" | "netcat") && p.socket_address.is_match(arg) {
            caps.add(Network, "a socket address");
            if arg.to_ascii_lowercase().contains("exec:")
                || arg.to_ascii_lowercase().contains("system:")
            {
                caps.add(ShellEscape, "connects a socket to a program");
            }
        }
        if program == "git" && (arg == "-c" || arg == "config") {
            if let Some(at) = git_config_key(&cmd.args, i) {
                let next = &cmd.args[at];
                let (key, value) = next
                    .split_once('=')
                    .unwrap_or((next, cmd.args.get(at + 1).map_or("", String::as_str)));
                if p.git_hook_key.is_match(key)
                    || (key.to_ascii_lowercase().starts_with("alias.") && value.starts_with('!'))
                {
                    caps.add(ShellEscape, "a git setting that runs a command");
                    if arg != "-c" {
                        caps.add(Persists, "stores a git setting that runs a command");
                    }
                }
                if git_rewrite_base(key).is_some() {
                    caps.add(
                        Network,
                        "a git setting that sends fetches or pushes elsewhere",
                    );
                }
            }
        }
        if has(arg, "uid") && p.setuid_root.is_match(arg) {
            caps.add(Privilege, "code that switches to uid 0");
        }
        if destroy_flag(arg) && program != "git" && !c.data_program && !c.previews() {
            caps.add(Destroys, "a destructive flag");
        }
        if turns_off_safeguard(arg, cmd.args.get(i + 1).map(String::as_str)) && !c.previews() {
            caps.add(
                Destroys,
                "turns off a safeguard against deletion or data loss",
            );
        }
    }
    if c.steps.contains(&tool_languages::Step::Runs) {
        caps.add(
            ShellEscape,
            "a command in the program's own language that runs programs (`vim -c ':!sh'`, `.shell`, `$(shell …)`, gdb's `shell`)",
        );
    }
    if !is_shell
        && !matches!(program, "chsh" | "useradd" | "usermod" | "adduser")
        && cmd.args.iter().any(|a| option_value_is_shell(a))
    {
        caps.add(
            ShellEscape,
            "an option whose value is a shell (`--html=/bin/sh`, `-H/bin/sh`)",
        );
    }
    if !is_shell
        && !data_program
        && !PRINT_ONLY.contains(&program)
        && cmd.positional().next() == Some("shell")
        && !asks_help(&cmd.args)
    {
        caps.add(
            ShellEscape,
            "a `shell` subcommand: opens an interactive shell",
        );
    }
    if writes_text_naming_a_shell(cmd) {
        caps.add(
            ShellEscape,
            "writes text that starts a shell into a file (a manifest's script, a hook, a stand-in program)",
        );
    }
    if !cmd.input.is_empty() && !is_shell && !data_program && !TEXT_FILTERS.contains(&program) {
        let runs_a_shell = |line: &str| {
            let line = line.trim_start();
            names_shell(line)
                && (line.trim_start_matches([':', '\\']).starts_with('!')
                    || p.code_spawn.is_match(line))
        };
        if cmd.input.iter().any(|text| text.lines().any(runs_a_shell)) {
            caps.add(
                ShellEscape,
                "reads commands that start a shell on its input (`echo '!sh' | ftp`, `m4 <<< 'esyscmd(sh)'`)",
            );
        } else if cmd.input.iter().any(|text| p.input_spawn.is_match(text)) {
            caps.add(
                ShellEscape,
                "reads code that runs programs on its input (`m4 <<< 'esyscmd(cmd)'`)",
            );
        }
    }
    if let Some(code) = &cmd.code {
        if names_shell(code) && p.code_spawn.is_match(code) {
            caps.add(ShellEscape, "inline code that starts a shell");
        } else if p.code_spawn.is_match(code) {
            caps.add(ShellEscape, "inline code that runs programs");
        }
        if p.code_network.is_match(code) || p.dev_socket.is_match(code) {
            caps.add(Network, "inline code that opens connections");
        }
        if p.code_native.is_match(code) {
            caps.add(LoadsCode, "inline code that loads native libraries");
        }
        if p.code_eval.is_match(code) {
            caps.add(DynamicCode, "inline code that runs decoded code");
        }
    }
    if sed_script(cmd).is_some_and(|s| p.sed_exec.is_match(s) || sed_substitute_exec(s)) {
        caps.add(ShellEscape, "a sed script that runs commands (`e`)");
    }
    if let Some(script) = awk_program(cmd) {
        if script.contains("system(") || script.contains("| getline") || script.contains("|&") {
            caps.add(ShellEscape, "an awk program that runs commands");
        }
        if script.contains("/inet/") {
            caps.add(Network, "an awk program that opens connections");
        }
    }
}

/// Network tools, sockets, `/dev/tcp`.
fn network_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let p = patterns();
    let cmd = c.cmd;
    let program = c.program;
    if c.class & SOCKET != 0 {
        // A database client's connection is its job; what it runs is read
        // as statements.
        let benign_query = is_url_fetcher(program) || sql::is_client(program);
        if !benign_query {
            caps.add(Network, "a network tool");
        }
    }
    if matches!(
        program,
        "httpd" | "lighttpd" | "darkhttpd" | "mini_httpd" | "webfsd" | "http-server" | "miniserve"
    ) || cmd
        .code
        .as_deref()
        .is_some_and(|code| code.trim() == "httpd")
    {
        caps.add(Network, "serves files over HTTP");
    }
    if mail_domains(cmd).next().is_some() {
        caps.add(Network, "sends mail to an address on another host");
    } else if is_mail_sender(program) && cmd.args.iter().any(|a| a == "-t") {
        caps.add(Network, "sends mail to the addresses its message names");
    }
    let url_operands = names_remotes(cmd, c.class);
    if url_operands
        && cmd
            .args
            .iter()
            .any(|a| has(a, "://") && p.remote_url.is_match(a))
    {
        caps.add(Network, "connects to a remote URL");
    }
    if schemeless_url_hosts(cmd).next().is_some() {
        caps.add(Network, "fetches a URL written without a scheme");
    }
    if !c.data_program
        && c.class & SOCKET == 0
        && cmd.args.iter().any(|a| a.contains(':') && host_and_port(a))
    {
        caps.add(Network, "names a remote host and port");
    }
    if url_operands
        && cmd
            .args
            .iter()
            .any(|a| a.contains('@') && scp_target(a).is_some())
    {
        caps.add(Network, "names a remote host (user@host:path)");
    }
    if !c.data_program && host_option(cmd).is_some() {
        caps.add(Network, "names a remote host (--host)");
    }
    if c.interpreter
        && cmd.args.iter().any(|a| {
            let lib = a
                .strip_prefix("-r")
                .or_else(|| a.strip_prefix("-M"))
                .unwrap_or("");
            matches!(
                lib.split('=').next().unwrap_or(lib),
                "socket"
                    | "net/http"
                    | "open-uri"
                    | "IO::Socket"
                    | "IO::Socket::INET"
                    | "Socket"
                    | "LWP::Simple"
                    | "LWP::UserAgent"
                    | "HTTP::Tiny"
                    | "Net::FTP"
                    | "Net::SMTP"
            )
        })
    {
        caps.add(Network, "loads a socket or HTTP library");
    }
    // Code passed to a program that is not an interpreter (`gdb -ex
    // 'python import socket…'`, `vim -c ':py3 …'`, `gimp -b '…'`).
    if !c.data_program
        && cmd.code.is_none()
        && cmd.args.iter().any(|a| {
            a.contains('(')
                && a.contains(' ')
                && (p.code_network.is_match(a) || (a.contains('.') && p.ipv4.is_match(a)))
        })
    {
        caps.add(Network, "code in an argument that opens connections");
    }
    if !c.data_program
        && cmd.code.is_none()
        && cmd
            .args
            .iter()
            .any(|a| a.contains('(') && p.code_native.is_match(a))
    {
        caps.add(LoadsCode, "code in an argument that loads native libraries");
    }
    if c.interpreter
        && cmd.args.windows(2).any(|w| {
            w[0] == "-m"
                && matches!(
                    w[1].as_str(),
                    "http.server"
                        | "SimpleHTTPServer"
                        | "CGIHTTPServer"
                        | "pyftpdlib"
                        | "smtpd"
                        | "aiosmtpd"
                        | "xmlrpc.server"
                        | "wsgiref.simple_server"
                )
        })
    {
        caps.add(Network, "serves files or mail over the network");
    }
    if !c.data_program
        && (cmd.args.iter().any(|a| is_ipv4(a))
            || cmd
                .code
                .as_deref()
                .is_some_and(|code| code.contains('.') && p.ipv4.is_match(code)))
    {
        caps.add(Network, "names an IP address");
    }
    if program == "openssl"
        && cmd
            .args
            .first()
            .is_some_and(|s| matches!(s.as_str(), "s_client" | "s_server" | "s_time"))
    {
        caps.add(Network, "an openssl client or server");
    }
    if cmd
        .redirects
        .iter()
        .any(|r| p.dev_socket.is_match(&r.target))
    {
        caps.add(Network, "redirects to a /dev/tcp or /dev/udp socket");
    }
    if matches!(program, "nc" | "ncat" | "netcat")
        && cmd.args.iter().any(|a| {
            a == "-e"
                || a == "-c"
                || a.starts_with("--exec")
                || a.starts_with("--sh-exec")
                || a.starts_with("--lua-exec")
        })
    {
        caps.add(ShellEscape, "connects a socket to a program");
    }
}

/// Written paths: persistence, account files, devices, outside the workspace.
fn write_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let p = patterns();
    let cmd = c.cmd;
    let program = c.program;
    for path in written_paths(cmd, &c.steps) {
        if p.persistence.is_match(path) || (program == "ln" && p.persistence.is_match(path)) {
            caps.add(Persists, "writes a file that runs at start-up or login");
        }
        if p.privileged_files.is_match(path) {
            caps.add(Privilege, "writes a system or account file");
        }
        if p.dev_socket.is_match(path) {
            continue;
        }
        if path.starts_with("/dev/sd")
            || path.starts_with("/dev/nvme")
            || path.starts_with("/dev/hd")
            || path.starts_with("/dev/vd")
            || path.starts_with("/dev/mapper")
            || path.starts_with("/dev/disk")
            || path.starts_with("/dev/mmcblk")
        {
            caps.add(Destroys, "overwrites a block device");
        }
        if outside_workspace(path) || home_root(path) {
            caps.add(WritesOutside, "writes outside the workspace");
        }
    }
    if matches!(
        program,
        "crontab" | "at" | "batch" | "launchctl" | "schtasks" | "update-rc.d" | "chkconfig"
    ) && !cmd
        .args
        .iter()
        .any(|a| a == "-l" || a == "list" || a == "-q")
    {
        caps.add(Persists, "schedules a command");
    }
    let timer = |a: &String| {
        a.strip_prefix("--on-")
            .is_some_and(|when| when.split('=').next().is_some_and(|w| !w.is_empty()))
    };
    if (program == "rc-update" && cmd.positional().next() == Some("add"))
        || (program == "loginctl" && cmd.positional().next() == Some("enable-linger"))
        || (program == "systemd-run" && cmd.args.iter().any(timer))
    {
        caps.add(
            Persists,
            "schedules a command or keeps services running after logout",
        );
    }
    if matches!(program, "npm" | "pnpm" | "yarn")
        && cmd.positional().any(|a| a == "set")
        && cmd.positional().any(|a| {
            let key = a.split('=').next().unwrap_or(a);
            matches!(
                key,
                "script-shell" | "shell" | "editor" | "browser" | "git" | "node-gyp"
            )
        })
    {
        caps.add(
            ShellEscape,
            "a package manager setting that names a program it runs",
        );
        caps.add(Persists, "stores a setting that runs a program");
    }
    if matches!(program, "systemctl" | "service")
        && cmd.positional().any(|a| {
            matches!(
                a,
                "enable" | "link" | "daemon-reload" | "edit" | "set-default" | "preset"
            )
        })
    {
        caps.add(Persists, "installs a service");
    }
}

/// True when a package manager installs from a file (`dpkg -i x.deb`, `rpm
/// -Uvh x.rpm`, `apt install ./x.deb`, `snap install --dangerous x.snap`):
/// its maintainer scripts run with the manager's rights, usually root.
fn installs_package_file(cmd: &SimpleCommand) -> bool {
    const EXTENSIONS: &[&str] = &[
        ".deb",
        ".rpm",
        ".snap",
        ".txz",
        ".tbz",
        ".pkg",
        ".apk",
        ".ipk",
        ".pkg.tar.zst",
        ".pkg.tar.xz",
        ".msi",
    ];
    let package_file = || {
        cmd.positional()
            .any(|a| EXTENSIONS.iter().any(|e| a.ends_with(e)))
    };
    match cmd.program.as_str() {
        "dpkg" => cmd.args.iter().any(|a| {
            a == "--install" || a == "--unpack" || (a.starts_with("-i") && !a.starts_with("--"))
        }),
        "rpm" => cmd.args.iter().any(|a| {
            a == "--install"
                || a == "--upgrade"
                || a == "--freshen"
                || ["-i", "-U", "-F"].iter().any(|m| a.starts_with(m))
        }),
        "apt" | "apt-get" | "aptitude" | "yum" | "dnf" | "microdnf" | "zypper" | "pkg" | "opkg"
        | "snap" | "apk" | "pacman" | "installer" | "msiexec" | "gdebi" => package_file(),
        _ => false,
    }
}

/// Read paths: credential locations, environment dumps, outside the workspace.
fn read_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let p = patterns();
    let cmd = c.cmd;
    let program = c.program;
    // `type` prints a file on Windows (`type C:\Users\me\.ssh\id_rsa`).
    let prints_only = (PRINT_ONLY.contains(&program) || program == "ls")
        && !(program == "type" && cmd.args.iter().any(|a| windows::unix_form(a).is_some()));
    if !prints_only
        && read_paths(cmd, &c.steps).any(|path| {
            (path.contains(['.', '/']) && p.is_sensitive(path))
                || windows::unix_form(path).is_some_and(|path| p.is_sensitive(&path))
        })
    {
        caps.add(ReadsSensitive, "names a credential location");
    }
    if matches!(program, "env" | "printenv" | "set" | "export" | "declare")
        && cmd.args.is_empty()
        && cmd.assignments.is_empty()
    {
        caps.add(ReadsSensitive, "dumps the environment");
    }
    if program_text(cmd).is_some_and(|code| p.env_dump.is_match(code)) {
        caps.add(ReadsSensitive, "code takes the whole environment");
    }
    if reads_outside(cmd, &c.steps) {
        caps.add(ReadsOutside, "reads outside the workspace");
    }
    if tool_languages::attaches_to_process(cmd, &c.steps) {
        caps.add(
            ReadsSensitive,
            "attaches to another process, whose memory holds its secrets (`gdb -p`, `gcore`)",
        );
    }
}

/// Privilege: users, setuid bits, privileged containers.
fn privilege_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let cmd = c.cmd;
    let program = c.program;
    if matches!(
        program,
        "sudo"
            | "doas"
            | "su"
            | "pkexec"
            | "runuser"
            | "setpriv"
            | "nsenter"
            | "capsh"
            | "chroot"
            | "unshare"
            | "setcap"
            | "visudo"
            | "usermod"
            | "useradd"
            | "passwd"
            | "chpasswd"
            | "gpasswd"
            | "newgrp"
            | "sg"
            | "adduser"
            | "vipw"
    ) {
        caps.add(Privilege, "changes users, groups or privileges");
    }
    if matches!(program, "chmod" | "install")
        && cmd.args.iter().any(|a| {
            let m = a.trim_start_matches("--mode=");
            m.contains('s') && (m.contains('+') || m.contains('=')) && !m.contains('/')
                || (m.len() == 4
                    && m.starts_with(['2', '4', '6'])
                    && m.chars().all(|c| c.is_ascii_digit()))
        })
    {
        caps.add(Privilege, "sets a setuid or setgid bit");
    }
    if matches!(program, "docker" | "podman" | "nerdctl")
        && cmd.args.iter().any(|a| {
            a == "--privileged"
                || a.starts_with("--cap-add")
                || a.starts_with("--pid=host")
                || a.starts_with("--net=host")
                || a.starts_with("--network=host")
                || a.starts_with("/:/")
                || a.starts_with("/var/run/docker.sock")
                || a == "--security-opt"
        })
    {
        caps.add(Privilege, "a privileged container or the host's namespaces");
    }
    // `kubectl run --overrides='{"spec":{"hostPID":true,…}}'`, `kubectl
    // debug node/x`: a pod in the node's namespaces or with its privileges.
    let node_debug = || {
        cmd.positional().next() == Some("debug")
            && cmd
                .positional()
                .nth(1)
                .is_some_and(|a| a.starts_with("node/"))
    };
    let host_spec = |a: &String| {
        a.starts_with("--profile=sysadmin")
            || a.contains('{') && {
                let compact: String = a.chars().filter(|c| !c.is_whitespace()).collect();
                [
                    "\"privileged\":true",
                    "\"hostPID\":true",
                    "\"hostNetwork\":true",
                    "\"hostIPC\":true",
                    "\"hostPath\"",
                ]
                .iter()
                .any(|k| compact.contains(k))
            }
    };
    if matches!(program, "kubectl" | "oc") && (node_debug() || cmd.args.iter().any(host_spec)) {
        caps.add(
            Privilege,
            "a pod in the node's namespaces or with its privileges",
        );
    }
}

/// True when a subcommand is asked for its usage: `--help` or a trailing
/// `help` prints it and exits (`aws s3 rm help`, `docker rm --help`); so
/// does a trailing `-h` or `-help` (`pulumi cancel -h`, `terraform apply
/// -help`). `-h` elsewhere is left alone: it is a host for database clients
/// (`psql -h db`). A word that may be an option's value is no help request
/// (`--exclude --help`), as for the rules' `flags_none`.
fn asks_help(args: &[String]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        let help =
            a == "--help" || (i + 1 == args.len() && matches!(a.as_str(), "help" | "-h" | "-help"));
        help && !crate::policy::operands::may_be_option_value(args, i)
    })
}

/// Destruction (verbs of any CLI, HTTP DELETE, SQL), and the other verbs
/// of any CLI read the same way: stopping and granting access.
fn destroy_facts(c: &Command<'_>, caps: &mut Capabilities) {
    use Capability::*;
    let cmd = c.cmd;
    let program = c.program;
    let is_shell = c.is_shell;
    let data_program = c.data_program;
    let wants_help = asks_help(&cmd.args);
    let any_cli = c.class & WORKTREE == 0
        && !wants_help
        && !is_shell
        && !c.interpreter
        && !super::shell::is_wrapper(program)
        && !data_program
        // A cmdlet's verb is its name (`Get-Help Remove-Item` removes nothing).
        && !(program.contains('-') && windows::cmdlet(program).is_some());
    let verbs = if any_cli {
        read_verbs(program, &cmd.args)
    } else if c.class & WORKTREE != 0 && !wants_help && names_database(program, &cmd.args) {
        // A build tool's or package manager's verbs touch the working tree,
        // except where they name its database (`dotnet ef database drop`,
        // `npm run db:reset`, `bundle exec rake db:drop`).
        read_verbs(program, &cmd.args)
    } else if c.interpreter && !wants_help {
        // A module that is a package manager or a text tool is left to
        // its own rules, as when it is run by name (`python -m pip
        // uninstall x`).
        match script_args(&cmd.args) {
            Some((script, args)) if program_class(script) & (WORKTREE | DATA) == 0 => {
                read_verbs(script, args)
            }
            _ => Default::default(),
        }
    } else {
        Default::default()
    };
    // A preview is read last, and only when something would count.
    if verbs.destroys && !c.previews() {
        caps.add(Destroys, "a destructive verb");
    }
    // Verbs that stop what runs, or grant access, read the same way.
    if verbs.stops && !c.previews() {
        caps.add(Stops, "a verb that stops or suspends");
    }
    // A database client's operands are its query language's words and keys
    // (`redis-cli SET key value`); its grants are read as SQL.
    if verbs.grants_access && c.class & SOCKET == 0 && !c.previews() {
        caps.add(GrantsAccess, "grants access or issues a credential");
    }
    if c.class & WORKTREE != 0
        && !wants_help
        && cmd
            .positional()
            .take(2)
            .any(|v| REGISTRY_VERBS.contains(&v))
        && !c.previews()
    {
        caps.add(Destroys, "withdraws a published package or a credential");
    }
    if destroy_program_name(program) && !wants_help && !c.previews() {
        caps.add(Destroys, "a program whose name says it destroys");
    }
    if matches!(
        program,
        "iptables" | "ip6tables" | "ebtables" | "arptables" | "iptables-legacy" | "iptables-nft"
    ) && cmd
        .args
        .iter()
        .any(|a| matches!(a.as_str(), "-F" | "-X" | "-D" | "-Z" | "--zero"))
    {
        caps.add(Destroys, "flushes or deletes firewall rules");
    }
    if scales_to_zero(cmd) {
        caps.add(Destroys, "scales a service to zero");
    }
    if !wants_help && interfaces::takes_interface_down(cmd) {
        caps.add(Stops, "takes a network interface, connection or radio down");
    }
    if !wants_help && security_controls::turns_off_security_control(cmd) {
        caps.add(Stops, "turns off a security control");
    }
    if program == "journalctl" && cmd.args.iter().any(|a| a.starts_with("--vacuum-")) {
        caps.add(Destroys, "deletes archived logs");
    }
    // `docker compose down -v`, `podman-compose down --rmi all`: taking a
    // stack down is routine, taking its volumes or images with it is not.
    if !wants_help
        && cmd.positional().take(3).any(|v| v == "down")
        && cmd
            .args
            .iter()
            .any(|a| matches!(a.as_str(), "-v" | "--volumes" | "--rmi") || a.starts_with("--rmi="))
        && !c.previews()
    {
        caps.add(Destroys, "removes volumes or images with the stack");
    }
    // Configuration management declaring something gone (`ansible all -m
    // file -a 'path=/data state=absent'`, `-m user -a 'name=x state=absent'`).
    if program.starts_with("ansible") {
        let declares = |state: &str| {
            cmd.args.iter().any(|a| {
                [("state=", state), ("state: ", state)]
                    .iter()
                    .any(|(key, value)| a.split(key).skip(1).any(|v| v.starts_with(value)))
            })
        };
        if declares("absent") {
            caps.add(Destroys, "declares a resource absent");
        }
        if declares("stopped") {
            caps.add(Stops, "declares a service stopped");
        }
    }
    // `rclone sync` makes the destination identical to its source: what
    // the source lacks is deleted there (`rclone copy` deletes nothing);
    // `gsutil rsync -d` does the same when asked.
    if (program == "rclone" && cmd.positional().next() == Some("sync"))
        || (program == "gsutil"
            && cmd.positional().next() == Some("rsync")
            && cmd.args.iter().any(|a| {
                a.len() > 1 && a.starts_with('-') && !a.starts_with("--") && a.contains('d')
            }))
    {
        caps.add(Destroys, "deletes at the destination what the source lacks");
    }
    if removes_by_trailing_dash(cmd) {
        caps.add(Destroys, "removes a key (trailing `-`)");
    }
    if verbs::clears_finalizers(cmd) && !c.previews() {
        caps.add(
            Destroys,
            "clears the finalizers that hold an object's deletion",
        );
    }
    if is_http_client(program) {
        if let Some(method) = http_method(cmd) {
            if method.eq_ignore_ascii_case("DELETE") {
                caps.add(Destroys, "an HTTP DELETE");
            } else if verbs::is_write_method(method)
                && cmd
                    .positional()
                    .any(|a| a.contains('/') && verbs::url_names_access(a))
            {
                caps.add(GrantsAccess, "an HTTP write to an access resource");
            }
        }
    }
    if let Some(endpoint) = verbs::forge_api_write(cmd).filter(|_| !wants_help) {
        caps.add(Publishes, "a write through a forge's API");
        if verbs::url_names_access(endpoint) {
            caps.add(
                GrantsAccess,
                "a forge API write to an access resource (`gh api -X PUT …/collaborators/x`)",
            );
        }
    }
    if !wants_help && program.contains(['-', '_']) && verbs::program_name_grants(program) {
        caps.add(
            GrantsAccess,
            "a program whose name says it grants access or resets a credential",
        );
    }
    if !wants_help && verbs::sets_password(program, &cmd.args) {
        caps.add(GrantsAccess, "a program named for setting a password");
    }
    if program == "ssh-copy-id" && !wants_help {
        caps.add(
            GrantsAccess,
            "installs a key that lets someone log in to a host",
        );
    }
    // Statements are read where one is expected (a commit message "update
    // docs set the default" is not one); heredocs and inline code may feed
    // a client further down a pipeline, so they are always read. Statements
    // have spaces; a word alone is one only for a key-value store's client
    // (`redis-cli FLUSHALL`).
    let spaced = |text: &String| text.contains([' ', '(']);
    let texts = || cmd.args.iter().chain(&cmd.input).chain(cmd.code.iter());
    if !texts().any(spaced) && !matches!(program, "redis-cli" | "valkey-cli" | "keydb-cli") {
        return;
    }
    let takes = sql::takes_statements(cmd);
    let expected = |i: usize, arg: &String| {
        takes
            || sql::statement_option(arg)
            || i.checked_sub(1)
                .is_some_and(|before| sql::statement_option(&cmd.args[before]))
    };
    let args = cmd.args.iter().enumerate();
    let others = cmd.input.iter().chain(cmd.code.iter());
    let statements = args
        .filter(|&(i, arg)| expected(i, arg))
        .map(|(_, arg)| arg)
        .chain(others)
        .filter(|text| takes || spaced(text));
    let (mut destroys, mut grants) = (false, false);
    for text in statements {
        destroys = destroys || sql::destroys(text);
        grants = grants || sql::grants(text);
    }
    // A key-value store's command is its words (`redis-cli CONFIG SET
    // requirepass x`).
    if matches!(program, "redis-cli" | "valkey-cli" | "keydb-cli") && !grants {
        grants = sql::grants(&cmd.positional().collect::<Vec<_>>().join(" "));
    }
    if destroys {
        caps.add(Destroys, "destructive SQL");
    }
    if grants {
        caps.add(
            GrantsAccess,
            "a statement that grants access or sets a credential",
        );
    }
}

#[cfg(test)]
mod tests;

/// True when `arg` is `host:port` (a domain or an IPv4 address), alone or
/// as an option's value (`-h attacker.example:12345`, `--server=10.0.0.9:80`).
fn host_and_port(arg: &str) -> bool {
    let value = arg.rsplit('=').next().unwrap_or(arg);
    // `203.0.113.3:5000/image`: an address and port before a path (a named
    // registry with a port, `registry.example.com:5000/app`, is an image
    // name the registry's own allowlist governs).
    let value = match value.split_once('/') {
        Some((authority, _)) if authority.split(':').next().is_some_and(is_ipv4) => authority,
        _ => value,
    };
    let Some((host, port)) = value.rsplit_once(':') else {
        return false;
    };
    let host = host.rsplit('@').next().unwrap_or(host);
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && is_hostname(host)
}

/// True when the command's operands may name remote places: any program
/// that is not a data program, and git's remote-facing subcommands.
/// `class`: the program's [`program_class`].
pub(super) fn names_remotes(cmd: &SimpleCommand, class: u8) -> bool {
    if cmd.program == "git" {
        return cmd.positional().next().is_some_and(|sub| {
            matches!(
                sub,
                "clone" | "fetch" | "pull" | "push" | "remote" | "submodule" | "ls-remote"
            )
        });
    }
    class & DATA == 0
}

/// The host of an scp-style target, `user@host:path`
/// (`git@evil.example:loot.git`, `root@203.0.113.9:/tmp/`).
pub(super) fn scp_target(arg: &str) -> Option<&str> {
    let (user, rest) = arg.split_once('@')?;
    let (host, _path) = rest.split_once(':')?;
    let user_ok = !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    (user_ok && is_hostname(host)).then_some(host)
}

/// The value of a host option (`--host x`, `--hostname=x`, `--server x`,
/// `-h x`) when it names a machine elsewhere: an IPv4 address or a dotted
/// name under a common top-level domain (`-h` also means help or
/// human-readable, so a file name such as `notes.txt` is not a host).
pub(super) fn host_option(cmd: &crate::policy::shell::SimpleCommand) -> Option<&str> {
    let mut args = cmd.args.iter().map(String::as_str).peekable();
    while let Some(arg) = args.next() {
        if !arg.starts_with('-') {
            continue;
        }
        let (option, inline) = match arg.split_once('=') {
            Some((o, v)) => (o, Some(v)),
            None => (arg, None),
        };
        if !matches!(
            option,
            "--host" | "--hostname" | "--server" | "--remote-host" | "--broker" | "-h" | "-H"
        ) {
            continue;
        }
        let Some(value) = inline.or_else(|| args.peek().copied()) else {
            continue;
        };
        let host = value.rsplit('@').next().unwrap_or(value);
        let host = host.split(':').next().unwrap_or(host);
        if is_ipv4(host) && !host.starts_with("127.") {
            return Some(host);
        }
        let tld = host.rsplit('.').next().unwrap_or("");
        if is_hostname(host) && COMMON_TLDS.contains(&tld) {
            return Some(host);
        }
    }
    None
}

/// Top-level domains that name hosts, not file types.
pub(super) const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "io", "dev", "ai", "co", "app", "cloud", "example", "internal", "local",
    "lan", "corp", "biz", "info", "me", "us", "uk", "de", "fr", "nl", "ru", "cn", "xyz", "top",
    "site", "online", "tech", "edu", "gov", "onion",
];

/// A dotted host name: letters, digits and hyphens, an alphabetic TLD.
pub(super) fn is_hostname(host: &str) -> bool {
    is_ipv4(host)
        || (host.contains('.')
            && !host.starts_with('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && host
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())))
}

/// True when a sed script has a substitution with the `e` flag
/// (`s/x/id/e`: the replaced pattern space runs as a command).
fn sed_substitute_exec(script: &str) -> bool {
    let bytes = script.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let starts = bytes[i] == b's'
            && (i == 0
                || matches!(bytes[i - 1], b';' | b'{' | b'\n' | b' ' | b'/' | b'$')
                || bytes[i - 1].is_ascii_digit());
        let delim = bytes[i + 1];
        if !starts || delim.is_ascii_alphanumeric() || delim.is_ascii_whitespace() || delim == b'\\'
        {
            i += 1;
            continue;
        }
        // Past the pattern and the replacement (escaped delimiters skipped).
        let (mut j, mut seen) = (i + 2, 0);
        while j < bytes.len() && seen < 2 {
            match bytes[j] {
                b'\\' => j += 1,
                b if b == delim => seen += 1,
                _ => {}
            }
            j += 1;
        }
        if seen < 2 {
            return false;
        }
        let flags = bytes[j..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .copied();
        if flags.clone().any(|b| b == b'e')
            && flags.clone().all(|b| b"gpIiMme0123456789w".contains(&b))
        {
            return true;
        }
        i = j;
    }
    false
}

/// True when a command writes text into a file (`echo … > f`, `printf …
/// >> f`, `cat > f <<EOF`, `tee f <<<…`) and that text starts a shell:
/// `system("/bin/sh")` in a Gemfile, `"scripts": {"x": "/bin/sh"}` in a
/// package manifest, `/bin/sh` as a stand-in program that a later command
/// runs. A script's own `#!/bin/sh` line is not such a text.
fn writes_text_naming_a_shell(cmd: &SimpleCommand) -> bool {
    let to_file = cmd
        .redirects
        .iter()
        .any(|r| r.write && !r.target.starts_with("/dev/"))
        || (cmd.program == "tee" && cmd.positional().next().is_some());
    if !to_file {
        return false;
    }
    let names = |text: &str| {
        text.lines()
            .any(|line| !line.trim_start().starts_with("#!") && names_shell(line))
    };
    match cmd.program.as_str() {
        "echo" | "printf" => cmd.args.iter().any(|a| names(a)),
        "cat" | "tee" => cmd.input.iter().any(|text| names(text)),
        _ => false,
    }
}

/// `text.contains(needle)` for the short words of a command line: a plain
/// scan, without the set-up a substring searcher pays on every call.
pub(super) fn has(text: &str, needle: &str) -> bool {
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    // The rest is compared byte by byte: for needles of a few bytes a
    // `memcmp` call costs more than the comparison.
    text.len() >= needle.len()
        && (0..=text.len() - needle.len())
            .any(|i| text[i] == first && rest.iter().zip(&text[i + 1..]).all(|(a, b)| a == b))
}

/// True when `text` names a shell (`/bin/sh`, `!sh`, `exec=bash`, `"zsh"`).
fn names_shell(text: &str) -> bool {
    (has(text, "sh") || has(text, "SHELL")) && patterns().shell_in_arg.is_match(text)
}

/// True when an option's value is a shell's path (`--html=/bin/sh`,
/// `-H/bin/sh`, `--shell=/usr/bin/zsh`): the program will run it.
fn option_value_is_shell(arg: &str) -> bool {
    let value = if arg.starts_with("--") {
        arg.split_once('=').map(|(_, v)| v)
    } else if arg.len() > 2 && arg.starts_with('-') && arg.as_bytes()[1].is_ascii_alphabetic() {
        Some(&arg[2..])
    } else {
        None
    };
    value.is_some_and(|v| {
        let v = v.trim_start_matches(['=', '\'', '"']);
        let path = v.split_whitespace().next().unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default();
        path.starts_with('/') && path.contains("bin/") && SHELLS.contains(&name)
    })
}

/// True when an assignment turns the shell history off (`HISTFILE=/dev/null`,
/// `HISTSIZE=0`).
fn turns_off_history(name: &str, value: &str) -> bool {
    match name {
        "HISTFILE" => value.is_empty() || value == "/dev/null",
        "HISTSIZE" | "HISTFILESIZE" | "SAVEHIST" => value == "0",
        _ => false,
    }
}

/// True when `arg` is an IPv4 address and nothing else (`10.0.0.9`).
fn is_ipv4(arg: &str) -> bool {
    (7..=15).contains(&arg.len())
        && arg.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && arg.split('.').count() == 4
        && arg
            .split('.')
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// True when a command sets a replica or instance count to zero
/// (`kubectl scale --replicas=0`, `--desired-count 0`, `--max-size 0`).
fn scales_to_zero(cmd: &SimpleCommand) -> bool {
    const COUNTS: &[&str] = &[
        "--replicas",
        "--desired-count",
        "--desired-capacity",
        "--max-size",
        "--size",
        "--num-nodes",
        "--instances",
        "--count",
    ];
    cmd.args.iter().enumerate().any(|(i, a)| {
        let (name, value) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (a.as_str(), cmd.args.get(i + 1).map(String::as_str)),
        };
        COUNTS.contains(&name) && value == Some("0")
    })
}
