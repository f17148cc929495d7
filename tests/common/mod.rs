//! Shared test fixtures: the real `cpos` binary on ephemeral loopback ports,
//! a real hyper upstream, and real HTTP/1.1, h2c and TLS clients.
#![allow(dead_code)]

pub mod mcp;
pub mod redis;
pub mod upstream;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A `cpos serve` child process.
pub struct Sidecar {
    pub child: Child,
    pub data: SocketAddr,
    pub admin: SocketAddr,
    /// The health listener, when `listen.health` is set.
    pub health: Option<SocketAddr>,
    pub dir: PathBuf,
}

impl Sidecar {
    /// Starts `cpos serve` with `extra` TOML appended to a config that binds
    /// ephemeral loopback ports and keeps the tape in `dir/tape`.
    pub fn start(dir: &Path, extra: &str) -> Sidecar {
        Self::start_with(dir, extra, &[])
    }

    /// Like [`Sidecar::start`] with extra environment variables.
    pub fn start_with(dir: &Path, extra: &str, env: &[(&str, &str)]) -> Sidecar {
        Self::spawn(dir, extra, env, None)
    }

    /// Like [`Sidecar::start`], run by `sh -c "<prelude>; exec cpos serve …"`
    /// (resource limits, ignored signals).
    pub fn start_under(dir: &Path, extra: &str, prelude: &str) -> Sidecar {
        Self::spawn(dir, extra, &[], Some(prelude))
    }

    fn spawn(dir: &Path, extra: &str, env: &[(&str, &str)], prelude: Option<&str>) -> Sidecar {
        let config = dir.join("cpos.toml");
        std::fs::write(
            &config,
            format!(
                // fsync "always": a record is on disk before its answer, so
                // tests can read the tape right after a response.
                "[listen]\ndata = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n[tape]\ndir = \"{}\"\nfsync = \"always\"\n\n{extra}\n",
                dir.join("tape").display()
            ),
        )
        .unwrap();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut command = match prelude {
            None => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_cpos"));
                c.arg("serve").arg("--config").arg(&config);
                c
            }
            Some(prelude) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!(
                    "{prelude}; exec {} serve --config {}",
                    env!("CARGO_BIN_EXE_cpos"),
                    config.display()
                ));
                c
            }
        };
        // State the config leaves relative lives under `dir/cpos`, never in
        // the real per-user data directory.
        command
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .env("RUST_LOG", "info")
            .env("XDG_DATA_HOME", dir);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn cpos");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.is_empty() {
            let _ = child.wait();
            panic!(
                "cpos serve exited before listening:\n{}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            );
        }
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
        Sidecar {
            child,
            data: ready["data"].as_str().unwrap().parse().unwrap(),
            admin: ready["admin"].as_str().unwrap().parse().unwrap(),
            health: ready["health"].as_str().map(|a| a.parse().unwrap()),
            dir: dir.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.data)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Sends SIGTERM and waits for exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        signal(self.child.id(), "TERM");
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// SIGKILL, no chance to flush.
    pub fn kill9(&mut self) {
        signal(self.child.id(), "KILL");
        let _ = self.child.wait();
    }

    /// Every tape record, parsed.
    pub fn tape(&self) -> Vec<serde_json::Value> {
        tape_records(&self.dir.join("tape"))
    }

    /// The `request` records (one per answered request), each joined with
    /// its write-ahead `decision` record (which holds the action, principal
    /// and verdict when the call ran; the outcome record then holds only the
    /// outcome).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let tape = self.tape();
        let decisions: std::collections::HashMap<String, serde_json::Value> = tape
            .iter()
            .filter(|r| r["event"] == "decision")
            .filter_map(|r| Some((r["request_id"].as_str()?.to_owned(), r.clone())))
            .collect();
        tape.into_iter()
            .filter(|r| r["event"] == "request")
            .map(|mut r| {
                let ahead = r["request_id"].as_str().and_then(|id| decisions.get(id));
                if let (Some(ahead), Some(map)) = (ahead, r.as_object_mut()) {
                    for key in [
                        "action",
                        "principal",
                        "audit",
                        "state",
                        "risk",
                        "route",
                        "reasons",
                    ] {
                        if let Some(v) = ahead.get(key) {
                            map.entry(key).or_insert_with(|| v.clone());
                        }
                    }
                }
                r
            })
            .collect()
    }

    pub fn tape_text(&self) -> String {
        let mut text = String::new();
        let mut files: Vec<_> = std::fs::read_dir(self.dir.join("tape"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            text.push_str(&std::fs::read_to_string(f).unwrap());
        }
        text
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, sig: &str) {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

pub fn tape_records(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs the `cpos` binary with arguments; returns (exit code, stdout, stderr).
pub fn cpos(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cpos"))
        .args(args)
        .current_dir(dir)
        .env("XDG_DATA_HOME", dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

/// An HTTP/1.1 client.
pub fn http1() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// An h2c (prior knowledge) client.
pub fn h2c() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new())
}

/// A collected response.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

pub async fn collect<B>(response: Response<B>) -> Answer
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let status = response.status().as_u16();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
        version,
    }
}

pub async fn get(client: &TestClient, url: &str) -> Answer {
    let req = Request::get(url).body(Full::default()).unwrap();
    collect(client.request(req).await.unwrap()).await
}

pub async fn post_json(client: &TestClient, url: &str, body: &str) -> Answer {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    collect(client.request(req).await.unwrap()).await
}

/// A test PKI made with rcgen: a CA and a server certificate for 127.0.0.1.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: rustls_pki_types::CertificateDer<'static>,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub ca_file: PathBuf,
}

pub fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cpos test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, &issuer).unwrap();
    let server_cert = dir.join("server.pem");
    let server_key = dir.join("server.key");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&server_cert, cert.pem()).unwrap();
    std::fs::write(&server_key, key.serialize_pem()).unwrap();
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_cert,
        server_key,
        ca_file,
    }
}

/// Opens a TLS connection offering `alpn` and speaks HTTP over it; returns
/// the answer and the negotiated ALPN protocol.
pub async fn tls_request(
    addr: SocketAddr,
    ca: &rustls_pki_types::CertificateDer<'static>,
    alpn: &[&[u8]],
    req: Request<Full<Bytes>>,
) -> (Answer, Option<Vec<u8>>) {
    let tls = tls_connect(addr, ca, alpn).await;
    let negotiated = tls.get_ref().1.alpn_protocol().map(|p| p.to_vec());
    let io = TokioIo::new(tls);
    let answer = if negotiated.as_deref() == Some(b"h2") {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        tokio::spawn(conn);
        collect(sender.send_request(req).await.unwrap()).await
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        collect(sender.send_request(req).await.unwrap()).await
    };
    (answer, negotiated)
}

/// Opens a TLS connection to `addr` trusting `ca`, offering `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    ca: &rustls_pki_types::CertificateDer<'static>,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

pub fn wait_for<F: FnMut() -> bool>(what: &str, mut f: F) {
    for _ in 0..200 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for {what}");
}
