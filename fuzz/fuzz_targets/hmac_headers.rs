//! The HMAC headers: timestamp parsing and the canonical string over any
//! path and query never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str)| {
    let (timestamp, path, nonce) = input;
    let _ = cpos::gate::hmac_auth::parse_python_int(timestamp);
    if let Ok(request) = http::Request::get(path).body(()) {
        let (head, ()) = request.into_parts();
        let _ = cpos::gate::hmac_auth::canonical_string(&head, "", timestamp, nonce);
    }
});
