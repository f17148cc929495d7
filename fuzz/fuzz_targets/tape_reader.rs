//! A tape line as the verifier reads it: never panics, and what verifies
//! is exactly what the writer would have written.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Ok(link) = cpos::tape::chain::parse_line(line) {
        let _ = cpos::tape::chain::check_link(Some(&link), &link);
    }
});
