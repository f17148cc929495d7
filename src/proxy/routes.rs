//! Path-prefix routing, resolved once at start-up.

use std::net::SocketAddr;
use std::sync::Arc;

use http::uri::{Authority, Scheme};

use super::pool::Http1Pool;
use super::UpstreamTarget;
use crate::config::{HostMode, InspectMode, Protocol, Route};
use crate::mcp::ToolFilter;
use crate::metrics::RouteName;

/// A route ready for the request path: parsed target, precomputed labels.
#[derive(Debug, Clone)]
pub struct ResolvedRoute {
    /// Route name (metrics label, tape connector).
    pub name: RouteName,
    /// Matched path prefix, without a trailing slash (`""` for `/`).
    prefix: String,
    /// Upstream scheme.
    pub scheme: Scheme,
    /// Upstream authority.
    pub authority: Authority,
    /// Path prepended to forwarded paths.
    pub base_path: String,
    /// Remove the prefix before forwarding.
    pub strip_prefix: bool,
    /// How `Host` is forwarded.
    pub host: HostMode,
    /// HTTP/2 prior knowledge to a cleartext upstream.
    pub http2: bool,
    /// Where the tool name sits in the path, for HTTP tool APIs.
    pub tool_path_prefix: Option<String>,
    /// Which bodies are read to classify.
    pub inspect: InspectMode,
    /// For MCP routes: the tools the agent may see and call.
    pub mcp: Option<Arc<ToolFilter>>,
    /// Idle connections, for a cleartext HTTP/1.1 upstream (the others use
    /// a pooled client shared by all routes).
    pub pool: Option<Arc<Http1Pool>>,
}

impl ResolvedRoute {
    /// True when `path` is under this route's prefix (segment boundary).
    fn matches(&self, path: &str) -> bool {
        match path.strip_prefix(self.prefix.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// The tool a request path names, when the route declares where tools sit.
    pub fn tool<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.tool_path_prefix.as_deref()?)?;
        rest.split('/').next().filter(|t| !t.is_empty())
    }

    /// The upstream path and query for a request path and query.
    pub fn upstream_path(&self, path: &str, query: Option<&str>) -> String {
        let path = if self.strip_prefix {
            &path[self.prefix.len().min(path.len())..]
        } else {
            path
        };
        let mut out = String::with_capacity(
            self.base_path.len() + path.len() + 1 + query.map_or(0, str::len),
        );
        out.push_str(&self.base_path);
        out.push_str(path);
        if out.is_empty() {
            out.push('/');
        }
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

/// Routes ordered longest prefix first.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Arc<ResolvedRoute>>,
}

impl RouteTable {
    /// Resolves configured routes; `demo` is the address of the built-in
    /// demo upstream, when one was started.
    pub fn build(routes: &[Route], demo: Option<SocketAddr>) -> Result<RouteTable, String> {
        let mut resolved = Vec::with_capacity(routes.len());
        for route in routes {
            let (scheme, authority, base_path) = match UpstreamTarget::parse(&route.upstream)? {
                UpstreamTarget::Url {
                    scheme,
                    authority,
                    base_path,
                } => (scheme, authority, base_path),
                UpstreamTarget::BuiltinDemo => {
                    let addr = demo.ok_or("builtin:demo upstream is not running")?;
                    let authority = addr
                        .to_string()
                        .parse()
                        .map_err(|e| format!("demo address: {e}"))?;
                    (Scheme::HTTP, authority, String::new())
                }
            };
            let pool = (scheme == Scheme::HTTP && !route.http2).then(Arc::default);
            resolved.push(Arc::new(ResolvedRoute {
                name: RouteName(Arc::from(route.name.as_str())),
                prefix: route.prefix.trim_end_matches('/').to_owned(),
                scheme,
                authority,
                base_path,
                strip_prefix: route.strip_prefix,
                host: route.host,
                http2: route.http2,
                tool_path_prefix: route.tool_path_prefix.clone(),
                inspect: route.inspect,
                mcp: match route.protocol {
                    Protocol::Http => None,
                    Protocol::Mcp => {
                        let mut filter = ToolFilter::new(&route.tools_allow, &route.tools_deny)
                            .map_err(|e| format!("route `{}`: {e}", route.name))?;
                        filter.requires_approval = route.requires_human_approval;
                        filter.active = route.enabled;
                        Some(Arc::new(filter))
                    }
                },
                pool,
            }));
        }
        resolved.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(RouteTable { routes: resolved })
    }

    /// The route serving `path`, if any.
    pub fn find(&self, path: &str) -> Option<&Arc<ResolvedRoute>> {
        self.routes.iter().find(|r| r.matches(path))
    }

    /// True when any route uses the built-in demo upstream.
    pub fn needs_demo(routes: &[Route]) -> bool {
        routes.iter().any(|r| r.upstream == "builtin:demo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, prefix: &str, upstream: &str, strip: bool) -> Route {
        Route {
            name: name.into(),
            prefix: prefix.into(),
            upstream: upstream.into(),
            strip_prefix: strip,
            host: HostMode::Preserve,
            http2: false,
            inspect: InspectMode::All,
            tool_path_prefix: Some("/tools/".into()),
            protocol: Protocol::Http,
            tools_allow: Vec::new(),
            tools_deny: Vec::new(),
            command: Vec::new(),
            env_secret_files: Default::default(),
            requires_human_approval: false,
            enabled: true,
        }
    }

    #[test]
    fn longest_prefix_on_segment_boundaries() {
        let table = RouteTable::build(
            &[
                route("root", "/", "http://127.0.0.1:1", false),
                route("api", "/api", "http://127.0.0.1:2/v1", true),
            ],
            None,
        )
        .unwrap();
        assert_eq!(&*table.find("/api/x").unwrap().name.0, "api");
        assert_eq!(&*table.find("/api").unwrap().name.0, "api");
        assert_eq!(&*table.find("/apix").unwrap().name.0, "root");
        let api = table.find("/api/x").unwrap();
        assert_eq!(api.upstream_path("/api/x", Some("a=1")), "/v1/x?a=1");
        assert_eq!(api.upstream_path("/api", None), "/v1");
        assert_eq!(
            table.find("/tools/run/x").unwrap().tool("/tools/run/x"),
            Some("run")
        );
        assert_eq!(table.find("/tools/").unwrap().tool("/tools/"), None);
    }

    #[test]
    fn no_route_without_a_root() {
        let table =
            RouteTable::build(&[route("api", "/api/", "http://127.0.0.1:2", false)], None).unwrap();
        assert!(table.find("/other").is_none());
        assert_eq!(
            table.find("/api/x").unwrap().upstream_path("/api/x", None),
            "/api/x"
        );
    }
}
