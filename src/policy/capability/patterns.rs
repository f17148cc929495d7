//! The regular expressions of the analysis, compiled once.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};

use crate::policy::prefilter::PatternSet;

/// Every pattern the analysis uses.
pub(super) struct Patterns {
    /// A shell named inside an argument (`/bin/sh`, `!sh`, `exec=bash`).
    pub(super) shell_in_arg: RegexSet,
    /// An option whose value is a command line.
    pub(super) exec_option: Regex,
    /// Process, network and native-code APIs in inline code.
    pub(super) code_spawn: Regex,
    pub(super) code_network: Regex,
    pub(super) code_native: Regex,
    pub(super) code_eval: Regex,
    /// Calls that run programs in code a program reads on its input (m4's
    /// `esyscmd(…)`, `system(…)`, `os.system`); no backquotes, which SQL
    /// and Markdown use for names.
    pub(super) input_spawn: Regex,
    /// An editor command that runs programs (`vim -c ':!sh'`, `+terminal`,
    /// `:py3 …`, `:call system(…)`).
    pub(super) ex_command: Regex,
    /// `setuid(0)`, `setresuid(0, …)`.
    pub(super) setuid_root: Regex,
    /// `/dev/tcp/…`, `/dev/udp/…`, gawk's `/inet/tcp/…` special files.
    pub(super) dev_socket: Regex,
    /// URL of any scheme, `host:port`, IPv4.
    pub(super) url: Regex,
    pub(super) host_port: Regex,
    pub(super) ipv4: Regex,
    /// A path literal handed to a file-opening call in code
    /// (`open("/etc/shadow")`, `new FileReader("/x")`, `\\input{/x}`, Perl's
    /// `open(FH, "/x")` and `open(my $fh, "<", "/x")`); the path is the
    /// capture group that matched.
    pub(super) code_path: Regex,
    /// An output redirection to a path literal inside code
    /// (`print "x" > "/etc/cron.d/y"` in awk, `>> '/x'`; group 1), or a
    /// PowerShell cmdlet writing a file (`Out-File /x`, `Set-Content -Path
    /// '/x'`; group 2).
    pub(super) code_redirect: Regex,
    /// Credential locations (paths, robust to `~`, `$HOME`, quotes, globs),
    /// but for PEM files: see [`Patterns::is_sensitive`].
    sensitive: PatternSet,
    /// Places writing to which is persistence.
    pub(super) persistence: PatternSet,
    /// Places writing to which changes privileges or the loader.
    pub(super) privileged_files: PatternSet,
    /// Destructive SQL (and key-value store) statements.
    pub(super) sql: RegexSet,
    /// Statements that grant access or set a credential: SQL's `GRANT`,
    /// `REVOKE`, `CREATE`/`ALTER USER|ROLE|LOGIN`, `SET PASSWORD`; Redis's
    /// `ACL SETUSER` and `CONFIG SET requirepass|masterauth`; MongoDB's user
    /// and role helpers (`db.createUser(…)`, `db.changeUserPassword(…)`).
    pub(super) sql_grants: Regex,
    /// A sed script's `e` command (run a command line).
    pub(super) sed_exec: Regex,
    /// A sed script's `w file` command or `s///w file` flag (group 1).
    pub(super) sed_write: Regex,
    /// Code that takes the whole environment (`print(os.environ)`,
    /// `console.log(process.env)`, `p ENV.to_h`, `%ENV`, `getenv()`,
    /// `for (k in ENVIRON)`), not one variable of it.
    pub(super) env_dump: Regex,
    /// A sed script's `r file` or `R file` command (group 1).
    pub(super) sed_read: Regex,
    /// An awk program's `getline < "file"` (group 1).
    pub(super) awk_getline: Regex,
    /// A URL whose scheme is a network protocol (not `file:`, not cloud
    /// storage paths such as `s3://bucket`).
    pub(super) remote_url: Regex,
    /// git config keys that run commands.
    pub(super) git_hook_key: Regex,
    /// Socket addresses of socat and friends (`tcp:h:p`, `exec:`).
    pub(super) socket_address: Regex,
}

