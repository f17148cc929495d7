//! The shipped policy tests pass and cover every default rule both ways;
//! the CLI reports failures with a non-zero exit.

mod common;

use std::path::PathBuf;

use common::cpos;

#[test]
fn shipped_policy_tests_pass_and_cover_every_rule() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let policy = cpos::policy::Policy::embedded().unwrap();
    let files = cpos::policy::testing::expand(&[root.join("policies/tests")]).unwrap();
    let report = cpos::policy::testing::run(&policy, &files).unwrap();
    let failed: Vec<_> = report.failed().map(|c| (&c.name, &c.failures)).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(
        report.uncovered(&policy).is_empty(),
        "{:?}",
        report.uncovered(&policy)
    );
    assert!(report.cases.len() > 100);
}

#[test]
fn policy_test_cli_fails_on_a_wrong_expectation_and_explain_names_rules() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.toml");
    std::fs::write(
        &cases,
        "[[cases]]\nname = \"wrong on purpose\"\ncontract = { kind = \"intake.command_request\", commands = [\"rm -rf /\"] }\nexpect = { route = \"allow\" }\n",
    )
    .unwrap();
    let (code, out, _) = cpos(&["policy", "test", cases.to_str().unwrap()], dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL") && out.contains("expected allow, got deny"),
        "{out}"
    );

    let contract = dir.path().join("c.json");
    std::fs::write(
        &contract,
        r#"{"kind":"intake.command_request","commands":["echo ok && rm -rf /"]}"#,
    )
    .unwrap();
    let (code, out, _) = cpos(
        &["policy", "explain", contract.to_str().unwrap(), "--json"],
        dir.path(),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"]["route"], "deny");
    assert_eq!(v["fired"][0]["rule"], "destructive.rm-recursive-system");
    assert!(v["fired"][0]["evidence"]
        .as_str()
        .unwrap()
        .contains("rm -rf /"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rules]]\nid = \"broken\"\ndescription = \"d\"\nrisk = \"high\"\nroute = \"human\"\nreason = \"r\"\n[rules.when]\nline = [\"(\"]\n").unwrap();
    let (code, _, err) = cpos(
        &[
            "policy",
            "test",
            cases.to_str().unwrap(),
            "--policy",
            bad.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml: broken:"), "{err}");
}

#[test]
fn secret_scan_exit_codes_and_json_never_show_values() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    std::fs::write(clean.join("a.txt"), "nothing to see\n").unwrap();
    let (code, _, _) = cpos(&["secret-scan", clean.to_str().unwrap()], dir.path());
    assert_eq!(code, 0);

    let dirty = dir.path().join("dirty");
    std::fs::create_dir_all(dirty.join("vendor")).unwrap();
    let key = "AKIAIOSFODNN7EXAMPLQ";
    std::fs::write(dirty.join("config.py"), format!("x = 1\naws = '{key}'\n")).unwrap();
    std::fs::write(dirty.join("vendor/skip.txt"), format!("{key}\n")).unwrap();
    let (code, out, _) = cpos(
        &[
            "secret-scan",
            dirty.to_str().unwrap(),
            "--exclude",
            "vendor",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(!out.contains(key), "values are never printed");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["count"], 1);
    assert_eq!(v["findings"][0]["line"], 2);
    assert_eq!(v["findings"][0]["detector"], "aws_access_key");

    // `-` reads standard input (`git diff | cpos secret-scan -`).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cpos"))
        .args(["secret-scan", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        format!("+ok\n+aws = '{key}'\n").as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(key), "values are never printed");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["findings"][0]["path"], "(stdin)");
    assert_eq!(v["findings"][0]["line"], 2);
}

/// `policy.files` layer on the embedded default: a new rule fires, the
/// default rules still do, a rule with a default id replaces it, settings
/// add up; `replace_defaults` leaves the default out.
#[test]
fn policy_files_extend_the_default_and_replacing_it_is_explicit() {
    use cpos::action::{ActionContract, Kind};
    use cpos::config::PolicySettings;
    use cpos::policy::{Policy, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("team.toml");
    std::fs::write(
        &extra,
        r#"
[settings]
trusted_email_domains = ["partner.example"]

[[rules]]
id = "team.no-terraform-workspace"
description = "new terraform workspaces need a person here"
risk = "medium"
route = "human"
reason = "team_rule"
[rules.when]
commands = ["terraform"]
subcommands = ["workspace"]

[[rules]]
id = "publish.git-push"
description = "pushes are fine in this team"
risk = "low"
route = "allow"
reason = "git_publish"
[rules.when]
commands = ["git"]
subcommands = ["push"]
"#,
    )
    .unwrap();
    let command = |line: &str| ActionContract {
        kind: Kind::CommandRequest,
        commands: vec![line.to_owned()],
        ..ActionContract::default()
    };
    let layered = Policy::from_settings(&PolicySettings {
        files: vec![extra.clone()],
        ..PolicySettings::default()
    })
    .unwrap();
    assert!(layered.origin().contains("embedded") && layered.origin().contains("team.toml"));
    let d = layered.classify(&command("terraform workspace new staging"));
    assert_eq!(d.rules, ["team.no-terraform-workspace"]);
    assert_eq!(layered.classify(&command("rm -rf /")).route, Verdict::Deny);
    assert_eq!(
        layered.classify(&command("git push origin main")).route,
        Verdict::Allow
    );
    let mail = ActionContract {
        kind: Kind::McpToolsCall,
        tool: Some("send_email".into()),
        arguments: Some(serde_json::json!({"to": "ops@partner.example"})),
        ..ActionContract::default()
    };
    assert_eq!(layered.classify(&mail).route, Verdict::Allow);
    // The same trust covers a mail command's recipients.
    let mailed =
        |to: &str| layered.classify(&command(&format!("mail -s report {to} < report.txt")));
    assert_eq!(mailed("ops@partner.example").route, Verdict::Allow);
    assert_eq!(
        mailed("ops@elsewhere.example").rules,
        ["capability.network"]
    );

    let alone = Policy::from_settings(&PolicySettings {
        files: vec![extra],
        replace_defaults: true,
        ..PolicySettings::default()
    })
    .unwrap();
    assert_eq!(alone.len(), 2);
    assert_eq!(alone.classify(&command("rm -rf /")).route, Verdict::Allow);
}
