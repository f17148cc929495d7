//! Proxy header hygiene: hop-by-hop removal and `X-Forwarded-*` / `Forwarded`.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The headers that describe one hop and never cross a proxy (RFC 9110
/// §7.6.1) and `Upgrade`; `Proxy-*` names go too.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including every header the `Connection`
/// header names, `Upgrade` and `Proxy-*`. Nothing is allocated for the
/// usual case, a `Connection` header that lists only `keep-alive` or
/// `close`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: which fixed ones are present.
    let mut present = 0u8;
    let mut proxy = false;
    for name in headers.keys() {
        match HOP_BY_HOP.iter().position(|h| *h == name.as_str()) {
            Some(i) => present |= 1 << i,
            None => proxy |= name.as_str().starts_with("proxy-"),
        }
    }
    if present == 0 && !proxy {
        return;
    }
    // What `Connection` lists besides `close` and the fixed names.
    let mut doomed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| {
            !n.eq_ignore_ascii_case("close")
                && !HOP_BY_HOP.iter().any(|h| n.eq_ignore_ascii_case(h))
        })
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect();
    if proxy {
        doomed.extend(
            headers
                .keys()
                .filter(|k| k.as_str().starts_with("proxy-"))
                .cloned(),
        );
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(*name);
        }
    }
    for name in doomed {
        headers.remove(name);
    }
}

/// Removes what a client that is not a trusted proxy may not say about
/// where the request came from; the sidecar then writes its own.
pub fn strip_untrusted_forwarding(headers: &mut HeaderMap) {
    let forwarding = [
        &X_FORWARDED_FOR,
        &X_FORWARDED_HOST,
        &X_FORWARDED_PROTO,
        &X_REAL_IP,
        &header::FORWARDED,
    ];
    // Most requests carry none: one pass over the names present instead of
    // five hashed lookups.
    if !headers.keys().any(|k| forwarding.contains(&k)) {
        return;
    }
    for name in forwarding {
        headers.remove(name);
    }
}

/// Removes every `X-CPOS-*` header: they speak for the sidecar, never the client.
pub fn strip_cpos_headers(headers: &mut HeaderMap) {
    if !headers.keys().any(|k| k.as_str().starts_with("x-cpos-")) {
        return;
    }
    let ours: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-cpos-"))
        .cloned()
        .collect();
    for name in ours {
        headers.remove(name);
    }
}

static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Appends this hop to `X-Forwarded-For` and `Forwarded`, and sets
/// `X-Forwarded-Proto` / `X-Forwarded-Host` to what the client used.
/// `peer_text` is `peer` as text (formatted once per connection).
pub fn add_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    peer_text: &str,
    proto: &'static str,
    host: Option<&HeaderValue>,
) {
    // Built in place: one buffer per header, no intermediate strings.
    let mut xff = String::with_capacity(48);
    if let Some(existing) = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        if !existing.trim().is_empty() {
            xff.push_str(existing);
            xff.push_str(", ");
        }
    }
    xff.push_str(peer_text);
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(X_FORWARDED_FOR.clone(), v);
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    let mut forwarded = String::with_capacity(64);
    if let Some(existing) = headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()) {
        if !existing.trim().is_empty() {
            forwarded.push_str(existing);
            forwarded.push_str(", ");
        }
    }
    let quoted = peer.is_ipv6();
    forwarded.push_str(if quoted { "for=\"[" } else { "for=" });
    forwarded.push_str(peer_text);
    forwarded.push_str(if quoted { "]\";proto=" } else { ";proto=" });
    forwarded.push_str(proto);
    if let Some((value, host)) = host.and_then(|h| Some((h, h.to_str().ok()?))) {
        if !headers.contains_key(&X_FORWARDED_HOST) {
            headers.insert(X_FORWARDED_HOST.clone(), value.clone());
        }
        if host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            forwarded.push_str(";host=\"");
            forwarded.push_str(host);
            forwarded.push('"');
        }
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert(header::FORWARDED, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_connection_named_and_fixed_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, Keep-Alive, X-Secret-Hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert("proxy-authorization", HeaderValue::from_static("Basic x"));
        h.insert("proxy-foo", HeaderValue::from_static("1"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-keep"));
    }

    #[test]
    fn strips_the_usual_keep_alive_pair_and_a_lone_proxy_header() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        let mut h = HeaderMap::new();
        h.insert("proxy-authorization", HeaderValue::from_static("Basic x"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-keep"));
    }

    #[test]
    fn strips_each_forwarding_header_an_untrusted_client_sends() {
        for name in [
            "x-forwarded-for",
            "X-Forwarded-Host",
            "x-forwarded-proto",
            "X-Real-IP",
            "forwarded",
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-keep", HeaderValue::from_static("1"));
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("10.0.0.1"),
            );
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("10.0.0.2"),
            );
            strip_untrusted_forwarding(&mut h);
            assert_eq!(h.len(), 1, "{name}: {h:?}");
            assert!(h.contains_key("x-keep"));
        }
    }

    #[test]
    fn appends_forwarding_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let host = HeaderValue::from_static("example.test:8080");
        add_forwarded(&mut h, "::1".parse().unwrap(), "::1", "https", Some(&host));
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, ::1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "example.test:8080");
        assert_eq!(
            h["forwarded"],
            "for=\"[::1]\";proto=https;host=\"example.test:8080\""
        );
    }
}
