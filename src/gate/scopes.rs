//! Scopes: `*`, exact (`read:tasks`), or a family wildcard (`read:*`), and
//! the route → required-scope map.

use std::collections::HashSet;
use std::path::Path;

use crate::config::ScopeRule;

/// The scopes a principal holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(HashSet<String>);

impl Scopes {
    /// Full access.
    pub fn all() -> Scopes {
        Scopes(HashSet::from(["*".to_owned()]))
    }

    /// Parses comma- or newline-separated scopes.
    pub fn parse(text: &str) -> Scopes {
        Scopes(
            text.split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty() && !s.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        )
    }

    /// From a list. An empty list grants nothing (the original registry
    /// read it as full access: a key meant to do nothing could approve).
    pub fn from_list(list: &[String]) -> Scopes {
        Scopes(
            list.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    /// Reads a scopes file; missing, unreadable or empty yields `None` (fail closed).
    pub fn from_file(path: &Path) -> Option<Scopes> {
        let scopes = Scopes::parse(&std::fs::read_to_string(path).ok()?);
        (!scopes.0.is_empty()).then_some(scopes)
    }

    /// True when these scopes grant `required`.
    pub fn allows(&self, required: &str) -> bool {
        if self.0.contains("*") || self.0.contains(required) {
            return true;
        }
        match required.split_once(':') {
            Some((family, _)) => self.0.contains(&format!("{family}:*")),
            None => false,
        }
    }

    /// Sorted, for display.
    pub fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.0.iter().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

/// Which plane a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// Proxied traffic.
    Data,
    /// The admin listener.
    Admin,
}

/// Route prefix → scope required for reads and for writes.
#[derive(Debug, Clone, Default)]
pub struct ScopeMap {
    data: Vec<ScopeRule>,
}

/// Scopes the admin plane requires (not configurable: the API is ours).
const ADMIN: &[(&str, &str, &str)] = &[
    ("/metrics", "read:metrics", "read:metrics"),
    ("/integrity", "read:integrity", "read:integrity"),
    ("/readyz", "read:integrity", "read:integrity"),
    ("/escalations", "escalations:read", "escalations:decide"),
    ("/ui", "escalations:read", "escalations:decide"),
    ("/reload", "admin:reload", "admin:reload"),
    ("/connectors", "connectors:read", "connectors:manage"),
];

impl ScopeMap {
    /// The data-plane rules from configuration.
    pub fn new(rules: &[ScopeRule]) -> ScopeMap {
        ScopeMap {
            data: rules.to_vec(),
        }
    }

    /// The scope a request needs, if any.
    pub fn required(&self, plane: Plane, method: &http::Method, path: &str) -> Option<String> {
        let read = matches!(*method, http::Method::GET | http::Method::HEAD);
        let under = |prefix: &str| {
            let prefix = prefix.trim_end_matches('/');
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        match plane {
            Plane::Data => self.data.iter().find(|r| under(&r.prefix)).and_then(|r| {
                if read {
                    r.read.clone()
                } else {
                    r.write.clone()
                }
            }),
            Plane::Admin => ADMIN
                .iter()
                .find(|(p, _, _)| under(p))
                .map(|(_, r, w)| (if read { *r } else { *w }).to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_families() {
        let s = Scopes::parse("read:*, write:reviews\nescalations:read");
        assert!(s.allows("read:tasks"));
        assert!(s.allows("write:reviews"));
        assert!(!s.allows("write:tasks"));
        assert!(Scopes::all().allows("anything:at_all"));
        let none = Scopes::from_list(&[]);
        assert!(
            !none.allows("escalations:decide"),
            "an empty list grants nothing"
        );
        assert!(!none.allows("read:tasks"));
    }

    #[test]
    fn route_scopes_by_method_class() {
        let map = ScopeMap::new(&crate::config::AuthSettings::default().scopes);
        let get = http::Method::GET;
        let post = http::Method::POST;
        assert_eq!(
            map.required(Plane::Data, &post, "/agent-adapter/intake")
                .as_deref(),
            Some("write:adapter")
        );
        assert_eq!(
            map.required(Plane::Data, &get, "/agent-adapter/actions")
                .as_deref(),
            Some("read:adapter")
        );
        assert_eq!(map.required(Plane::Data, &get, "/agent-adapterX"), None);
        assert_eq!(
            map.required(Plane::Admin, &post, "/escalations/1/approve")
                .as_deref(),
            Some("escalations:decide")
        );
        assert_eq!(
            map.required(Plane::Admin, &get, "/metrics").as_deref(),
            Some("read:metrics")
        );
    }
}
