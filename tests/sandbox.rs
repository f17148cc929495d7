//! The sandbox runner with real bubblewrap: isolation (no network, read-only
//! system, no secrets), limits (timeout kills the tree, process limit stops a
//! fork bomb, output cap), diff validation, and fail-closed strict mode.

use std::path::{Path, PathBuf};

use cpos::config::{SandboxMode, SandboxSettings};
use cpos::sandbox::{validate, CommandPolicy, FailureKind, Runner};

/// The process limit (RLIMIT_NPROC) counts every process of the sandbox
/// user, so sandboxes running at once share it: the fork bomb would starve
/// its neighbours. These tests take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let scripts: &[(&str, &str)] = &[
        ("net.py", "import socket, sys\ntry:\n    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)\n    print('connected')\nexcept OSError as e:\n    print('refused', e)\n    sys.exit(3)\n"),
        ("write.py", "import sys\nescaped = []\nfor p in sys.argv[1:]:\n    try:\n        open(p, 'w').write('x')\n        escaped.append(p)\n    except OSError:\n        pass\nopen('/workspace/ok.txt', 'w').write('ok')\nopen('/tmp/ok.txt', 'w').write('ok')\nprint('escaped', escaped)\nsys.exit(1 if escaped else 0)\n"),
        ("env.py", "import os\nprint(sorted(os.environ))\nprint(os.environ.get('SANDBOX_TEST_SECRET_TOKEN', 'absent'))\n"),
        ("tree.py", "import subprocess, time\nsubprocess.Popen(['sleep', '61.4242'])\ntime.sleep(60)\n"),
        ("bomb.py", "import os, sys, time\nn = 0\nwhile n < 10000:\n    try:\n        pid = os.fork()\n    except OSError:\n        print('limited at', n)\n        sys.exit(0)\n    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n    n += 1\nprint('unlimited', n)\nsys.exit(1)\n"),
        ("big.py", "import sys\nsys.stdout.write('y' * 5_000_000)\n"),
        ("fill.py", "import sys\ntry:\n    with open(sys.argv[1], 'wb') as f:\n        for _ in range(64):\n            f.write(b'z' * (1 << 20))\n    print('wrote 64 MiB')\nexcept OSError as e:\n    print('stopped:', e.strerror)\n    sys.exit(4)\n"),
        ("check.py", "import sys\ntext = open('greeting.txt').read()\nprint('greeting:', text.strip())\nsys.exit(0 if 'patched' in text else 7)\n"),
        ("greeting.txt", "hello\n"),
    ];
    for (name, text) in scripts {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn settings(ws: &Path) -> SandboxSettings {
    SandboxSettings {
        workspace: ws.to_owned(),
        allowed_commands: vec![vec!["python3".into()]],
        timeout_ms: 20_000,
        max_processes: 32,
        ..SandboxSettings::default()
    }
}

fn argv(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_owned).collect()
}

fn runner(ws: &Path) -> Runner {
    let runner = Runner::new(settings(ws));
    assert!(
        runner.availability().is_ok(),
        "bubblewrap must work here (tests/run.sh installs it): {:?}",
        runner.availability()
    );
    runner
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn no_network_not_even_loopback() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let result = runner(ws.path())
        .run(&["python3".into(), "net.py".into(), port], ws.path(), false)
        .await
        .unwrap();
    assert_eq!(result.exit_code, Some(3), "{}", text(&result.stdout));
    assert!(!result.fallback);
}

