//! The client address behind trusted proxies, from any forwarding header.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|header: &[u8]| {
    let Ok(value) = http::HeaderValue::from_bytes(header) else {
        return;
    };
    for kind in [
        cpos::config::ClientIpHeader::XForwardedFor,
        cpos::config::ClientIpHeader::Forwarded,
    ] {
        let resolver =
            cpos::gate::client_ip::ClientIpResolver::new(&["127.0.0.0/8".into()], kind).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", value.clone());
        headers.insert(http::header::FORWARDED, value.clone());
        let _ = resolver.resolve("127.0.0.1".parse().unwrap(), &headers);
    }
});
