//! What a command does to the machine beneath the operating system: erasing
//! or formatting a block device through any tool (`nvme format`, `hdparm
//! --security-erase`, `cryptsetup luksErase`), rewriting firmware, and
//! changing what the machine boots.

use super::{Capabilities, Capability};
use crate::policy::shell::SimpleCommand;

/// Verbs and options that erase, format or discard what a device holds.
const ERASE_WORDS: &[&str] = &[
    "format",
    "erase",
    "sanitize",
    "discard",
    "trim",
    "wipe",
    "zap",
    "zap-all",
    "security-erase",
    "security-erase-enhanced",
    "secure-erase",
    "luksformat",
    "lukserase",
    "lukskillslot",
    "erasedisk",
    "erasevolume",
    "zerodisk",
    "partitiondisk",
    "write-zeroes",
];

/// Adds what `cmd` does to devices, firmware and boot configuration.
pub(super) fn machine_facts(cmd: &SimpleCommand, caps: &mut Capabilities) {
    if erases_a_device(cmd) {
        caps.add(
            Capability::Destroys,
            "erases, formats or discards a block device",
        );
    }
    if rewrites_firmware(cmd) {
        caps.add(Capability::Destroys, "rewrites or erases the firmware");
    }
    if changes_boot(cmd) {
        caps.add(
            Capability::Persists,
            "changes what the machine boots (boot entries, boot loader, firmware updates)",
        );
    }
}

/// A raw block device among the operands (`/dev/sda`, `/dev/nvme0n1`,
/// `/dev/mapper/x`, `/dev/disk/by-id/…`), and a word that erases.
fn erases_a_device(cmd: &SimpleCommand) -> bool {
    let device = cmd.args.iter().any(|a| {
        // An operand, or an option's value (`--device=/dev/sda`).
        let path = match a.strip_prefix('-') {
            Some(option) => option.split_once('=').map_or("", |(_, v)| v),
            None => a,
        };
        is_block_device(path)
    });
    device
        && cmd.args.iter().any(|a| {
            let word = a.trim_start_matches('-');
            let word = word.split_once('=').map_or(word, |(w, _)| w);
            ERASE_WORDS.iter().any(|e| word.eq_ignore_ascii_case(e))
        })
}

/// True for a path naming a disk, partition or mapped volume.
pub(super) fn is_block_device(path: &str) -> bool {
    let Some(name) = path.strip_prefix("/dev/") else {
        return false;
    };
    [
        "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "md", "dm-", "mapper/", "disk/", "loop",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Flash writers and erasers (`flashrom -w`, `-E`), firmware updaters
/// installing an image.
fn rewrites_firmware(cmd: &SimpleCommand) -> bool {
    match cmd.program.as_str() {
        "flashrom" => cmd.args.iter().any(|a| {
            matches!(a.as_str(), "-w" | "--write" | "-E" | "--erase") || a.starts_with("--write=")
        }),
        "fwupdtool" | "fwupdmgr" => cmd.positional().next().is_some_and(|verb| {
            matches!(
                verb,
                "install" | "install-blob" | "reinstall" | "downgrade" | "update" | "switch-branch"
            )
        }),
        _ => false,
    }
}

/// Boot entries, boot order and boot loaders: `efibootmgr` changing
/// anything, `grub-install`, `bootctl install`, `mokutil --import`.
fn changes_boot(cmd: &SimpleCommand) -> bool {
    match cmd.program.as_str() {
        "efibootmgr" => cmd.args.iter().any(|a| {
            matches!(
                a.as_str(),
                "-B" | "--delete-bootnum"
                    | "-c"
                    | "--create"
                    | "-C"
                    | "--create-only"
                    | "-o"
                    | "--bootorder"
                    | "-O"
                    | "--delete-bootorder"
                    | "-n"
                    | "--bootnext"
                    | "-a"
                    | "--active"
                    | "-A"
                    | "--inactive"
                    | "-t"
                    | "--timeout"
            ) || a.starts_with("--bootorder=")
                || a.starts_with("--bootnext=")
        }),
        "grub-install" | "grub2-install" | "update-grub" | "grub-reboot" | "grub-set-default"
        | "grub2-set-default" => true,
        "bootctl" => cmd.positional().next().is_some_and(|verb| {
            matches!(
                verb,
                "install" | "update" | "remove" | "set-default" | "set-oneshot" | "unlink"
            )
        }),
        "mokutil" => cmd.args.iter().any(|a| {
            matches!(
                a.as_str(),
                "--import" | "--delete" | "--disable-validation" | "--reset" | "--set-verbosity"
            )
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell::split;

    fn facts(line: &str) -> Capabilities {
        let mut caps = Capabilities::default();
        for cmd in split(line) {
            machine_facts(&cmd, &mut caps);
        }
        caps
    }

    #[test]
    fn erasing_a_device_through_any_tool_destroys() {
        for line in [
            "nvme format /dev/nvme0n1",
            "nvme sanitize -a 2 /dev/nvme0",
            "hdparm --user-master u --security-erase p /dev/sda",
            "cryptsetup luksErase /dev/sda2",
            "cryptsetup -q luksFormat /dev/mapper/vg-data",
            "sg_format --format /dev/sdb",
            "flashrom -p internal -w bios.bin",
            "flashrom -p ch341a_spi -E",
            "fwupdmgr install firmware.cab",
        ] {
            assert!(facts(line).has(Capability::Destroys), "{line}");
        }
        for line in [
            "ruff format src",
            "dotnet format",
            "nvme list",
            "hdparm -I /dev/sda",
            "cryptsetup status /dev/mapper/x",
            "flashrom -p internal -r backup.bin",
            "smartctl -a /dev/sda",
        ] {
            assert!(!facts(line).has(Capability::Destroys), "{line}");
        }
    }

    #[test]
    fn changing_what_boots_persists() {
        for line in [
            "efibootmgr -b 0001 -B",
            "efibootmgr -o 0003,0001",
            "efibootmgr --create --disk /dev/sda --loader x.efi",
            "grub-install /dev/sda",
            "bootctl install",
            "mokutil --import key.der",
        ] {
            assert!(facts(line).has(Capability::Persists), "{line}");
        }
        for line in [
            "efibootmgr",
            "efibootmgr -v",
            "bootctl status",
            "mokutil --sb-state",
            "fwupdmgr get-devices",
        ] {
            let f = facts(line);
            assert!(
                !f.has(Capability::Persists) && !f.has(Capability::Destroys),
                "{line}"
            );
        }
    }
}