#[tokio::test]
async fn nothing_outside_the_writable_area_can_be_written() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let copy = cpos::sandbox::workspace::ephemeral_copy(
        ws.path(),
        (unsafe { libc::geteuid() } == 0).then_some(65534),
        &[],
    )
    .unwrap();
    let host_file = ws.path().join("host.txt");
    let args = format!(
        "python3 write.py /usr/x /etc/x /x /proc/x {} /workspace/../x",
        host_file.display()
    );
    let result = runner(ws.path())
        .run(&argv(&args), &copy.path().join("ws"), true)
        .await
        .unwrap();
    assert_eq!(
        result.exit_code,
        Some(0),
        "{}{}",
        text(&result.stdout),
        text(&result.stderr)
    );
    assert!(!host_file.exists());
    // The write landed in the size-capped tmpfs, not in the host copy.
    assert!(!copy.path().join("ws/ok.txt").exists());
    // Uncapped, the host copy itself is the writable workspace.
    let uncapped = Runner::new(SandboxSettings {
        max_workspace_bytes: 0,
        ..settings(ws.path())
    });
    let result = uncapped
        .run(&argv(&args), &copy.path().join("ws"), true)
        .await
        .unwrap();
    assert_eq!(result.exit_code, Some(0), "{}", text(&result.stdout));
    assert!(
        copy.path().join("ws/ok.txt").exists(),
        "the writable copy is writable"
    );

    // Read-only workspace: writing there fails too.
    let ro = runner(ws.path())
        .run(&argv("python3 write.py"), ws.path(), false)
        .await
        .unwrap();
    assert_ne!(ro.exit_code, Some(0));
    assert!(!ws.path().join("ok.txt").exists());
}

#[tokio::test]
async fn the_sidecars_secrets_are_not_in_the_environment() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    // SAFETY: set before the child is spawned; nothing else reads it concurrently.
    unsafe { std::env::set_var("SANDBOX_TEST_SECRET_TOKEN", "hunter2-secret-value") };
    let result = runner(ws.path())
        .run(&argv("python3 env.py"), ws.path(), false)
        .await
        .unwrap();
    let out = text(&result.stdout);
    assert!(
        out.contains("absent"),
        "{out}{} (exit {:?})",
        text(&result.stderr),
        result.exit_code
    );
    assert!(!out.contains("hunter2"));
    assert!(!out.contains("SANDBOX_TEST_SECRET_TOKEN"));
}

#[tokio::test]
async fn a_timeout_kills_the_whole_tree() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let mut s = settings(ws.path());
    s.timeout_ms = 1000;
    let result = Runner::new(s)
        .run(&argv("python3 tree.py"), ws.path(), false)
        .await
        .unwrap();
    assert!(result.timed_out);
    assert!(!result.passed());
    assert!(result.duration.as_secs() < 30);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left = std::process::Command::new("pgrep")
        .args(["-f", "sleep 61.4242"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "a child survived: {}",
        text(&left.stdout)
    );
}

#[tokio::test]
async fn a_fork_bomb_is_stopped_by_the_process_limit() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let result = runner(ws.path())
        .run(&argv("python3 bomb.py"), ws.path(), false)
        .await
        .unwrap();
    let out = text(&result.stdout);
    assert_eq!(result.exit_code, Some(0), "{out}{}", text(&result.stderr));
    let n: u64 = out.trim().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n < 32, "{out}");
}

#[tokio::test]
async fn disk_written_in_the_workspace_and_tmp_is_capped() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let runner = Runner::new(SandboxSettings {
        max_workspace_bytes: 16 << 20,
        max_tmp_bytes: 16 << 20,
        ..settings(ws.path())
    });
    let copy = cpos::sandbox::workspace::ephemeral_copy(
        ws.path(),
        (unsafe { libc::geteuid() } == 0).then_some(65534),
        &[],
    )
    .unwrap();
    let copy_ws = copy.path().join("ws");
    for target in ["/workspace/fill.bin", "/tmp/fill.bin"] {
        let result = runner
            .run(&argv(&format!("python3 fill.py {target}")), &copy_ws, true)
            .await
            .unwrap();
        assert_eq!(
            result.exit_code,
            Some(4),
            "{target}: {}",
            text(&result.stdout)
        );
        assert!(
            text(&result.stdout).contains("No space left"),
            "{}",
            text(&result.stdout)
        );
    }
    // The workspace's files are there, and a small write succeeds.
    let ok = runner
        .run(&argv("python3 check.py"), &copy_ws, true)
        .await
        .unwrap();
    assert!(
        text(&ok.stdout).contains("greeting: hello"),
        "{}",
        text(&ok.stderr)
    );
    // Nothing a capped run wrote reached the host copy.
    assert!(!copy_ws.join("fill.bin").exists());
}

#[tokio::test]
async fn output_beyond_the_cap_is_truncated_and_marked() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let mut s = settings(ws.path());
    s.max_output_bytes = 65536;
    let result = Runner::new(s)
        .run(&argv("python3 big.py"), ws.path(), false)
        .await
        .unwrap();
    assert!(result.passed());
    assert!(result.truncated);
    assert_eq!(result.stdout.len(), 65536);
    assert_eq!(result.stdout_bytes, 5_000_000);
}

