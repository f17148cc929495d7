//! A small client for CPOS-signed requests (used by the tests, `cpos sign`
//! and anyone embedding the crate).

use std::io::Read;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

use crate::gate::hmac_auth::{self, AGENT_ID, KEY_ID, NONCE, SIGNATURE, TIMESTAMP};

/// A signing identity.
#[derive(Clone)]
pub struct SigningKey {
    /// `X-CPOS-Key-Id`.
    pub key_id: String,
    /// The shared secret.
    pub secret: Vec<u8>,
    /// `X-Agent-Id`, when the caller speaks for an agent.
    pub agent_id: Option<String>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// A fresh 128-bit nonce (hex) from the OS's random source.
pub fn fresh_nonce() -> String {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !filled {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    hex::encode(bytes)
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The four (or five) signature headers for a request.
pub fn signature_headers(
    key: &SigningKey,
    method: &Method,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let uri: http::Uri = path_and_query
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let (mut head, ()) = Request::new(()).into_parts();
    head.method = method.clone();
    head.uri = uri;
    let ts = timestamp.to_string();
    let body_sha = hex::encode(Sha256::digest(body));
    let canonical = hmac_auth::canonical_string(&head, &body_sha, &ts, nonce);
    let mut headers = vec![
        (KEY_ID, key.key_id.clone()),
        (TIMESTAMP, ts),
        (NONCE, nonce.to_owned()),
        (SIGNATURE, hmac_auth::sign(&key.secret, &canonical)),
    ];
    if let Some(agent) = &key.agent_id {
        headers.push((AGENT_ID, agent.clone()));
    }
    headers
}

/// An HTTP/1.1 client that signs every request when it has a key.
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
    key: Option<SigningKey>,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7878`).
    pub fn new(base: impl Into<String>, key: Option<SigningKey>) -> Client {
        Client {
            http: HyperClient::builder(TokioExecutor::new()).build(HttpConnector::new()),
            base: base.into().trim_end_matches('/').to_owned(),
            key,
        }
    }

    /// Sends a request; `path` may carry a query string, which is signed as written.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
        extra: &[(&str, &str)],
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let body = body.into();
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        if let Some(key) = &self.key {
            for (name, value) in
                signature_headers(key, &method, path, &body, unix_now(), &fresh_nonce())
            {
                builder = builder.header(name, value);
            }
        }
        let mut req = builder.body(Full::new(body)).unwrap_or_default();
        for (name, value) in extra {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                req.headers_mut().insert(name, value);
            }
        }
        self.http.request(req).await
    }
}
