//! Windows commands, read for what they do as Unix ones are:
//! - cmd.exe's tools take `/x` switches (`dir /b`, `del /s /q`), which are
//!   not paths at the root of the file system;
//! - PowerShell cmdlets are named `Verb-Noun` with a fixed list of approved
//!   verbs, so the verb says what a cmdlet does whatever its module:
//!   `Remove-`, `Clear-`, `Uninstall-` destroy, `Stop-`, `Disable-`,
//!   `Suspend-` stop, `Grant-`/`Revoke-` and `Add-`/`Set-`/`New-` of an
//!   access noun (`Add-LocalGroupMember`, `Set-Acl`) grant access,
//!   `Register-` persists;
//! - cmd.exe's tools by their switches: `del /s`, `rd /s`, `format D:`,
//!   `cipher /w`, `taskkill /im`, `net user … /add`, `reg add …\Run`,
//!   `icacls /grant`, `wevtutil cl`;
//! - UNC paths (`\\host\share`) and remoting cmdlets reach other machines.

use super::{Capabilities, Capability};
use crate::policy::shell::SimpleCommand;

/// Directories at the root of Unix and macOS file systems: `/etc` is a path
/// even in a Windows-style command.
const UNIX_ROOTS: &[&str] = &[
    "Applications",
    "Library",
    "System",
    "Users",
    "Volumes",
    "bin",
    "boot",
    "dev",
    "etc",
    "home",
    "lib",
    "lib64",
    "media",
    "mnt",
    "opt",
    "private",
    "proc",
    "root",
    "run",
    "sbin",
    "snap",
    "srv",
    "sys",
    "tmp",
    "usr",
    "var",
];

/// Cmdlet nouns of what lives only in the PowerShell session.
const SESSION_NOUNS: &[&str] = &[
    "alias",
    "event",
    "eventsubscriber",
    "host",
    "job",
    "module",
    "psbreakpoint",
    "psdrive",
    "pssession",
    "runspace",
    "transcript",
    "typedata",
    "variable",
];

/// PowerShell's approved verbs (`Get-Verb`).
const VERBS: &[&str] = &[
    "add",
    "approve",
    "assert",
    "backup",
    "block",
    "build",
    "checkpoint",
    "clear",
    "close",
    "compare",
    "complete",
    "compress",
    "confirm",
    "connect",
    "convert",
    "convertfrom",
    "convertto",
    "copy",
    "debug",
    "deny",
    "deploy",
    "disable",
    "disconnect",
    "dismount",
    "edit",
    "enable",
    "enter",
    "exit",
    "expand",
    "export",
    "find",
    "format",
    "get",
    "grant",
    "group",
    "hide",
    "import",
    "initialize",
    "install",
    "invoke",
    "join",
    "limit",
    "lock",
    "measure",
    "merge",
    "mount",
    "move",
    "new",
    "open",
    "optimize",
    "out",
    "ping",
    "pop",
    "protect",
    "publish",
    "push",
    "read",
    "receive",
    "redo",
    "register",
    "remove",
    "rename",
    "repair",
    "request",
    "reset",
    "resize",
    "resolve",
    "restart",
    "restore",
    "resume",
    "revoke",
    "save",
    "search",
    "select",
    "send",
    "set",
    "show",
    "skip",
    "split",
    "start",
    "step",
    "stop",
    "submit",
    "suspend",
    "switch",
    "sync",
    "test",
    "trace",
    "unblock",
    "undo",
    "uninstall",
    "unlock",
    "unprotect",
    "unpublish",
    "unregister",
    "update",
    "use",
    "wait",
    "watch",
    "write",
];

/// The verb (lower case) and noun of a PowerShell cmdlet name
/// (`Remove-Item` → `remove`, `Item`): one `-` between an approved verb
/// and a noun of letters and digits.
pub(super) fn cmdlet(program: &str) -> Option<(&'static str, &str)> {
    let (verb, noun) = program.split_once('-')?;
    let noun_ok = noun.as_bytes().first()?.is_ascii_alphabetic()
        && noun.bytes().all(|b| b.is_ascii_alphanumeric());
    if !noun_ok {
        return None;
    }
    VERBS
        .iter()
        .find(|v| v.eq_ignore_ascii_case(verb))
        .map(|v| (*v, noun))
}