const GOOD_DIFF: &str =
    "--- a/greeting.txt\n+++ b/greeting.txt\n@@ -1 +1 @@\n-hello\n+hello patched\n";
const BAD_DIFF: &str = "--- a/greeting.txt\n+++ b/greeting.txt\n@@ -1 +1 @@\n-goodbye\n+nothing\n";

fn policy() -> CommandPolicy {
    CommandPolicy::new(vec![vec!["python3".into()]])
}

#[tokio::test]
async fn diff_validation_passes_fails_and_names_the_failure() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let runner = runner(ws.path());
    let check = vec![argv("python3 check.py")];

    let passed = validate(&runner, &policy(), GOOD_DIFF, &check).await;
    assert!(passed.passed, "{:?}", passed.message);
    assert!(text(&passed.steps[0].result.stdout).contains("hello patched"));
    // The workspace itself is untouched: the diff went to a copy.
    assert_eq!(
        std::fs::read_to_string(ws.path().join("greeting.txt")).unwrap(),
        "hello\n"
    );

    let bad = validate(&runner, &policy(), BAD_DIFF, &check).await;
    assert_eq!(bad.failure, Some(FailureKind::PatchApply));
    assert!(bad.steps.is_empty());

    let failing = validate(&runner, &policy(), "", &check).await;
    assert_eq!(failing.failure, Some(FailureKind::ValidationCommand));
    let retry = failing.retry().unwrap();
    assert_eq!(retry["exit_code"], 7);
    assert_eq!(retry["failure_kind"], "validation_command");
    assert_eq!(retry["automatic_retry"], false);

    let rejected = validate(&runner, &policy(), GOOD_DIFF, &[argv("bash -c true")]).await;
    assert_eq!(rejected.failure, Some(FailureKind::PolicyRejected));
    assert!(rejected.message.unwrap().contains("`bash`"));

    // Metadata never holds output.
    let meta = passed.metadata().to_string();
    assert!(!meta.contains("hello patched"));
}

#[tokio::test]
async fn strict_mode_without_bubblewrap_fails_closed_and_permissive_marks_its_fallback() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let mut s = settings(ws.path());
    s.bwrap = PathBuf::from("/nonexistent/bwrap");
    let strict = Runner::new(s.clone());
    assert!(strict.availability().is_err());
    let err = strict
        .run(&argv("python3 check.py"), ws.path(), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot start"), "{err}");
    let v = validate(&strict, &policy(), GOOD_DIFF, &[argv("python3 check.py")]).await;
    assert_eq!(v.failure, Some(FailureKind::SandboxUnavailable));

    s.mode = SandboxMode::Permissive;
    let permissive = Runner::new(s);
    let result = permissive
        .run(&argv("python3 check.py"), ws.path(), false)
        .await
        .unwrap();
    assert!(result.fallback);
    assert_eq!(result.exit_code, Some(7));
}

#[path = "common/mod.rs"]
mod common;

