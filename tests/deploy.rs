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
    // Run as root (CI), nginx's workers would be `nobody`, the sandbox's
    // uid, and count against its process limit: give them their own user.
    if unsafe { libc::geteuid() } == 0 {
        conf = format!("user www-data;\n{conf}");
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

/// nginx stopped when the test ends, even by a failed assertion: SIGTERM
/// (its master stops the workers too; SIGKILL would orphan them), then
/// SIGKILL if it has not exited within five seconds.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        common::signal(self.0.id(), "TERM");
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Yaml = serde_yaml_ng::Value;

/// The documents a kustomization renders: `kubectl kustomize` when kubectl
/// is installed, else the base read directly (resources and the generated
/// ConfigMap; overlays need kustomize's patching).
fn render(kustomization: &Path) -> Option<Vec<Yaml>> {
    let text = match std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(kustomization)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "kubectl kustomize {}: {}",
                kustomization.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
        Err(_) => {
            let k: Yaml = serde_yaml_ng::from_str(
                &std::fs::read_to_string(kustomization.join("kustomization.yaml")).unwrap(),
            )
            .unwrap();
            if k.get("patches").is_some() {
                eprintln!(
                    "kubectl is not installed: {} not rendered",
                    kustomization.display()
                );
                return None;
            }
            let mut text = String::new();
            for resource in k["resources"].as_sequence().unwrap() {
                let file = kustomization.join(resource.as_str().unwrap());
                text.push_str(&std::fs::read_to_string(file).unwrap());
                text.push_str("\n---\n");
            }
            let mut data = serde_yaml_ng::Mapping::new();
            for file in k["configMapGenerator"][0]["files"].as_sequence().unwrap() {
                let name = file.as_str().unwrap();
                data.insert(
                    name.into(),
                    std::fs::read_to_string(kustomization.join(name))
                        .unwrap()
                        .into(),
                );
            }
            let cm = serde_yaml_ng::to_string(&serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cpos-config"}, "data": data,
            }))
            .unwrap();
            text.push_str(&cm);
            text
        }
    };
    Some(
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|d| <Yaml as serde::Deserialize>::deserialize(d).unwrap())
            .filter(|d| !d.is_null())
            .collect(),
    )
}

fn kind<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

/// Checks one rendered deployment of cpos against the configuration its
/// ConfigMap carries.
fn check_manifests(name: &str, docs: &[Yaml]) {
    use clap::Parser;
    let cm = kind(docs, "ConfigMap");
    let config_text = cm["data"]["cpos.toml"].as_str().unwrap();
    let config = cpos::config::Config::from_toml(config_text)
        .unwrap_or_else(|e| panic!("{name}: cpos.toml in the ConfigMap: {e}"));
    let pod = &kind(docs, "Deployment")["spec"]["template"]["spec"];
    let containers = pod["containers"].as_sequence().unwrap();
    let cpos = containers.iter().find(|c| c["name"] == "cpos").unwrap();

    // The command line is one cpos accepts, and names the mounted config.
    let args: Vec<&str> = cpos["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    cpos::cli::Cli::try_parse_from(std::iter::once("cpos").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{name}: container args {args:?}: {e}"));
    let config_path = args[args.iter().position(|a| *a == "--config").unwrap() + 1];

    // Ports: the named container ports are the ones cpos listens on.
    let port = |wanted: &str| {
        cpos["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == wanted)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("{name}: no container port named {wanted}"))
    };
    assert_eq!(
        port("data"),
        u64::from(config.listen.data.port()),
        "{name}: data port"
    );
    let health = config.listen.health.expect("probes need listen.health");
    assert!(
        health.ip().is_unspecified(),
        "{name}: the kubelet cannot reach {health}"
    );
    assert_eq!(
        port("health"),
        u64::from(health.port()),
        "{name}: health port"
    );
    assert!(
        config.listen.admin.ip().is_loopback()
            || config.gates.auth.mode == cpos::config::AuthMode::Hmac,
        "{name}: admin plane exposed unsigned"
    );
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &cpos[probe]["httpGet"];
        assert_eq!(get["path"], path, "{name}: {probe}");
        assert_eq!(
            get["port"], "health",
            "{name}: {probe} must use the health listener"
        );
    }
    let service = kind(docs, "Service");
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"], "data",
        "{name}: Service"
    );
    let netpol = kind(docs, "NetworkPolicy");
    assert_eq!(
        netpol["spec"]["ingress"][0]["ports"][0]["port"].as_u64(),
        Some(u64::from(config.listen.data.port())),
        "{name}: NetworkPolicy"
    );

    // Every file the configuration reads is in a mounted volume, and a
    // ConfigMap volume carries it under that name.
    let volumes = pod["volumes"].as_sequence().unwrap();
    let mounts = cpos["volumeMounts"].as_sequence().unwrap();
    let mounted = |file: &Path, writable: bool| {
        let mount = mounts
            .iter()
            .filter(|m| file.starts_with(m["mountPath"].as_str().unwrap()))
            .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
            .unwrap_or_else(|| panic!("{name}: {} is on no volume", file.display()));
        if writable {
            assert_ne!(
                mount["readOnly"],
                true,
                "{name}: {} is read-only",
                file.display()
            );
        }
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
        if let Some(items) = volume["configMap"]["items"].as_sequence() {
            let inside = file
                .strip_prefix(mount["mountPath"].as_str().unwrap())
                .unwrap();
            let item = items
                .iter()
                .find(|i| Path::new(i["path"].as_str().unwrap()) == inside)
                .unwrap_or_else(|| {
                    panic!("{name}: {} is not in the ConfigMap volume", file.display())
                });
            assert!(
                cm["data"][item["key"].as_str().unwrap()].is_string(),
                "{name}: the ConfigMap has no {:?}",
                item["key"]
            );
        }
    };
    mounted(Path::new(config_path), false);
    let auth = &config.gates.auth;
    let cert = &config.gates.client_cert;
    for file in [
        &auth.key_registry_file,
        &auth.token_registry_file,
        &auth.token_file,
        &config.tls.cert_file,
        &config.tls.key_file,
        &cert.pin_file,
        &cert.ca_file,
    ]
    .into_iter()
    .flatten()
    .chain(&config.policy.files)
    {
        mounted(file, false);
    }
    mounted(&config.data_dir.clone().expect("data_dir is set"), true);

    // Locked down: non-root, read-only root, no privilege, no capabilities.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
    assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
    for container in containers {
        let sc = &container["securityContext"];
        let c = container["name"].as_str().unwrap();
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}: {c}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}: {c}");
        assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{name}: {c}");
        let limits = &container["resources"]["limits"];
        assert!(limits["memory"].is_string(), "{name}: {c}");
    }
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        config.shutdown.grace_ms < grace * 1000,
        "{name}: the kubelet kills cpos before its drain ends"
    );
}

