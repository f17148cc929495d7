//! The upstream clients and the forward step: it rewrites the request for
//! the upstream, bounds the wait for response headers, and hands the
//! response body back as a stream. Cleartext HTTP/1.1 upstreams use the
//! route's own connection pool (`pool.rs`); TLS and h2c upstreams use
//! hyper-util's pooled client.

use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::headers::{add_forwarded, strip_hop_by_hop};
use super::pool::{self, Http1Pool, Limits, PooledBody};
use super::{BoxError, ProxyBody, ResolvedRoute};
use crate::config::{HostMode, UpstreamSettings};
use crate::problem::Problem;

type HyperClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Pooled clients for HTTP/1.1 (+ALPN h2 over TLS) and h2c upstreams.
#[derive(Clone)]
pub struct UpstreamClient {
    http: HyperClient,
    h2c: HyperClient,
    response_timeout: Duration,
    connect_timeout: Duration,
    limits: Limits,
}

/// Why forwarding failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The upstream did not answer with headers in time.
    #[error("upstream did not respond within {0:?}")]
    Timeout(Duration),
    /// The upstream could not be connected to.
    #[error("could not connect to the upstream: {0}")]
    Connect(String),
    /// The exchange failed after connecting.
    #[error("upstream exchange failed: {0}")]
    Exchange(String),
    /// The request could not be expressed for the upstream.
    #[error("request could not be forwarded: {0}")]
    BadRequest(String),
}

impl ForwardError {
    /// The client-facing problem for this failure.
    pub fn problem(&self, route: &ResolvedRoute) -> Problem {
        let upstream = format!("{}://{}", route.scheme, route.authority);
        match self {
            ForwardError::Timeout(t) => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!(
                    "upstream `{}` ({upstream}) sent no response headers within {} ms; \
                     check its health or raise upstream.response_timeout_ms",
                    route.name.0,
                    t.as_millis()
                ),
            ),
            ForwardError::Connect(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                format!(
                    "upstream `{}` ({upstream}) refused or did not accept the connection; \
                     check that it is running and reachable",
                    route.name.0
                ),
            ),
            ForwardError::Exchange(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!(
                    "upstream `{}` ({upstream}) closed the connection or sent an invalid response",
                    route.name.0
                ),
            ),
            ForwardError::BadRequest(why) => Problem::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("request cannot be forwarded: {why}"),
            ),
        }
    }
}

impl UpstreamClient {
    /// Builds the pools; `ca_file` adds roots for private upstream CAs.
    pub fn new(settings: &UpstreamSettings) -> Result<UpstreamClient, String> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &settings.ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("upstream.ca_file {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("upstream.ca_file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("upstream.ca_file {}: {e}", path.display()))?;
            }
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let build = |h2_only: bool| {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            http.set_connect_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)));
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http);
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_millis(settings.pool_idle_timeout_ms))
                .pool_max_idle_per_host(settings.pool_max_idle_per_host)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .http2_only(h2_only)
                .build(connector)
        };
        Ok(UpstreamClient {
            http: build(false),
            h2c: build(true),
            response_timeout: Duration::from_millis(settings.response_timeout_ms),
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
            limits: Limits {
                max_idle: settings.pool_max_idle_per_host,
                idle_timeout: Duration::from_millis(settings.pool_idle_timeout_ms),
            },
        })
    }

    /// Sends `req` to the route's upstream and returns the streamed response
    /// with hop-by-hop headers removed.
    ///
    /// `_recorded` is the tape's receipt for the decision to forward: a
    /// request cannot reach an upstream without its record on the tape.
    pub async fn forward(
        &self,
        route: &ResolvedRoute,
        conn: &crate::server::ConnInfo,
        mut req: Request<ProxyBody>,
        _recorded: &crate::tape::Recorded,
    ) -> Result<Response<ProxyBody>, ForwardError> {
        let host = req.headers().get(header::HOST).cloned().or_else(|| {
            req.uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let path = route.upstream_path(req.uri().path(), req.uri().query());
        *req.version_mut() = if route.http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        let headers = req.headers_mut();
        strip_hop_by_hop(headers);
        add_forwarded(
            headers,
            conn.peer.ip(),
            &conn.peer_ip,
            conn.proto(),
            host.as_ref(),
        );
        match (route.host, host) {
            (HostMode::Preserve, Some(host)) if !route.http2 => {
                headers.insert(header::HOST, host);
            }
            _ => {
                headers.remove(header::HOST);
            }
        }
        let exchange = async {
            match &route.pool {
                Some(pool) => {
                    // Origin-form, with the `Host` a pooled client would add.
                    *req.uri_mut() =
                        Uri::try_from(path).map_err(|e| ForwardError::BadRequest(e.to_string()))?;
                    if !req.headers().contains_key(header::HOST) {
                        let value = HeaderValue::from_str(route.authority.as_str())
                            .map_err(|e| ForwardError::BadRequest(e.to_string()))?;
                        req.headers_mut().insert(header::HOST, value);
                    }
                    self.send_pooled(route, pool, req).await
                }
                None => {
                    *req.uri_mut() = Uri::builder()
                        .scheme(route.scheme.clone())
                        .authority(route.authority.clone())
                        .path_and_query(path)
                        .build()
                        .map_err(|e| ForwardError::BadRequest(e.to_string()))?;
                    self.send_hyper_util(route, req).await
                }
            }
        };
        let response = tokio::time::timeout(self.response_timeout, exchange)
            .await
            .map_err(|_| ForwardError::Timeout(self.response_timeout))??;
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    }

    /// Sends on an idle connection of the route's pool, or a new one. A
    /// request that an idle connection closed under before taking it is
    /// sent again, on the next idle connection or a new one.
    async fn send_pooled(
        &self,
        route: &ResolvedRoute,
        pool: &std::sync::Arc<Http1Pool>,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, ForwardError> {
        loop {
            let (mut sender, reused) = match pool.checkout(self.limits) {
                Some(sender) => (sender, true),
                None => {
                    let sender = pool::connect(&route.authority, self.connect_timeout)
                        .await
                        .map_err(|e| ForwardError::Connect(e.to_string()))?;
                    (sender, false)
                }
            };
            if let Err(e) = sender.ready().await {
                if reused {
                    continue;
                }
                return Err(ForwardError::Exchange(error_chain(&e)));
            }
            match sender.try_send_request(req).await {
                Ok(response) => {
                    let limits = self.limits;
                    return Ok(response
                        .map(|body| PooledBody::new(body, sender, pool.clone(), limits))
                        .map(|body| body.map_err(BoxError::from).boxed()));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(ForwardError::Exchange(error_chain(&e.into_error()))),
                },
            }
        }
    }

    /// Sends through hyper-util's pooled client (TLS and h2c upstreams).
    async fn send_hyper_util(
        &self,
        route: &ResolvedRoute,
        req: Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, ForwardError> {
        let client = if route.http2 { &self.h2c } else { &self.http };
        let response = client.request(req).await.map_err(|e| {
            if e.is_connect() {
                ForwardError::Connect(error_chain(&e))
            } else {
                ForwardError::Exchange(error_chain(&e))
            }
        })?;
        Ok(response.map(|body| body.map_err(BoxError::from).boxed()))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
