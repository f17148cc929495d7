//! Round trips through a codec: data encoded and decoded again within one
//! action (`xxd "$F" | xxd -r`, `base64 f | base64 -d`, `uuencode | uudecode`)
//! reaches its destination unchanged, so the only thing the detour changes is
//! what a filter between the steps sees. A fact of the decoding command.

use super::{Capabilities, Capability};
use crate::policy::shell::SimpleCommand;

/// Marks every command that decodes what an earlier command of the same
/// action encoded with the same codec as [`Capability::Obfuscates`].
pub fn mark_round_trips(commands: &[SimpleCommand], caps: &mut [Capabilities]) {
    let mut encoded: u8 = 0;
    for (cmd, cap) in commands.iter().zip(caps) {
        let Some((codec, decodes)) = codec(cmd) else {
            continue;
        };
        if !decodes {
            encoded |= codec;
        } else if encoded & codec != 0 {
            cap.add(
                Capability::Obfuscates,
                "decodes what an earlier command encoded (a round trip that only disguises the data)",
            );
        }
    }
}

const BASE64: u8 = 1;
const BASE32: u8 = 2;
const HEX: u8 = 4;
const UU: u8 = 8;

/// The codec a command runs (a bit) and whether it decodes.
fn codec(cmd: &SimpleCommand) -> Option<(u8, bool)> {
    let args = &cmd.args;
    let short_has = |letter: char| {
        args.iter().any(|a| {
            a.len() > 1
                && a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].chars().all(|c| c.is_ascii_alphabetic())
                && a[1..].contains(letter)
        })
    };
    let decode_option = || short_has('d') || short_has('D') || args.iter().any(|a| a == "--decode");
    match cmd.program.as_str() {
        "base64" | "gbase64" => Some((BASE64, decode_option())),
        "base32" | "gbase32" => Some((BASE32, decode_option())),
        "basenc" => {
            let codec = if args.iter().any(|a| a.starts_with("--base32")) {
                BASE32
            } else if args.iter().any(|a| a == "--base16") {
                HEX
            } else {
                BASE64
            };
            Some((codec, decode_option()))
        }
        "xxd" => Some((HEX, short_has('r') || args.iter().any(|a| a == "-revert"))),
        "uuencode" => Some((UU, false)),
        "uudecode" => Some((UU, true)),
        "openssl"
            if args
                .iter()
                .any(|a| matches!(a.as_str(), "base64" | "-base64" | "-a")) =>
        {
            Some((BASE64, args.iter().any(|a| a == "-d")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shell::split;

    fn obfuscates(line: &str) -> bool {
        let commands = split(line);
        let mut caps = vec![Capabilities::default(); commands.len()];
        mark_round_trips(&commands, &mut caps);
        caps.iter().any(|c| c.has(Capability::Obfuscates))
    }

    #[test]
    fn a_codec_round_trip_is_found_on_the_decoding_side() {
        for line in [
            "xxd notes.txt | xxd -r",
            "echo DATA | xxd | xxd -r - out.bin",
            "base32 f | base32 --decode",
            "base64 -w0 f | base64 -d > g",
            "basenc --base64 f | basenc -d --base64",
            "uuencode f f | uudecode -o /dev/stdout",
            "openssl base64 -in f | openssl base64 -d",
            "F=$(base64 f); echo $F | base64 -di",
        ] {
            assert!(obfuscates(line), "{line}");
        }
    }

    #[test]
    fn encoding_or_decoding_alone_is_not_a_round_trip() {
        for line in [
            "base64 -d payload.b64 > payload.bin",
            "xxd -r dump.hex out.bin",
            "xxd build/app.bin | head",
            "base64 -w0 image.png",
            "base64 -d a.b64 | base64",
            "base32 f | base64 -d",
            "openssl enc -aes-256-cbc -d -in f",
        ] {
            assert!(!obfuscates(line), "{line}");
        }
    }
}
