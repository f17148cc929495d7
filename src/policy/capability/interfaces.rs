//! Taking a network interface, connection or radio down (`ip link set eth0
//! down`, `ifconfig eth0 down`, `ifdown eth0`, `nmcli connection down
//! office`, `wg-quick down wg0`, `rfkill block wifi`): the machine, or the
//! tunnel its operators reach it through, loses its connection, as when a
//! service stops. Read for the programs that manage interfaces; a `down`
//! elsewhere is another CLI's word (`docker compose down` has its own rule).

use crate::policy::shell::SimpleCommand;

/// True when `cmd` takes a network interface, connection or radio down.
pub(super) fn takes_interface_down(cmd: &SimpleCommand) -> bool {
    let first = cmd.positional().next().unwrap_or("");
    let has = |word: &str| cmd.positional().any(|a| a == word);
    match cmd.program.as_str() {
        "ifdown" => true,
        "ifconfig" => has("down"),
        // `ip link set dev eth0 down`; `ip` takes any prefix of a word.
        "ip" => "link".starts_with(first) && !first.is_empty() && has("down"),
        "nmcli" => {
            has("down")
                || has("disconnect")
                || (matches!(first, "networking" | "n" | "radio" | "r") && has("off"))
        }
        "wg-quick" | "networkctl" => first == "down",
        "rfkill" => first == "block",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell;

    fn down(line: &str) -> bool {
        takes_interface_down(&shell::split(line)[0])
    }

    #[test]
    fn interfaces_taken_down() {
        for line in [
            "ip link set eth0 down",
            "ip -6 l set dev wg0 down",
            "ifconfig eth0 down",
            "ifdown eth0",
            "nmcli connection down office",
            "nmcli device disconnect wlan0",
            "nmcli radio wifi off",
            "wg-quick down wg0",
            "networkctl down eth0",
            "rfkill block wifi",
        ] {
            assert!(down(line), "{line}");
        }
        for line in [
            "ip link show",
            "ip link set eth0 up",
            "ip addr show dev eth0",
            "ifconfig eth0",
            "nmcli connection up office",
            "nmcli device status",
            "wg-quick up wg0",
            "rfkill list",
            "docker compose down",
        ] {
            assert!(!down(line), "{line}");
        }
    }
}