/// `program` in lower case: itself when it has no capital (no copy), else
/// copied into `buf` (none when longer).
fn lower<'a>(program: &'a str, buf: &'a mut [u8; 16]) -> Option<&'a str> {
    if !program.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(program);
    }
    let lower = buf.get_mut(..program.len())?;
    lower.copy_from_slice(program.as_bytes());
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower).ok()
}

/// True for cmd.exe's built-ins and Windows' own tools, which take `/x`
/// switches (`name` in lower case).
fn is_tool(name: &str) -> bool {
    matches!(
        name,
        "assoc"
            | "attrib"
            | "auditpol"
            | "bcdboot"
            | "bcdedit"
            | "bitsadmin"
            | "cacls"
            | "certutil"
            | "chcp"
            | "chkdsk"
            | "cipher"
            | "clip"
            | "cmdkey"
            | "comp"
            | "cscript"
            | "del"
            | "dir"
            | "diskpart"
            | "dism"
            | "doskey"
            | "driverquery"
            | "dsquery"
            | "erase"
            | "fc"
            | "findstr"
            | "forfiles"
            | "format"
            | "fsutil"
            | "getmac"
            | "gpresult"
            | "gpupdate"
            | "icacls"
            | "ipconfig"
            | "klist"
            | "manage-bde"
            | "mimikatz"
            | "mountvol"
            | "msbuild"
            | "msiexec"
            | "mstsc"
            | "net"
            | "netsh"
            | "nltest"
            | "nmake"
            | "openfiles"
            | "pathping"
            | "pnputil"
            | "powercfg"
            | "psexec"
            | "query"
            | "quser"
            | "qwinsta"
            | "rd"
            | "reg"
            | "robocopy"
            | "runas"
            | "sc"
            | "schtasks"
            | "sdelete"
            | "setx"
            | "sfc"
            | "systeminfo"
            | "takeown"
            | "taskkill"
            | "tasklist"
            | "tracert"
            | "tskill"
            | "tzutil"
            | "vssadmin"
            | "w32tm"
            | "wbadmin"
            | "wevtutil"
            | "where"
            | "whoami"
            | "winrm"
            | "winrs"
            | "wmic"
            | "wscript"
            | "wusa"
            | "xcopy"
    )
}

/// True when `cmd` is written for Windows: one of its tools, a cmdlet, or
/// an argument that is a drive path (`C:\`, `D:`) or a UNC path.
pub(super) fn windows_style(cmd: &SimpleCommand) -> bool {
    let program = cmd.program.as_str();
    let mut buf = [0u8; 16];
    lower(program, &mut buf).is_some_and(is_tool)
        || (program.contains('-') && cmdlet(program).is_some())
        || cmd
            .args
            .iter()
            .any(|a| drive_path(a) || a.starts_with("\\\\"))
}

/// True when `arg` has the shape of a cmd.exe switch (`/b`, `/all`, `/IM`,
/// `/w:C:\`, `/grant:r`, `/?`) and is not a directory at the root of a
/// Unix file system (`/etc`).
pub(super) fn is_switch(arg: &str) -> bool {
    switch_name(arg).is_some()
}

/// True when `arg` is a switch of `cmd` ([`is_switch`]): in a Windows
/// command ([`windows_style`]), or beside another switch, or one that no
/// Unix path looks like: a short name (`/v`, `/ad`), a value after `:`
/// (`/server:x`) or a capital (`/N`, `/LIST`).
pub(super) fn is_switch_of(cmd: &SimpleCommand, arg: &str) -> bool {
    let Some(name) = switch_name(arg) else {
        return false;
    };
    name.len() <= 3
        || arg.len() > name.len() + 1
        || name.bytes().any(|b| b.is_ascii_uppercase())
        || cmd.args.iter().filter(|a| is_switch(a)).nth(1).is_some()
        || windows_style(cmd)
}