/// The patterns, compiled on first use.
pub(super) fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    // Static patterns, all exercised by the unit tests below.
    P.get_or_init(|| {
        let shell = r"(?:ba|da|z|k|mk|c|tc|a|fi|ya)?sh";
        Patterns {
            shell_in_arg: RegexSet::new([
                format!(r"(?:^!?|[^#\w!]|[^#]!)(?:/usr)?(?:/local)?/s?bin/{shell}\b"),
                // `sh -c …`, `!sh`, `:!bash`, `exec=sh`; a bare `bash` argument is
                // data (`completion bash`, `chsh -s bash`).
                format!(r"^[!:\s]*(?:exec[=:])?{shell}(?:\s|[;'`)])"),
                format!(r"^(?:[!:]+|exec[=:]){shell}$"),
                format!(r#"[=!:]\s*{shell}(?:$|\s+-)"#),
                format!(r#"(?:system|exec\w*|popen|spawn\w*|call|run|Popen|pty\.spawn)\s*\(\s*\[?\s*["'](?:[\w/]*/)?{shell}\b"#),
                format!(r#"["'`](?:[\w/]*/)?{shell}["'`]"#),
                r"\$\{?SHELL\b".to_owned(),
            ])
            .expect("static shell patterns"),
            exec_option: Regex::new(
                r"(?i)^--?(?:[a-z0-9]+[-_])*(?:exec|command|cmd|rsh|pager|editor|proxy-?command|local-?command|compress-?program|to-?command|checkpoint-action|unzip-command|hook)(?:=|$)|^--?(?:[a-z0-9]+[-_])+script(?:=|$)|^--on-[a-z0-9-]+=\S*[/ ]",
            )
            .expect("static option pattern"),
            code_spawn: Regex::new(
                r"\b(?:os\.system|os\.exec\w*|os\.spawn\w*|os\.popen|subprocess|pty\.spawn|commands\.getoutput|child_process|execSync|spawnSync|execFile|Runtime\.getRuntime|ProcessBuilder|Kernel\.(?:exec|system|spawn)|IO\.popen|Open3|proc_open|shell_exec|passthru|pcntl_exec|system\s*\(|e?syscmd\s*\(|exec\s*\(|popen\s*\(|spawn\s*\(|qx\{|`)",
            )
            .expect("static code pattern"),
            code_network: Regex::new(
                r#"(?i:Net\.Sockets|TCPClient|WebClient|DownloadString|DownloadFile|Invoke-WebRequest|\bIWR\b|Invoke-RestMethod)|\b(?:socket|urllib|urlopen|requests\.(?:get|post|put|delete)|http\.client|httplib|http\.(?:get|request)|https\.(?:get|request)|fetch\s*\(|net\.(?:connect|createConnection|createServer|Socket)|Net::HTTP|IO::Socket|TCPSocket|UDPSocket|TCPServer|fsockopen|stream_socket_client|curl_exec|file_get_contents\s*\(\s*['\x22]https?:|HttpClient|WebSocket|XMLHttpRequest|LWP::|HTTP::Tiny|open-uri|dgram\b|require\s*\(\s*['"](?:node:)?(?:net|tls|dgram)['"]|from\s*['"](?:node:)?(?:net|tls|dgram)['"]|\bcreateServer\b|\.listen\s*\(\s*\d)"#,
            )
            .expect("static code pattern"),
            code_native: Regex::new(
                r"\b(?:ctypes|CDLL|cdll\.|dlopen|DynaLoader|FFI::|ffi\.|process\.dlopen|System\.load|Fiddle|dl\.open|LoadLibrary)",
            )
            .expect("static code pattern"),
            code_eval: Regex::new(
                r"(?i:\biex\b|Invoke-Expression|FromBase64String)|\b(?:eval|exec|compile|__import__|Function)\s*\(\s*(?:base64|b64decode|atob|Buffer\.from|bytes\.fromhex|codecs\.decode|zlib|marshal|\w+\.decode|chr\s*\()",
            )
            .expect("static code pattern"),
            input_spawn: Regex::new(
                r"\b(?:e?syscmd|system|popen|shell_exec|passthru|proc_open|pcntl_exec|exec[lv]p?e?)\s*\(|\b(?:os\.system|os\.popen|subprocess\.|pty\.spawn|child_process|execSync|spawnSync|Runtime\.getRuntime|ProcessBuilder|Kernel\.(?:exec|system|spawn)|IO\.popen)",
            )
            .expect("static code pattern"),
            ex_command: Regex::new(
                r"^[\s:]*(?:!|sh(?:ell)?\b|te?rm(?:inal)?\b|(?:lua\w*|py\w*|perl\w*|ruby\w*|tcl\w*|mz\w*)\s|[rw]\s*!|.*\bsystem(?:list)?\s*\()",
            )
            .expect("static ex pattern"),
            setuid_root: Regex::new(r"\bset(?:res|re)?[ug]id\s*\(\s*0\b").expect("static pattern"),
            dev_socket: Regex::new(r"/dev/(?:tcp|udp)/|/inet[46]?/(?:tcp|udp)/").expect("static pattern"),
            url: Regex::new(
                r#"(?i)\b[a-z][a-z0-9+.-]{1,15}://(?:[^@/\s'"]+@)?(\[[0-9a-f:]+\]|[a-z0-9.\-_]+)"#,
            )
            .expect("static URL pattern"),
            host_port: Regex::new(
                r"(?i)(?:^|[\s@:=/,])((?:[a-z0-9-]+\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})\b",
            )
            .expect("static pattern"),
            ipv4: Regex::new(r"(?:^|[^\d.])((?:\d{1,3}\.){3}\d{1,3})(?:$|[^\d.])")
                .expect("static pattern"),
            code_path: Regex::new(
                r#"(?i)(?:open|read|file|load|include|require|input|source|slurp|contents|path)\w*\s*\(\s*["']((?:/|~/)[\w.~-][^"'\s]*)["']|\\\w*(?:input|include|open|read)\w*\s*\{\s*((?:/|~/)[\w.~-][^}\s]*)\}|\bopen\s*\(\s*(?:my\s+)?[\w$]+\s*,\s*(?:["']\+?<["']\s*,\s*)?["']\+?<?\s*((?:/|~/)[\w.~-][^"'\s]*)["']"#,
            )
            .expect("static code path pattern"),
            code_redirect: Regex::new(
                r#">>?\s*["']((?:/|~/)[\w.~-][^"'\s]*)["']|(?i:\b(?:Out-File|Set-Content|Add-Content|Tee-Object)\s+(?:-(?:File)?Path\s+|-LiteralPath\s+)?)["']?((?:/|~/)[\w.~-][^"'\s|;)]*)"#,
            )
            .expect("static code redirect pattern"),
            sensitive: PatternSet::new(&[
                r#"(?:^|[/~"'=:\s])\.ssh/(?:id_|identity|.*key|authorized_keys|config)"#,
                r#"(?:^|[/~"'=\s])\.ssh/?\*?["']?$"#,
                r"(?:^|/)id_(?:rsa|dsa|ecdsa|ed25519)\b",
                r"(?:^|/)\.(?:aws|azure|gcloud|kube|docker|gnupg|password-store|vault-token|terraform\.d)(?:/|$)",
                r"(?:^|/)\.config/(?:gcloud|gh|hub|doctl|rclone)(?:/|$)",
                r"(?:^|/)\.(?:netrc|pgpass|my\.cnf|git-credentials|npmrc|pypirc|boto|s3cfg|dockercfg|bash_history|zsh_history|mysql_history|psql_history|python_history|lesshst|viminfo)\b",
                r"^(?:file://)?(?:\.{0,2}/+)+etc/(?:shadow|gshadow|master\.passwd|sudoers|security/opasswd|ssh/ssh_host_\w+_key)",
                r"/proc/(?:\d+|self|\*|\$\w+)/(?:environ|mem|maps|cmdline)",
                r"/var/run/secrets|/run/secrets",
                r"(?i)(?:^|/)(?:[\w.-]*[-_])?(?:credentials?|secrets?|service[-_]account|token)s?\.(?:json|ya?ml|toml|ini|txt|env|xml)$",
                r"(?:^|/)\.env(?:\.[\w.-]+)?$",
                r"(?i)\.(?:key|p12|pfx|jks|keystore|kdbx|ppk|ovpn)$",
                r"(?i)(?:Login Data|Cookies|key[34]\.db|logins\.json|Keychains|wallet\.dat)",
                r"(?:^|/)(?:\.mozilla/firefox|\.config/(?:google-chrome|chromium|BraveSoftware)|Library/Application Support/(?:Google/Chrome|Firefox|BraveSoftware))(?:/|$)",
            ]
            .map(String::from))
            .expect("static sensitive patterns"),
            persistence: PatternSet::new(&[
                r"^/etc/(?:cron|anacrontab|crontab|rc\.local|rc\d\.d|init\.d|init/|systemd/|profile|bash\.bashrc|zsh|environment|update-motd\.d|xdg/autostart|udev/rules\.d|logrotate\.d|apt/apt\.conf\.d|ld\.so\.preload|sudoers|pam\.d)",
                r"^/(?:var/spool/cron|var/spool/at|lib/systemd|usr/lib/systemd|usr/local/lib/systemd|Library/Launch|System/Library/Launch)",
                r"(?:^|/|~|HOME\}?)/?\.(?:bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv|zlogin|cshrc|tcshrc|kshrc|xinitrc|xprofile|xsession|inputrc|vimrc|exrc|gitconfig|config/fish|config/autostart|config/systemd|local/share/systemd|ssh/authorized_keys|ssh/rc|ssh/config|pam_environment|npmrc|pip/pip\.conf)",
                r"(?:^|/)Library/LaunchAgents",
                r"(?:^|/)\.git/hooks/",
                r"(?i)/Start Menu/Programs/Startup/|/(?:Windows)?PowerShell/(?:Microsoft\.\w+_)?profile\.ps1$",
            ]
            .map(String::from))
            .expect("static persistence patterns"),
            privileged_files: PatternSet::new(&[
                r"^/etc/(?:passwd|shadow|group|gshadow|sudoers|ld\.so\.preload|ld\.so\.conf|security|pam\.d|polkit-1|doas\.conf)",
                r"^/(?:usr/)?(?:s?bin|lib\w*)/",
            ]
            .map(String::from))
            .expect("static privilege patterns"),
            sql: RegexSet::new([
                r#"(?i)\bdrop\s+(?:table|database|schema|index|view|user|role|collection|keyspace|function|procedure|trigger|owned)\b"#,
                r"(?i)\btruncate\s+(?:table\s+)?[\w`\x22\[.]",
                r"(?i)\bdelete\s+from\s+[\w`\x22\[.]+(?:\s+[\w`\x22\].]+)?\s*(?:;|$|\x22|'|\bwhere\b)",
                r"(?i)\balter\s+table\s+\S+\s+drop\b",
                r"(?i)\bgrant\s+all\b",
                r"(?i)\bupdate\s+[\w`\x22\[.]+\s+set\s+[^;]*?(?:;|$)",
                r"(?i)^\s*(?:flushall|flushdb)\b|\b(?:dropDatabase|dropCollection|deleteMany\s*\(\s*\{\s*\}|\.drop\s*\(\s*\))",
            ])
            .expect("static SQL patterns"),
            sql_grants: Regex::new(concat!(
                r"(?i)\b(?:grant|revoke)\s+[\w,\s]*?(?:\bon\b|\bto\b|\bfrom\b)",
                r"|\b(?:create|alter)\s+(?:user|role|login)\b",
                r"|\bset\s+password\b",
                r"|\bacl\s+setuser\b|\bconfig\s+set\s+(?:requirepass|masterauth|masteruser)\b",
                r"|\b(?:createUser|updateUser|changeUserPassword|grantRolesToUser|grantPrivilegesToRole|createRole|updateRole)\s*\(",
            ))
            .expect("static grant pattern"),
            sed_exec: Regex::new(
                r"(?:^|[;{}\n])\s*(?:(?:\d+|\$|/[^/]*/)(?:,(?:\d+|\$|/[^/]*/))?\s*)?!?\s*e(?:\s|;|$)",
            )
            .expect("static sed pattern"),
            sed_write: Regex::new(r"(?:^|[;{}\n\d$/]|/[gpiImMe0-9]+)\s*[wW]\s+([^\s;}]+)")
                .expect("static sed pattern"),
            env_dump: Regex::new(concat!(
                r"\bos\.environ\s*[),]|\bos\.environ\.(?:items|keys|values|copy)\s*\(",
                r"|\bprocess\.env\s*(?:[),]|$)",
                r"|\bENV\.(?:to_h|to_a|to_hash|each\w*|inspect|keys|values|map|select|sort)\b",
                r"|\b(?:p|pp|puts|print)\s+ENV\s*(?:[;)\n]|$)|%ENV\b|\bgetenv\(\s*\)|\$_(?:ENV|SERVER)\s*\)",
                r"|\bos\.Environ\(\)|System\.getenv\(\s*\)|GetEnvironmentVariables\(\s*\)",
                r"|\bin\s+ENVIRON\b",
            ))
            .expect("static environment pattern"),
            sed_read: Regex::new(r"(?:^|[;{}\n\d$/])\s*[rR]\s+([^\s;}]+)")
                .expect("static sed pattern"),
            awk_getline: Regex::new(r#"\bgetline\b[^<|;]*<\s*"([^"]+)""#)
                .expect("static awk pattern"),
            remote_url: Regex::new(
                r"(?i)\b(?:https?|ftps?|sftp|scp|ssh|git|rsync|telnet|gopher|dict|tftp|ldaps?|smb|ws|wss|tcp|udp|nfs|imaps?|smtps?|pop3s?|irc|mqtt|redis|mongodb(?:\+srv)?|mysql|postgres(?:ql)?|amqps?|davs?|webdavs?|socks[45]?h?|rtmps?|rtsp|nntp|xmpp|sips?|ircs|mqtts|nats|grpcs?|kafka|stomps?|rediss|vnc|rdp|coaps?|wais|finger)://[^/\s]",
            )
            .expect("static URL pattern"),
            git_hook_key: Regex::new(
                r"(?i)^(?:core\.(?:pager|editor|sshcommand|fsmonitor|hookspath|gitproxy|askpass)|sequence\.editor|diff\.external|(?:diff|filter|merge)\..+\.(?:textconv|command|clean|smudge|process|driver)|credential\..*helper|uploadpack\.packobjectshook|pager\..+|gpg\..*program|protocol\..*allow|sendemail\..*cmd)$",
            )
            .expect("static git key pattern"),
            socket_address: Regex::new(
                r"(?i)^(?:tcp|udp|tcp4|tcp6|udp4|udp6|ssl|openssl|sctp)(?:-connect|-listen|-l)?:|(?:^|,)(?:exec|system):",
            )
            .expect("static socat pattern"),
        }
    })
}

impl Patterns {
    /// True when `path` names a credential location: one of the
    /// `sensitive` patterns, or a key file that is not named as public
    /// ([`private_key_file`]).
    pub(super) fn is_sensitive(&self, path: &str) -> bool {
        self.sensitive.is_match(path) || private_key_file(path)
    }
}

/// A PEM, armored (`.asc`) or OpenPGP (`.gpg`) file whose name does not say
/// it holds only public material. Such files hold private keys as often as
/// certificates, signatures and keyrings: `privkey.pem`, `server.pem`,
/// `backup.asc` may hold a key; `cert.pem`, `fullchain.pem`,
/// `ca-bundle.pem`, `signature.asc`, `docker-archive-keyring.gpg`,
/// `Release.gpg` do not, unless the name also says private
/// (`public-and-private.asc`, `secring.gpg`).
fn private_key_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let name = name.trim_end_matches(['"', '\'', '*']);
    let Some(stem) = name
        .len()
        .checked_sub(4)
        .filter(|&at| {
            name.is_char_boundary(at)
                && [".pem", ".asc", ".gpg"]
                    .iter()
                    .any(|ext| name[at..].eq_ignore_ascii_case(ext))
        })
        .map(|at| name[..at].to_ascii_lowercase())
    else {
        return false;
    };
    let words = || stem.split(['-', '_', '.']);
    let public = words().any(|w| {
        matches!(
            w,
            "cert"
                | "certs"
                | "certificate"
                | "crt"
                | "chain"
                | "fullchain"
                | "ca"
                | "cacert"
                | "cacerts"
                | "bundle"
                | "pub"
                | "public"
                | "pubkey"
                | "pubring"
                | "keyring"
                | "trusted"
                | "trustedkeys"
                | "sig"
                | "signature"
                | "signer"
                | "release"
                | "inrelease"
        )
    });
    let private = words().any(|w| {
        matches!(
            w,
            "key" | "priv" | "private" | "privkey" | "secret" | "sec" | "secring"
        )
    });
    !public || private
}