#[tokio::test]
async fn validate_over_http_and_the_cli_and_the_tape_holds_no_output() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let dir = tempfile::tempdir().unwrap();
    let sidecar = common::Sidecar::start(
        dir.path(),
        &format!(
            "[sandbox]\nworkspace = \"{}\"\nallowed_commands = [[\"python3\"]]\n",
            ws.path().display()
        ),
    );
    let client = common::http1();
    let url = sidecar.url("/sandbox/validate");
    let body = |diff: &str| {
        serde_json::json!({"diff": diff, "commands": [["python3", "check.py"]]}).to_string()
    };
    let passed = common::post_json(&client, &url, &body(GOOD_DIFF))
        .await
        .json();
    assert_eq!(passed["passed"], true, "{passed}");
    assert!(passed["steps"][0]["stdout"]
        .as_str()
        .unwrap()
        .contains("hello patched"));
    let bad = common::post_json(&client, &url, &body(BAD_DIFF))
        .await
        .json();
    assert_eq!(bad["failure_kind"], "patch_apply");
    let failing = common::post_json(&client, &url, &body("")).await.json();
    assert_eq!(failing["failure_kind"], "validation_command");
    assert_eq!(failing["retry"]["exit_code"], 7);
    let shell = serde_json::json!({"diff": "", "commands": ["python3 check.py | tee x"]});
    let refused = common::post_json(&client, &url, &shell.to_string()).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["error"], "policy_rejected");
    assert_eq!(refused.json()["token"], "|");
    let metrics = common::get(&client, &sidecar.admin_url("/metrics")).await;
    let metrics = String::from_utf8_lossy(&metrics.body);
    for outcome in [
        "cpos_sandbox_runs_total{state=\"passed\"} 1",
        "cpos_sandbox_runs_total{state=\"patch_apply\"} 1",
        "cpos_sandbox_runs_total{state=\"validation_command\"} 1",
    ] {
        assert!(metrics.contains(outcome), "{outcome} missing:\n{metrics}");
    }

    let tape = sidecar.tape();
    let requests = sidecar.requests();
    let runs: Vec<_> = requests
        .iter()
        .filter(|r| r["action"]["kind"] == "sandbox.validate")
        .collect();
    assert_eq!(runs.len(), 4);
    let ahead = tape
        .iter()
        .filter(|r| r["action"]["kind"] == "sandbox.validate" && r["event"] == "decision")
        .count();
    assert_eq!(ahead, 4, "each run's decision was recorded before it ran");
    assert_eq!(runs[0]["detail"]["passed"], true);
    assert_eq!(runs[1]["outcome"]["code"], "patch_apply");
    assert!(runs[0]["detail"]["steps"][0]["stdout_sha256"].is_string());
    let text = sidecar.tape_text();
    for output in ["hello patched", "greeting:", "goodbye"] {
        assert!(!text.contains(output), "`{output}` reached the tape");
    }

    // The same through the CLI.
    let diff = dir.path().join("fix.diff");
    std::fs::write(&diff, GOOD_DIFF).unwrap();
    let config = dir.path().join("cpos.toml");
    let (code, out, err) = common::cpos(
        &[
            "sandbox",
            "validate",
            "--config",
            config.to_str().unwrap(),
            "--diff",
            diff.to_str().unwrap(),
            "--command",
            "python3 check.py",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("hello patched"));
}