/// The name of a switch-shaped `arg` (`/w:C:\` → `w`).
fn switch_name(arg: &str) -> Option<&str> {
    let rest = arg.strip_prefix('/')?;
    let name = rest.split([':', '=']).next().unwrap_or(rest);
    ((1..=16).contains(&name.len())
        && (name == "?" || name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && name.as_bytes()[0] != b'-'
        && !UNIX_ROOTS.contains(&name))
    .then_some(name)
}

/// True when `text` starts with `prefix` in any case.
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// True when `arg` starts with a drive letter (`C:`, `C:\…`, `c:/…`).
fn drive_path(arg: &str) -> bool {
    let b = arg.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b.len() == 2 || matches!(b[2], b'\\' | b'/'))
}

/// The Unix form of a Windows path (`C:\Users\a\.aws\credentials` →
/// `C:/Users/a/.aws/credentials`), for the credential-location patterns;
/// none for other words.
pub(super) fn unix_form(path: &str) -> Option<String> {
    (drive_path(path) || path.starts_with("\\\\") || path.starts_with(".\\"))
        .then(|| path.replace('\\', "/"))
}

/// The facts of a Windows command: cmdlets by their verb, cmd.exe's tools
/// by their switches, other machines by UNC path or remoting.
pub(super) fn windows_facts(cmd: &SimpleCommand, caps: &mut Capabilities) {
    use Capability::*;
    if let Some(host) = cmd.args.iter().find_map(|a| unc_host(a)) {
        if !matches!(host, "localhost" | "127.0.0.1" | "." | "?") {
            caps.add(Network, "a UNC path on another machine (`\\\\host\\share`)");
        }
    }
    if cmd.program.contains('-') {
        if let Some((verb, noun)) = cmdlet(&cmd.program) {
            cmdlet_facts(cmd, verb, noun, caps);
        }
        return;
    }
    let mut buf = [0u8; 16];
    let Some(program) = lower(&cmd.program, &mut buf).filter(|p| is_tool(p) || *p == "rmdir")
    else {
        return;
    };
    let switch = |name: &str| {
        cmd.args.iter().any(|a| {
            a.strip_prefix('/').is_some_and(|s| {
                let s = s.split(':').next().unwrap_or(s);
                s.eq_ignore_ascii_case(name)
            })
        })
    };
    let word = |w: &str| cmd.args.iter().any(|a| a.eq_ignore_ascii_case(w));
    let first = cmd
        .args
        .iter()
        .find(|a| !a.starts_with('/'))
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default();
    match program {
        "del" | "erase" if switch("s") || cmd.args.iter().any(|a| drive_path(a)) => caps.add(
            Destroys,
            "deletes files through a directory tree or outside the workspace",
        ),
        "rd" | "rmdir" if switch("s") => caps.add(Destroys, "removes a directory tree"),
        "format" if cmd.args.iter().any(|a| drive_path(a)) => caps.add(Destroys, "formats a drive"),
        "cipher" if switch("w") => caps.add(Destroys, "wipes a drive's free space"),
        "sdelete" => caps.add(Destroys, "overwrites files beyond recovery"),
        "cmdkey" if switch("delete") => caps.add(Destroys, "deletes a stored credential"),
        "msiexec" if switch("x") || switch("uninstall") => {
            caps.add(Destroys, "uninstalls a program")
        }
        "mimikatz" => caps.add(
            ReadsSensitive,
            "a credential-dumping tool (passwords, hashes and tickets in memory)",
        ),
        "wevtutil" if matches!(first.as_str(), "cl" | "clear-log") => {
            caps.add(Destroys, "clears an event log")
        }
        "taskkill" | "tskill" if switch("im") || program == "tskill" => {
            caps.add(Stops, "kills processes by name")
        }
        "sc" if first == "config" && word("disabled") => caps.add(Stops, "disables a service"),
        "bcdedit" if (word("recoveryenabled") && word("no")) || word("ignoreallfailures") => {
            caps.add(Stops, "turns off the system's recovery at boot")
        }
        "net" if switch("add") && matches!(first.as_str(), "user" | "localgroup" | "group") => {
            caps.add(GrantsAccess, "adds a user or a member of a group");
            if word("administrators") || word("domain admins") {
                caps.add(Privilege, "adds a member to the administrators");
            }
        }
        "net" if switch("delete") && matches!(first.as_str(), "user" | "localgroup" | "group") => {
            caps.add(Destroys, "deletes a user or group")
        }
        "net"
            if first == "share"
                && cmd
                    .args
                    .iter()
                    .any(|a| starts_with_ignore_case(a, "/grant")) =>
        {
            caps.add(GrantsAccess, "shares a folder")
        }
        "icacls" | "cacls"
            if switch("grant") || switch("setowner") || switch("g") || switch("e") =>
        {
            caps.add(GrantsAccess, "grants access to files")
        }
        "reg" if first == "add" && cmd.args.iter().any(|a| runs_at_logon(a)) => {
            caps.add(Persists, "a registry key that runs a program at logon")
        }
        _ => {}
    }
}

