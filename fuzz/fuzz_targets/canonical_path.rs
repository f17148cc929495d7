//! The path canonicaliser: a canonical path is a fixed point.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|path: &str| {
    if let Ok(canonical) = cpos::canonical::canonical_path(path) {
        let again = cpos::canonical::canonical_path(&canonical).expect("canonical stays valid");
        assert_eq!(again, canonical);
    }
});