#[tokio::test]
async fn sandbox_routed_command_requests_and_mcp_command_tools_run_in_the_sandbox() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    std::fs::write(
        ws.path().join("Makefile"),
        "test:\n\t@echo all tests passed\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The MCP upstream does not exist: a sandboxed call never goes there.
    let sidecar = common::Sidecar::start(
        dir.path(),
        &format!(
            "[adapter]\nenabled = true\n\n[sandbox]\nworkspace = \"{}\"\nallowed_commands = [[\"make\", \"test\"], [\"cat\"]]\n\
             command_tools = [{{ connector = \"tools\", tool = \"run_tests\", argv_argument = \"argv\" }}]\n\n\
             [[routes]]\nname = \"tools\"\nprefix = \"/mcp\"\nupstream = \"http://127.0.0.1:9\"\nprotocol = \"mcp\"\n",
            ws.path().display()
        ),
    );
    let client = common::http1();
    let call = |argv: serde_json::Value| {
        serde_json::json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "run_tests", "arguments": {"argv": argv}}})
        .to_string()
    };
    let ran = common::post_json(
        &client,
        &sidecar.url("/mcp"),
        &call(serde_json::json!(["make", "test"])),
    )
    .await
    .json();
    assert_eq!(ran["id"], 5);
    assert_eq!(ran["result"]["isError"], false, "{ran}");
    assert!(ran["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("all tests passed"));

    // A call the policy allows outright runs in the sandbox too: a declared
    // command tool never reaches its upstream (which does not even exist).
    let allowed = common::post_json(
        &client,
        &sidecar.url("/mcp"),
        &call(serde_json::json!(["cat", "Makefile"])),
    )
    .await
    .json();
    assert_eq!(allowed["result"]["isError"], false, "{allowed}");
    assert!(allowed["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("@echo all tests passed"));

    let denied = common::post_json(
        &client,
        &sidecar.url("/mcp"),
        &call(serde_json::json!(["rm", "-rf", "/"])),
    )
    .await
    .json();
    assert_eq!(
        denied["error"]["data"]["error"], "policy_denied",
        "{denied}"
    );

    let intake = serde_json::json!({"agent_name": "me", "event_type": "command_request",
        "commands": ["make test"]});
    let answer = common::post_json(
        &client,
        &sidecar.url("/agent-adapter/intake"),
        &intake.to_string(),
    )
    .await
    .json();
    assert_eq!(answer["status"], "sandbox_executed", "{answer}");
    let result = &answer["execution_result"];
    assert_eq!(result["event_type"], "execution_result");
    assert_eq!(result["status"], "passed");
    assert!(result["steps"][0]["stdout"]
        .as_str()
        .unwrap()
        .contains("all tests passed"));

    let tape = sidecar.requests();
    let sandboxed: Vec<_> = tape
        .iter()
        .filter(|r| r["detail"]["steps"].is_array())
        .collect();
    assert_eq!(sandboxed.len(), 3);
    let routes: Vec<_> = sandboxed
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["sandbox", "allow", "sandbox"]);
    assert!(!sidecar.tape_text().contains("all tests passed"));
}

#[tokio::test]
async fn the_sidecars_own_files_in_the_workspace_are_hidden_from_sandboxed_commands() {
    let _turn = SERIAL.lock().await;
    // The sidecar's own directory is the workspace (as with the old
    // default `workspace = "."`): config, key file, tape, pins all in it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), "s3cr3t-token-value\n").unwrap();
    std::fs::write(
        dir.path().join("leak.py"),
        "import os\nfor p in ['cpos.toml', 'token.txt', 'tape', 'stderr.log']:\n    \
         try:\n        print(p, 'dir' if os.path.isdir(p) else open(p).read() or 'empty')\n    \
         except OSError as e:\n        print(p, 'absent')\n",
    )
    .unwrap();
    let sidecar = common::Sidecar::start(
        dir.path(),
        &format!(
            "[sandbox]\nworkspace = \"{}\"\nallowed_commands = [[\"python3\"]]\n\n\
             [gates.auth]\nmode = \"bearer\"\ntoken_file = \"{}\"\ntoken_principal = \"agent\"\n",
            dir.path().display(),
            dir.path().join("token.txt").display()
        ),
    );
    let body = serde_json::json!({"diff": "", "commands": [["python3", "leak.py"]]}).to_string();
    let request = http::Request::post(sidecar.url("/sandbox/validate"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer s3cr3t-token-value")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let answer = common::collect(common::http1().request(request).await.unwrap()).await;
    let result = answer.json();
    let out = result["steps"][0]["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(out.contains("cpos.toml"), "the command ran: {result}");
    for secret in ["s3cr3t-token-value", "[sandbox]", "[tape]"] {
        assert!(
            !out.contains(secret),
            "`{secret}` reached a sandboxed command: {out}"
        );
    }
    assert!(
        out.contains("cpos.toml absent") && out.contains("token.txt absent"),
        "{out}"
    );
    assert!(out.contains("tape absent"), "{out}");
    assert!(
        out.contains("stderr.log"),
        "other files are still there: {out}"
    );
    assert!(sidecar.stderr().contains("holds the sidecar's own files"));

    // preflight says so; the hardened profile refuses to start with it.
    let config = dir.path().join("cpos.toml");
    let (_, report, _) = common::cpos(
        &["preflight", "--config", config.to_str().unwrap()],
        dir.path(),
    );
    assert!(report.contains("sandbox_workspace"), "{report}");
    let (code, report, _) = common::cpos(
        &[
            "preflight",
            "--profile",
            "hardened",
            "--config",
            config.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(report.contains("token.txt"), "{report}");
}

/// A workspace whose git configuration runs a filter (writing `marker`)
/// whenever git reads `greeting.txt` through its attributes.
fn booby_trapped_workspace(marker: &Path) -> tempfile::TempDir {
    let ws = workspace();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(ws.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q", "."]);
    std::fs::write(
        ws.path().join(".gitattributes"),
        "greeting.txt filter=evil\n",
    )
    .unwrap();
    let hook = format!("touch {}; cat", marker.display());
    git(&["config", "filter.evil.clean", &hook]);
    git(&["config", "filter.evil.smudge", &hook]);
    git(&["config", "core.hooksPath", "/nonexistent"]);
    ws
}

#[tokio::test]
async fn a_workspace_git_filter_never_runs_while_a_diff_is_applied_as_root() {
    let _turn = SERIAL.lock().await;
    let out = tempfile::tempdir().unwrap();
    let marker = out.path().join("PWNED");
    let ws = booby_trapped_workspace(&marker);
    // The trap is armed: plain `git apply --check` in the workspace runs it.
    let diff = out.path().join("fix.diff");
    std::fs::write(&diff, GOOD_DIFF).unwrap();
    let armed = std::process::Command::new("git")
        .args(["apply", "--check"])
        .arg(&diff)
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(armed.status.success(), "{}", text(&armed.stderr));
    assert!(marker.exists(), "the filter should run under plain git");
    std::fs::remove_file(&marker).unwrap();

    let runner = runner(ws.path());
    let check = vec![argv("python3 check.py")];
    let result = validate(&runner, &policy(), GOOD_DIFF, &check).await;
    assert!(result.passed, "{:?}", result.message);
    assert!(
        !marker.exists(),
        "the workspace's git filter ran outside the sandbox"
    );
}

#[test]
fn a_workspace_git_filter_never_runs_while_a_diff_is_applied_as_an_unprivileged_user() {
    // Its processes run as the sandbox uid too and count against the same
    // process limit: take turns like the rest.
    let _turn = SERIAL.blocking_lock();
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run the sidecar as another user (setpriv)");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let marker = base.path().join("PWNED");
    let ws = booby_trapped_workspace(&marker);
    let diff = base.path().join("fix.diff");
    std::fs::write(&diff, GOOD_DIFF).unwrap();
    let config = base.path().join("cpos.toml");
    // Bubblewrap may need privileges this user lacks: permissive mode runs
    // the (empty) command list without it; the diff is what matters here.
    std::fs::write(
        &config,
        "[sandbox]\nmode = \"permissive\"\nallowed_commands = [[\"python3\"]]\n",
    )
    .unwrap();
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(base.path())
        .arg(ws.path())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_cpos"))
        .args(["sandbox", "validate", "--config"])
        .arg(&config)
        .arg("--diff")
        .arg(&diff)
        .arg("--workspace")
        .arg(ws.path())
        .args(["--command", "python3 check.py"])
        .current_dir(base.path())
        .env("HOME", base.path())
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert!(
        report.contains("hello patched"),
        "{report}{}",
        text(&out.stderr)
    );
    assert!(
        !marker.exists(),
        "the workspace's git filter ran as the sidecar's user"
    );
}

/// Each run must leave nothing behind: a zombie of the sandbox user counts
/// against its process limit, so leftovers would lock the sandbox out after
/// a few dozen runs wherever pid 1 reaps slowly (or is the sidecar itself).
#[tokio::test]
async fn runs_leave_no_process_behind() {
    let _turn = SERIAL.lock().await;
    let ws = workspace();
    let runner = Runner::new(SandboxSettings {
        max_processes: 4,
        ..settings(ws.path())
    });
    // What already ran as that user (a web server's workers) is not ours.
    let pid = |p: &String| p.split(' ').next().unwrap_or_default().to_owned();
    let before: Vec<String> = sandbox_user_processes(65534).iter().map(pid).collect();
    for round in 0..12 {
        let result = runner
            .run(&argv("python3 -c pass"), ws.path(), false)
            .await
            .unwrap();
        assert_eq!(
            result.exit_code,
            Some(0),
            "run {round}: {}",
            text(&result.stderr)
        );
    }
    if unsafe { libc::geteuid() } == 0 {
        let left: Vec<String> = sandbox_user_processes(65534)
            .into_iter()
            .filter(|p| !before.contains(&pid(p)))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

/// The processes (zombies included) of `uid`, as "pid state name".
fn sandbox_user_processes(uid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or("")
                .to_owned()
        };
        if field("Uid:").split_whitespace().next() == Some(&uid.to_string()) {
            found.push(format!(
                "{} {} {}",
                entry.file_name().to_string_lossy(),
                field("State:"),
                field("Name:")
            ));
        }
    }
    found
}
