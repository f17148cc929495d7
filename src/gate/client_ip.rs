//! Who the client is, network-wise: the TCP peer, unless the peer is a
//! trusted proxy; then the forwarding header is walked from the right and the
//! first address that is not a trusted proxy wins. A spoofed left-most entry
//! therefore never does.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

use crate::config::ClientIpHeader;

/// Resolves client addresses.
#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
    header: ClientIpHeader,
}

/// The forwarding header held an entry that is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsable;

impl ClientIpResolver {
    /// Parses the trusted-proxy list; an invalid entry is an error naming it.
    pub fn new(trusted: &[String], header: ClientIpHeader) -> Result<ClientIpResolver, String> {
        let trusted = parse_nets(trusted, "gates.trusted_proxies")?;
        Ok(ClientIpResolver { trusted, header })
    }

    /// True when `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client address for a request from `peer`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> Result<IpAddr, Unparsable> {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return Ok(peer);
        }
        let entries: Vec<&str> = match self.header {
            ClientIpHeader::XForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect(),
            ClientIpHeader::Forwarded => headers
                .get_all(http::header::FORWARDED)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(forwarded_for)
                .collect(),
        };
        let mut leftmost = None;
        for entry in entries.iter().rev() {
            let ip = parse_node(entry).ok_or(Unparsable)?.to_canonical();
            if !self.is_trusted(ip) {
                return Ok(ip);
            }
            leftmost = Some(ip);
        }
        // Every hop is a trusted proxy (or there is no header): the last
        // trusted hop seen is the best knowledge, else the peer itself.
        Ok(leftmost.unwrap_or(peer))
    }
}

fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok()
}

/// Parses CIDRs and bare addresses (as /32 or /128); errors name the entry.
pub fn parse_nets(entries: &[String], key: &str) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let e = entry.trim();
            e.parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| format!("{key}[{i}] = `{entry}` is not an IP address or CIDR"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let r =
            ClientIpResolver::new(&["10.0.0.0/8".into()], ClientIpHeader::XForwardedFor).unwrap();
        let ip = r
            .resolve(
                "192.0.2.9".parse().unwrap(),
                &headers("x-forwarded-for", "127.0.0.1"),
            )
            .unwrap();
        assert_eq!(ip, "192.0.2.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn spoofed_leftmost_entries_never_win() {
        let r =
            ClientIpResolver::new(&["10.0.0.0/8".into()], ClientIpHeader::XForwardedFor).unwrap();
        let h = headers("x-forwarded-for", "127.0.0.1, 198.51.100.7, 10.0.0.2");
        let ip = r.resolve("10.0.0.1".parse().unwrap(), &h).unwrap();
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_header_and_ipv6_with_ports() {
        let r = ClientIpResolver::new(&["::1/128".into()], ClientIpHeader::Forwarded).unwrap();
        let h = headers(
            "forwarded",
            "for=192.0.2.1, for=\"[2001:db8::5]:4711\";proto=https",
        );
        let ip = r.resolve("::1".parse().unwrap(), &h).unwrap();
        assert_eq!(ip, "2001:db8::5".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_is_unparsable() {
        let r =
            ClientIpResolver::new(&["127.0.0.1".into()], ClientIpHeader::XForwardedFor).unwrap();
        let h = headers("x-forwarded-for", "unknown");
        assert_eq!(r.resolve("127.0.0.1".parse().unwrap(), &h), Err(Unparsable));
    }

    #[test]
    fn invalid_entries_are_config_errors() {
        let err = parse_nets(&["10.0.0.0/8".into(), "10.0.0.300".into()], "x").unwrap_err();
        assert!(err.contains("x[1]"), "{err}");
    }
}
