//! Turning off a control that watches or confines the machine: SELinux to
//! permissive (`setenforce 0`), the audit system off or its rules deleted
//! (`auditctl -e 0`, `auditctl -D`), AppArmor unloaded (`aa-teardown`,
//! `aa-disable`, `aa-complain`), a firewall chain that accepts everything
//! by default (`iptables -P INPUT ACCEPT`), macOS Gatekeeper off (`spctl
//! --master-disable`), Windows Defender's or firewall's protection off
//! (`Set-MpPreference -DisableRealtimeMonitoring $true`, `netsh advfirewall
//! set allprofiles state off`). Like a service stopped, what it guarded is
//! left open; read for the programs that manage these controls.

use crate::policy::shell::SimpleCommand;

/// True when `cmd` turns a security control off.
pub(super) fn turns_off_security_control(cmd: &SimpleCommand) -> bool {
    let args = &cmd.args;
    let has = |word: &str| args.iter().any(|a| a.eq_ignore_ascii_case(word));
    let follows = |option: &str, value: &str| {
        args.windows(2)
            .any(|w| w[0] == option && w[1].eq_ignore_ascii_case(value))
    };
    match cmd.program.as_str() {
        "setenforce" => has("0") || has("permissive"),
        "auditctl" => follows("-e", "0") || has("-D"),
        "aa-teardown" => true,
        "aa-disable" | "aa-complain" => cmd.positional().next().is_some(),
        "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft" => {
            args.iter().enumerate().any(|(i, a)| {
                matches!(a.as_str(), "-P" | "--policy")
                    && args.get(i + 2).is_some_and(|t| t == "ACCEPT")
            })
        }
        "spctl" => has("--master-disable") || has("--global-disable"),
        "Set-MpPreference" | "set-mppreference" => args.windows(2).any(|w| {
            w[0].to_ascii_lowercase().starts_with("-disable")
                && matches!(w[1].to_ascii_lowercase().as_str(), "$true" | "1")
        }),
        "netsh" => has("advfirewall") && has("state") && has("off"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell;

    fn off(line: &str) -> bool {
        turns_off_security_control(&shell::split(line)[0])
    }

    #[test]
    fn security_controls_turned_off() {
        for line in [
            "setenforce 0",
            "setenforce Permissive",
            "auditctl -e 0",
            "auditctl -D",
            "aa-teardown",
            "aa-complain /etc/apparmor.d/usr.sbin.nginx",
            "iptables -P INPUT ACCEPT",
            "ip6tables --policy FORWARD ACCEPT",
            "spctl --master-disable",
            "Set-MpPreference -DisableRealtimeMonitoring $true",
            "netsh advfirewall set allprofiles state off",
        ] {
            assert!(off(line), "{line}");
        }
        for line in [
            "setenforce 1",
            "getenforce",
            "auditctl -l",
            "auditctl -e 1",
            "aa-status",
            "aa-enforce /etc/apparmor.d/usr.sbin.nginx",
            "iptables -P INPUT DROP",
            "iptables -L -n",
            "spctl --status",
            "Set-MpPreference -DisableRealtimeMonitoring $false",
            "netsh advfirewall show allprofiles",
        ] {
            assert!(!off(line), "{line}");
        }
    }
}
