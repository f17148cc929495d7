//! Running where users run it: probes on a health listener that needs no
//! signature while the admin plane stays authenticated, a start that fails
//! leaves no file behind, and the manifests in `deploy/` agree with the
//! configuration they carry.

mod common;

use std::path::{Path, PathBuf};

use common::{get, http1, Sidecar};

#[tokio::test(flavor = "multi_thread")]
async fn probes_reach_the_health_listener_while_the_admin_plane_needs_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("hmac.secret");
    std::fs::write(&secret, "a-long-enough-shared-secret-for-tests").unwrap();
    let sidecar = Sidecar::start_with(
        dir.path(),
        &format!(
            "[gates.auth]\nmode = \"hmac\"\nhmac_secret_file = \"{}\"\n",
            secret.display()
        ),
        &[("CPOS_LISTEN__HEALTH", "127.0.0.1:0")],
    );
    let health = sidecar
        .health
        .expect("the ready line names the health listener");
    let probe = |path: &str| format!("http://{health}{path}");
    assert_eq!(get(&http1(), &probe("/healthz")).await.status, 200);
    let ready = get(&http1(), &probe("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["ok"], true);
    // Nothing else is served there, and nothing can be changed.
    assert_eq!(get(&http1(), &probe("/metrics")).await.status, 404);
    assert_eq!(get(&http1(), &probe("/escalations")).await.status, 404);
    let post = common::post_json(&http1(), &probe("/reload"), "{}").await;
    assert_eq!(post.status, 404);
    // The admin plane still wants a signature for readiness and the rest.
    let admin = get(&http1(), &sidecar.admin_url("/readyz")).await;
    assert_eq!(admin.status, 401, "{:?}", admin.json());
    let reload = common::post_json(&http1(), &sidecar.admin_url("/reload"), "{}").await;
    assert_eq!(reload.status, 401);
}

#[test]
fn a_start_that_fails_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = dir.path().join("cpos.toml");
    std::fs::write(
        &config,
        format!(
            "[listen]\ndata = \"{}\"\nadmin = \"127.0.0.1:0\"\n\n[tape]\ndir = \"{}\"\n\n[escalation]\nstore_file = \"{}\"\n",
            taken.local_addr().unwrap(),
            dir.path().join("data/tape").display(),
            dir.path().join("data/escalations.jsonl").display(),
        ),
    )
    .unwrap();
    let (code, _, err) = common::cpos(&["serve", "--config", config.to_str().unwrap()], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("listen.data"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "a failed start wrote {:?}",
        walk(&dir.path().join("data"))
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Client certificates for the nginx test: a client CA and two leaves.
struct ClientCerts {
    ca: PathBuf,
    pinned: (PathBuf, PathBuf, String),
    other: (PathBuf, PathBuf),
}

fn client_certs(dir: &Path) -> ClientCerts {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use sha2::{Digest, Sha256};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cpos test client CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![format!("{name}.agents.test")]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("agent {name}"));
        let cert = params.signed_by(&key, &issuer).unwrap();
        let (pem, key_file) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&pem, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (pem, key_file, hex::encode(Sha256::digest(cert.der())))
    };
    let ca_file = dir.join("clients-ca.pem");

    std::fs::write(&ca_file, ca.pem()).unwrap();
    let pinned = leaf("pinned");
    let other = leaf("other");
    ClientCerts {
        ca: ca_file,
        pinned,
        other: (other.0, other.1),
    }
}

/// The shipped nginx front, with its paths and ports pointed at this test;
/// each replaced line must be in the shipped file, so the two cannot drift.
fn nginx_conf(
    dir: &Path,
    port: u16,
    cpos: std::net::SocketAddr,
    server: &common::Pki,
    ca: &Path,
) -> PathBuf {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx");
    let mut conf = std::fs::read_to_string(deploy.join("nginx.conf")).unwrap();
    for (shipped, here) in [
        (
            "pid /run/nginx-cpos.pid;".to_owned(),
            format!("pid {}/nginx.pid;", dir.display()),
        ),
        (
            "error_log /var/log/nginx/cpos-error.log warn;".to_owned(),
            format!("error_log {}/error.log warn;", dir.display()),
        ),
        (
            "js_path /etc/nginx/cpos/;".to_owned(),
            format!("js_path {}/;", deploy.display()),
        ),
        (
            "listen 8443 ssl;".to_owned(),
            format!("listen 127.0.0.1:{port} ssl;"),
        ),
        (
            "/etc/nginx/tls/server.pem".to_owned(),
            server.server_cert.display().to_string(),
        ),
        (
            "/etc/nginx/tls/server.key".to_owned(),
            server.server_key.display().to_string(),
        ),
        (
            "/etc/nginx/tls/clients-ca.pem".to_owned(),
            ca.display().to_string(),
        ),
        (
            "proxy_pass http://127.0.0.1:7878;".to_owned(),
            format!("proxy_pass http://{cpos};"),
        ),
    ] {
        assert!(
            conf.contains(&shipped),
            "deploy/nginx/nginx.conf no longer has `{shipped}`"
        );
        conf = conf.replace(&shipped, &here);
    }
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn curl(url: &str, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args([
            "-H",
            "content-type: application/json",
            "--data",
            "{\"x\": 1}",
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (code.to_owned(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_the_nginx_mtls_front_only_a_pinned_certificate_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = common::upstream::start().await;
    let server = common::pki(dir.path());
    let clients = client_certs(dir.path());
    let pins = dir.path().join("client-pins.txt");
    std::fs::write(
        &pins,
        format!("# the agent's certificate\n{}\n", clients.pinned.2),
    )
    .unwrap();
    // The shipped cpos settings for this front, with the test's pin file.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/cpos.toml"),
    )
    .unwrap();
    let gates = shipped[shipped.find("[gates]").unwrap()..]
        .replace("/etc/cpos/client-pins.txt", &pins.display().to_string());
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("{gates}\n[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n"),
    );
    let port = common::mcp::free_port();
    let conf = nginx_conf(dir.path(), port, sidecar.data, &server, &clients.ca);
    let nginx = std::process::Command::new("nginx")
        .args(["-e", "stderr", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("nginx.stderr")).unwrap())
        .spawn()
        .expect("nginx (tests/run.sh installs nginx and libnginx-mod-http-js)");
    let _nginx = KillOnDrop(nginx);
    let url = format!("https://127.0.0.1:{port}/tools/echo");
    let ca = server.ca_file.to_str().unwrap();
    let with = |cert: &(PathBuf, PathBuf)| {
        vec![
            "--cacert".to_owned(),
            ca.to_owned(),
            "--cert".to_owned(),
            cert.0.display().to_string(),
            "--key".to_owned(),
            cert.1.display().to_string(),
        ]
    };
    let pinned = (clients.pinned.0.clone(), clients.pinned.1.clone());
    let mut answered = None;
    for _ in 0..100 {
        let args = with(&pinned);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, body) = curl(&url, &args);
        if code != "000" {
            answered = Some((code, body));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, body) = answered.expect("nginx never answered");
    assert_eq!(code, "200", "the pinned agent is refused: {body}");

    let args = with(&clients.other);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, body) = curl(&url, &args);
    assert_eq!(
        code, "403",
        "a valid but unpinned certificate got through: {body}"
    );
    assert!(body.contains("client_cert_denied"), "{body}");

    // Straight to cpos, not through the proxy: the forged header is not
    // believed (127.0.0.1 is not the proxy's address).
    let (code, body) = curl(
        &sidecar.url("/tools/echo"),
        &["-H", &format!("X-SSL-Client-SHA256: {}", clients.pinned.2)],
    );
    assert_eq!(
        code, "401",
        "a forged fingerprint header was believed: {body}"
    );
    assert!(body.contains("client_cert_required"), "{body}");
}

/// A child process killed when the test ends, even by a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