/// A cmdlet's facts from its verb and noun.
fn cmdlet_facts(cmd: &SimpleCommand, verb: &str, noun: &str, caps: &mut Capabilities) {
    use Capability::*;
    if verb != "get" && super::previews::previews(cmd) {
        // `-WhatIf` says what it would do.
        return;
    }
    let parameter = |name: &str| {
        cmd.args.iter().any(|a| {
            a.strip_prefix('-').is_some_and(|p| {
                !p.is_empty() && name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p)
            })
        })
    };
    let noun_is = |n: &str| noun.eq_ignore_ascii_case(n);
    let noun_lower = noun.to_ascii_lowercase();
    // The file-system cmdlets delete as `rm` does: a tree, or a location
    // outside the workspace.
    let files = ["item", "childitem", "content", "itemproperty"].contains(&noun_lower.as_str());
    let outside = cmd.args.iter().any(|a| {
        drive_path(a)
            || a.starts_with("\\\\")
            || a.starts_with('/')
            || a.starts_with('~')
            || starts_with_ignore_case(a, "$env:")
            || starts_with_ignore_case(a, "hk")
    });
    // What lives only in the session: its variables, jobs, modules, screen.
    let session = SESSION_NOUNS.contains(&noun_lower.as_str()) || noun_lower.ends_with("cache");
    match verb {
        "invoke" | "enter" | "new"
            if (noun_is("command") || noun_is("pssession"))
                && (parameter("computername") || parameter("hostname") || verb == "enter") =>
        {
            caps.add(
                Network,
                "runs commands on another machine (PowerShell remoting)",
            )
        }
        "uninstall" => caps.add(Destroys, "a cmdlet that uninstalls"),
        _ if session => {}
        "remove" | "clear" | "unregister" if files && (parameter("recurse") || outside) => {
            caps.add(Destroys, "deletes a tree or outside the workspace")
        }
        // One file in the workspace, as `rm` of one file.
        "remove" | "clear" | "unregister" if files => {}
        "remove" | "clear" | "unregister" => {
            caps.add(Destroys, "a cmdlet whose verb removes or clears")
        }
        "format" | "initialize"
            if ["volume", "disk", "partition"].contains(&noun_lower.as_str()) =>
        {
            caps.add(Destroys, "formats a disk or volume")
        }
        "stop" | "suspend" | "restart" | "disable" => {
            caps.add(Stops, "a cmdlet whose verb stops or disables")
        }
        "grant" | "revoke" => caps.add(GrantsAccess, "a cmdlet that grants or revokes access"),
        "register" => caps.add(Persists, "registers something that runs later"),
        "new" if noun_is("service") => caps.add(Persists, "installs a service"),
        "set"
            if noun_is("executionpolicy")
                && cmd.args.iter().any(|a| {
                    a.eq_ignore_ascii_case("unrestricted") || a.eq_ignore_ascii_case("bypass")
                }) =>
        {
            caps.add(Stops, "turns off PowerShell's script signing policy")
        }
        "add"
            if noun_is("mppreference")
                && (parameter("exclusionpath")
                    || parameter("exclusionprocess")
                    || parameter("exclusionextension")) =>
        {
            caps.add(Stops, "excludes files or processes from antivirus scanning")
        }
        "send" if noun_is("mailmessage") => caps.add(Network, "sends mail"),
        _ => {}
    }
    if matches!(
        verb,
        "add" | "set" | "new" | "enable" | "update" | "reset" | "unblock"
    ) && !noun_is("executionpolicy")
        && (grants_by_noun(verb, noun) || parameter("password") || parameter("accountpassword"))
    {
        caps.add(GrantsAccess, "a cmdlet that changes who has access");
    }
    if matches!(verb, "set" | "new") && cmd.args.iter().any(|a| runs_at_logon(a)) {
        caps.add(Persists, "a registry key that runs a program at logon");
    }
}

