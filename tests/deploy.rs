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
