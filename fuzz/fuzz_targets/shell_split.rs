//! The shell splitter behind command classification never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    let _ = cpos::policy::shell::split(line);
});