/// True when a cmdlet's noun names access (`LocalGroupMember`, `Acl`,
/// `ADAccountPassword`), or a user or account it creates or enables.
fn grants_by_noun(verb: &str, noun: &str) -> bool {
    let mut parts = Vec::new();
    let mut start = 0;
    let b = noun.as_bytes();
    for i in 1..=b.len() {
        if i == b.len() || (b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase()) {
            parts.push(noun[start..i].to_ascii_lowercase());
            start = i;
        }
    }
    parts.iter().enumerate().any(|(i, p)| {
        // A key vault is a store, not a key (`New-AzKeyVault`).
        let vault = p == "key" && parts.get(i + 1).is_some_and(|n| n == "vault");
        (super::verbs::is_access_noun(p.as_bytes()) && !vault)
            || p == "acl"
            || (matches!(verb, "new" | "enable") && (p.ends_with("user") || p.ends_with("account")))
    })
}

/// True when a registry path is a key whose values run at logon or start.
fn runs_at_logon(arg: &str) -> bool {
    let a = arg.to_ascii_lowercase();
    a.contains("\\currentversion\\run")
        || a.contains("\\currentversion\\winlogon")
        || a.contains("image file execution options")
        || a.contains("\\currentversion\\policies\\explorer\\run")
}

/// The host of a UNC path (`\\host\share\…` → `host`).
fn unc_host(arg: &str) -> Option<&str> {
    let rest = arg.strip_prefix("\\\\")?;
    let host = rest.split(['\\', '/']).next()?;
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell::split;

    fn facts(line: &str) -> Vec<&'static str> {
        let cmd = split(line).pop().unwrap();
        let mut caps = Capabilities::default();
        windows_facts(&cmd, &mut caps);
        caps.iter().map(Capability::as_str).collect()
    }

    #[test]
    fn cmdlets_are_read_by_their_approved_verb() {
        assert_eq!(cmdlet("Remove-Item"), Some(("remove", "Item")));
        assert_eq!(cmdlet("get-childitem"), Some(("get", "childitem")));
        assert_eq!(cmdlet("add-apt-repository"), None);
        assert_eq!(cmdlet("ssh-keygen"), None);
        assert_eq!(
            facts("Remove-AzResourceGroup -Name rg -Force"),
            ["destroys"]
        );
        assert_eq!(facts("Clear-EventLog -LogName Security"), ["destroys"]);
        assert_eq!(facts("Remove-Item -Path .\\build -Recurse"), ["destroys"]);
        assert_eq!(facts("Remove-Item -r C:\\data"), ["destroys"]);
        assert!(facts("Remove-Item .\\notes.txt").is_empty());
        assert!(facts("Clear-Host").is_empty());
        assert!(facts("Clear-DnsClientCache").is_empty());
        assert_eq!(facts("Stop-Service WinDefend"), ["stops"]);
        assert_eq!(facts("Disable-ADAccount -Identity jdoe"), ["stops"]);
        assert_eq!(
            facts("Add-LocalGroupMember -Group Administrators -Member x"),
            ["grants_access"]
        );
        assert_eq!(
            facts("New-LocalUser -Name x -Password $p"),
            ["grants_access"]
        );
        assert_eq!(facts("Set-Acl -Path x -AclObject $a"), ["grants_access"]);
        assert_eq!(facts("Set-LocalUser admin -Password $p"), ["grants_access"]);
        assert_eq!(
            facts("Register-ScheduledTask -TaskName x -Action $a"),
            ["persists"]
        );
        assert_eq!(facts("Set-ExecutionPolicy Bypass -Force"), ["stops"]);
        assert_eq!(facts("Add-MpPreference -ExclusionPath C:\\x"), ["stops"]);
        assert_eq!(
            facts("Invoke-Command -ComputerName srv -ScriptBlock {x}"),
            ["network"]
        );
        assert_eq!(
            facts("Send-MailMessage -To a@b.example -SmtpServer s"),
            ["network"]
        );
        for benign in [
            "Get-ChildItem -Recurse",
            "Get-Service WinDefend",
            "Set-Location .\\src",
            "New-Item -ItemType Directory out",
            "Invoke-Command -ScriptBlock {x}",
            "Set-ExecutionPolicy RemoteSigned -Scope Process",
            "Remove-Variable x",
            "Stop-Job 3",
            "New-AzKeyVault -Name v -ResourceGroupName rg",
        ] {
            assert!(facts(benign).is_empty(), "{benign}");
        }
    }

    #[test]
    fn cmd_tools_by_their_switches() {
        assert_eq!(facts("del /f /s /q build"), ["destroys"]);
        assert_eq!(facts("rd /s /q C:\\Users"), ["destroys"]);
        assert_eq!(facts("format D: /q /y"), ["destroys"]);
        assert_eq!(facts("cipher /w:C:\\"), ["destroys"]);
        assert_eq!(facts("wevtutil cl Security"), ["destroys"]);
        assert_eq!(facts("taskkill /F /IM MsMpEng.exe"), ["stops"]);
        assert_eq!(facts("sc config WinDefend start= disabled"), ["stops"]);
        assert_eq!(
            facts("net localgroup administrators x /add"),
            ["privilege", "grants_access"]
        );
        assert_eq!(
            facts("net group \"Domain Admins\" x /add /domain"),
            ["privilege", "grants_access"]
        );
        assert_eq!(
            facts("reg add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v x /d y"),
            ["persists"]
        );
        assert_eq!(facts("icacls data /grant Everyone:F"), ["grants_access"]);
        assert_eq!(facts("copy x.txt \\\\203.0.113.5\\share\\"), ["network"]);
        for benign in [
            "del notes.txt",
            "rd empty",
            "taskkill /PID 4242",
            "net user",
            "reg query HKCU\\Software",
            "copy a.txt \\\\localhost\\c$\\b.txt",
        ] {
            assert!(facts(benign).is_empty(), "{benign}");
        }
    }

    #[test]
    fn switches_are_not_root_paths() {
        for switch in ["/b", "/all", "/IM", "/w:C:\\", "/?", "/grant:r", "/fo"] {
            assert!(is_switch(switch), "{switch}");
        }
        for path in ["/etc", "/root", "/etc/shadow", "/", "//x", "/var/log"] {
            assert!(!is_switch(path), "{path}");
        }
        // Outside a Windows command, a longer lower-case name alone is a
        // directory at the root; beside another switch, a switch.
        let cmd = |line: &str| split(line).pop().unwrap();
        assert!(!is_switch_of(&cmd("ls /secrets"), "/secrets"));
        assert!(is_switch_of(&cmd("date /t"), "/t"));
        assert!(is_switch_of(&cmd("w32tm /query /status"), "/query"));
        assert!(is_switch_of(&cmd("doskey /macros"), "/macros"));
        assert!(is_switch_of(&cmd("lib /LIST x"), "/LIST"));
    }
}
