//! Upstream URLs, parsed once at configuration load.

use http::uri::{Authority, Scheme};

/// Where a route forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTarget {
    /// A network upstream.
    Url {
        /// `http` or `https`.
        scheme: Scheme,
        /// `host:port`.
        authority: Authority,
        /// Path prepended to every forwarded path (`""` for none).
        base_path: String,
    },
    /// The in-process demo upstream (`builtin:demo`).
    BuiltinDemo,
}

impl UpstreamTarget {
    /// Parses `http://host:port[/base]`, `https://…` or `builtin:demo`.
    pub fn parse(text: &str) -> Result<UpstreamTarget, String> {
        if text == "builtin:demo" {
            return Ok(UpstreamTarget::BuiltinDemo);
        }
        let uri: http::Uri = text.parse().map_err(|e| {
            format!("`{text}` is not a URL ({e}); expected http://host:port or https://host:port")
        })?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::HTTP,
            Some("https") => Scheme::HTTPS,
            _ => {
                return Err(format!(
                    "`{text}` must start with http:// or https:// (or be builtin:demo)"
                ))
            }
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("`{text}` has no host"))?;
        if uri.query().is_some() {
            return Err(format!("`{text}` must not carry a query string"));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(UpstreamTarget::Url {
            scheme,
            authority,
            base_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_the_demo() {
        assert_eq!(
            UpstreamTarget::parse("builtin:demo"),
            Ok(UpstreamTarget::BuiltinDemo)
        );
        let UpstreamTarget::Url {
            base_path,
            authority,
            ..
        } = UpstreamTarget::parse("http://127.0.0.1:9000/base/").unwrap()
        else {
            panic!("expected a URL");
        };
        assert_eq!(base_path, "/base");
        assert_eq!(authority.as_str(), "127.0.0.1:9000");
        assert!(UpstreamTarget::parse("ftp://x").is_err());
        assert!(UpstreamTarget::parse("http://x/?q=1").is_err());
    }
}
