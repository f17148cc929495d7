//! IP allowlist: CIDRs and addresses, IPv4 and IPv6. An empty list with the
//! gate on refuses everyone (fail closed), unlike the original.

use std::net::IpAddr;

use http::StatusCode;
use ipnet::IpNet;

use super::client_ip::parse_nets;
use super::Refusal;
use crate::problem::Problem;

/// The allowlist gate.
#[derive(Debug, Clone)]
pub struct IpAllow {
    allow: Vec<IpNet>,
}

impl IpAllow {
    /// Parses the list; any invalid entry is a configuration error.
    pub fn new(entries: &[String]) -> Result<IpAllow, String> {
        Ok(IpAllow {
            allow: parse_nets(entries, "gates.ip_allow.allow")?,
        })
    }

    /// Passes allowed addresses; refuses others with 403 `ip_denied`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        Err(Refusal::new("ip_allow", denied()).with_client_ip(ip))
    }
}

/// The `ip_denied` problem.
pub fn denied() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "ip_denied",
        "your address is not in this sidecar's IP allowlist (gates.ip_allow.allow)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_and_ipv6_cidrs() {
        let gate = IpAllow::new(&["127.0.0.1".into(), "2001:db8::/32".into()]).unwrap();
        assert!(gate.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(gate.check("2001:db8:1::9".parse().unwrap()).is_ok());
        assert!(gate.check("127.0.0.2".parse().unwrap()).is_err());
        assert!(gate.check("::1".parse().unwrap()).is_err());
    }

    #[test]
    fn empty_list_refuses_all() {
        let gate = IpAllow::new(&[]).unwrap();
        assert!(gate.check("127.0.0.1".parse().unwrap()).is_err());
    }
}
