//! Round trips through a codec: data encoded and decoded again within one
//! action (`xxd "$F" | xxd -r`, `base64 f | base64 -d`, `gzip -c f | gzip -d`,
//! `rev f | rev`) reaches its destination unchanged, so the only thing the
//! detour changes is what a filter between the steps sees. A fact of the
//! decoding command.

use super::{Capabilities, Capability};
use crate::policy::shell::SimpleCommand;

/// Marks every command that decodes what an earlier command of the same
/// action encoded with the same codec as [`Capability::Obfuscates`].
pub fn mark_round_trips(commands: &[SimpleCommand], caps: &mut [Capabilities]) {
    let mut encoded: u16 = 0;
    for (cmd, cap) in commands.iter().zip(caps) {
        let Some((codec, step)) = codec(cmd) else {
            continue;
        };
        // A program that is its own inverse (`rev`, `tac`) decodes the
        // second time it runs.
        let decodes = match step {
            Step::Encode => false,
            Step::Decode => true,
            Step::Either => encoded & codec != 0,
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

const BASE64: u16 = 1;
const BASE32: u16 = 1 << 1;
const HEX: u16 = 1 << 2;
const UU: u16 = 1 << 3;
const BASE58: u16 = 1 << 4;
const ASCII85: u16 = 1 << 5;
const GZIP: u16 = 1 << 6;
const BZIP2: u16 = 1 << 7;
const XZ: u16 = 1 << 8;
const ZSTD: u16 = 1 << 9;
const LZ4: u16 = 1 << 10;
const SEVEN_ZIP: u16 = 1 << 11;
const REVERSE: u16 = 1 << 12;
const LINES_REVERSED: u16 = 1 << 13;
const OTHER_TEXT: u16 = 1 << 14;

/// Which way a command runs its codec.
#[derive(Clone, Copy)]
enum Step {
    Encode,
    Decode,
    /// A program that is its own inverse.
    Either,
}

/// The codec a command runs (a bit) and which way.
fn codec(cmd: &SimpleCommand) -> Option<(u16, Step)> {
    let args = &cmd.args;
    let short_has = |letter: char| {
        args.iter().any(|a| {
            a.len() > 1
                && a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].chars().all(|c| c.is_ascii_alphanumeric())
                && a[1..].contains(letter)
        })
    };
    let long_has = |names: &[&str]| args.iter().any(|a| names.contains(&a.as_str()));
    let by = |decodes: bool| {
        if decodes {
            Step::Decode
        } else {
            Step::Encode
        }
    };
    let text_decode = || by(short_has('d') || short_has('D') || long_has(&["--decode"]));
    let unpack = || by(short_has('d') || long_has(&["--decompress", "--uncompress"]));
    let program = cmd.program.as_str();
    let found = match program {
        "base64" | "gbase64" => (BASE64, text_decode()),
        "base32" | "gbase32" => (BASE32, text_decode()),
        "basenc" => {
            let codec = if args.iter().any(|a| a.starts_with("--base32")) {
                BASE32
            } else if long_has(&["--base16"]) {
                HEX
            } else {
                BASE64
            };
            (codec, text_decode())
        }
        "base58" => (BASE58, text_decode()),
        "ascii85" | "base85" => (ASCII85, text_decode()),
        "basez" | "base62" | "base91" | "base45" => (OTHER_TEXT, text_decode()),
        "xxd" => (HEX, by(short_has('r') || long_has(&["-revert"]))),
        "uuencode" => (UU, Step::Encode),
        "uudecode" => (UU, Step::Decode),
        "openssl" if long_has(&["base64", "-base64", "-a"]) => (BASE64, by(long_has(&["-d"]))),
        "gzip" | "pigz" => (GZIP, unpack()),
        "gunzip" | "zcat" | "unpigz" => (GZIP, Step::Decode),
        "bzip2" | "pbzip2" => (BZIP2, unpack()),
        "bunzip2" | "bzcat" => (BZIP2, Step::Decode),
        "xz" | "lzma" => (XZ, unpack()),
        "unxz" | "xzcat" | "unlzma" | "lzcat" => (XZ, Step::Decode),
        "zstd" => (ZSTD, unpack()),
        "unzstd" | "zstdcat" => (ZSTD, Step::Decode),
        "lz4" => (LZ4, unpack()),
        "unlz4" | "lz4cat" => (LZ4, Step::Decode),
        // An archive written to standard output and read back from
        // standard input (`7z a -so … | 7z e -si -so`).
        "7z" | "7za" | "7zr" => match args.first().map(String::as_str) {
            Some("a") if long_has(&["-so"]) => (SEVEN_ZIP, Step::Encode),
            Some("e" | "x") if long_has(&["-si"]) => (SEVEN_ZIP, Step::Decode),
            _ => return None,
        },
        "rev" => (REVERSE, Step::Either),
        "tac" => (LINES_REVERSED, Step::Either),
        _ => return None,
    };
    Some(found)
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
            "gzip -c notes.txt | gzip -d",
            "bzip2 -c f | bunzip2",
            "xz -c f | xzcat",
            "base58 f | base58 --decode",
            "rev f | rev",
            "7z a -ttar -an -so f | 7z e -ttar -si -so",
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
            "gzip -dc logs.gz | grep ERROR",
            "zcat a.gz | gzip > b.gz",
            "tar cf - src | tar xf - -C /tmp/copy",
            "rev names.txt | sort",
            "tac app.log | rev",
            "7z x archive.7z",
        ] {
            assert!(!obfuscates(line), "{line}");
        }
    }
}