#[test]
fn the_kubernetes_manifests_agree_with_the_config_they_carry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let base = render(&root.join("base")).expect("the base renders without kustomize");
    check_manifests("base", &base);
    if let Some(hardened) = render(&root.join("overlays/hardened")) {
        check_manifests("hardened", &hardened);
        let config = kind(&hardened, "ConfigMap")["data"]["cpos.toml"]
            .as_str()
            .unwrap();
        let config = cpos::config::Config::from_toml(config).unwrap();
        assert_eq!(config.profile, cpos::config::Profile::Hardened);
        assert!(config.tls.enabled(), "the hardened overlay serves TLS");
    }
    if let Some(replicas) = render(&root.join("overlays/replicas")) {
        check_manifests("replicas", &replicas);
        let deployment = kind(&replicas, "Deployment");
        assert!(deployment["spec"]["replicas"].as_u64().unwrap() > 1);
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let env = |name: &str| {
            container["env"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .unwrap_or_else(|| panic!("replicas: no {name}"))
                .clone()
        };
        assert_eq!(env("CPOS_STATE__BACKEND")["value"], "redis");
        assert_eq!(
            env("CPOS_STATE__REPLICA_ID")["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.name"
        );
        // The URL file is where the Redis secret is mounted, read-only.
        let url_file = env("CPOS_STATE__REDIS_URL_FILE")["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let mounts = container["volumeMounts"].as_sequence().unwrap();
        assert!(mounts.iter().any(
            |m| m["readOnly"] == true && url_file.starts_with(m["mountPath"].as_str().unwrap())
        ));
        assert!(mounts.len() >= 3, "the hardened mounts are kept");
        // Egress reaches Redis and still DNS.
        let policy = kind(&replicas, "NetworkPolicy");
        let egress = serde_yaml_ng::to_string(&policy["spec"]["egress"]).unwrap();
        assert!(egress.contains("6380") && egress.contains("53"));
    }
    // The policy layered on the default loads.
    let settings = cpos::config::PolicySettings {
        files: vec![root.join("base/policy-local.toml")],
        ..Default::default()
    };
    cpos::policy::Policy::from_settings(&settings).unwrap();
}

#[test]
fn the_image_and_the_unit_run_what_the_manifests_expect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let docker = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(
        docker.contains("USER 10001:10001"),
        "the image runs as the pod's uid"
    );
    assert!(docker.contains("ENTRYPOINT [\"/usr/bin/tini\", \"--\", \"/usr/local/bin/cpos\"]"));
    for package in ["tini", "bubblewrap", "git", "ca-certificates"] {
        assert!(docker.contains(package), "the image lacks {package}");
    }
    for port in ["7878", "9901", "9902"] {
        assert!(docker.contains(port), "EXPOSE lacks {port}");
    }
    // Every file the build stage copies exists.
    for line in docker
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(source).exists(),
                "Dockerfile copies {source}, which is not in the repository"
            );
        }
    }

    // The systemd unit starts what cpos accepts, with a config that loads.
    let unit = std::fs::read_to_string(root.join("systemd/cpos.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(words[0], "/usr/local/bin/cpos");
    <cpos::cli::Cli as clap::Parser>::try_parse_from(words.iter().copied()).unwrap();
    let config = std::fs::read_to_string(root.join("systemd/cpos.toml")).unwrap();
    let config = cpos::config::Config::from_toml(&config).unwrap();
    assert_eq!(
        config.data_dir.as_deref(),
        Some(Path::new("/var/lib/cpos")),
        "data_dir is the unit's StateDirectory"
    );
    assert!(unit.contains("StateDirectory=cpos"));
    if let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    {
        if out.status.success() {
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("cpos.service");
            std::fs::write(
                &copy,
                unit.replace("/usr/local/bin/cpos", env!("CARGO_BIN_EXE_cpos")),
            )
            .unwrap();
            let verify = std::process::Command::new("systemd-analyze")
                .arg("verify")
                .arg(&copy)
                .output()
                .unwrap();
            assert!(
                verify.status.success() && verify.stderr.is_empty(),
                "systemd-analyze verify: {}",
                String::from_utf8_lossy(&verify.stderr)
            );
        }
    }
}
