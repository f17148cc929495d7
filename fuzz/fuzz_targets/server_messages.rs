//! A server message screened on its way to the agent (JSON-RPC kind,
//! listing filter): what passes is one line of strict JSON.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let listing = cpos::mcp::ListingFilter {
        connector: Arc::from("fuzz"),
        filter: Arc::new(cpos::mcp::ToolFilter::new(&[], &["get-env".into()]).unwrap()),
        pins: None,
        tape: None,
    };
    if let Ok(out) = cpos::mcp::downstream::screen(data, &listing) {
        assert!(!out.iter().any(|&b| b == b'\n' || b == b'\r'));
        let text = std::str::from_utf8(&out).unwrap();
        assert!(!text.contains(['\u{85}', '\u{2028}', '\u{2029}']));
        cpos::strict_json::parse(&out).expect("screened output is strict JSON");
    }
});
