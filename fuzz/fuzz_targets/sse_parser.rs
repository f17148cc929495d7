//! An upstream event stream: splitting always makes progress and never
//! panics, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for eof in [false, true] {
        let mut rest = data;
        while let Some((len, lines)) = cpos::mcp::sse::split_event(rest, eof) {
            assert!(len > 0 && len <= rest.len());
            let _ = cpos::mcp::sse::parse_event(&lines);
            rest = &rest[len..];
        }
    }
});
