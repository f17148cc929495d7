//! Docs that cannot drift from the code: the configuration reference is the
//! configuration struct, every `cpos` command shown is one cpos accepts, the
//! MCP client snippets launch what cpos accepts, and the tape verifier
//! printed in TAPE.md verifies a real, rotated tape.

mod common;

use std::path::{Path, PathBuf};

use clap::Parser;
use cpos::cli::Cli;
use cpos::config::reference::{keys, profile_effects};
use cpos::config::Profile;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of the first Markdown table after `heading`, cells trimmed.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}`"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
            // `\|` inside a cell is a literal bar.
            inner
                .replace("\\|", "\u{0}")
                .split('|')
                .map(|c| c.trim().replace('\u{0}', "|"))
                .collect()
        })
        .collect()
}

fn code(cell: &str) -> String {
    cell.trim_matches('`').to_owned()
}

#[test]
fn the_config_key_table_is_the_configuration() {
    let doc = read("docs/CONFIG.md");
    let documented: Vec<(String, String, String, String)> = table(&doc, "## Keys")
        .into_iter()
        .map(|row| {
            assert!(
                !row[4].is_empty() && row[4] != "?",
                "{} has no meaning",
                row[0]
            );
            let default = match row[2].as_str() {
                "unset" => "unset".to_owned(),
                other => code(other),
            };
            (code(&row[0]), row[1].clone(), default, code(&row[3]))
        })
        .collect();
    let real: Vec<(String, String, String, String)> = keys(Profile::Dev)
        .into_iter()
        .map(|k| {
            let env = k.env.unwrap_or_else(|| "—".into());
            (k.key, k.kind.to_owned(), k.default, env)
        })
        .collect();
    for key in &real {
        assert!(
            documented.contains(key),
            "docs/CONFIG.md lacks or misstates {key:?} (run `cpos config keys`)"
        );
    }
    for key in &documented {
        assert!(
            real.contains(key),
            "docs/CONFIG.md documents {key:?}, which the configuration does not have"
        );
    }
}

#[test]
fn the_profile_table_is_what_profiles_set() {
    let doc = read("docs/CONFIG.md");
    let rows = table(&doc, "## Profiles");
    let dev: std::collections::HashMap<String, String> = keys(Profile::Dev)
        .into_iter()
        .map(|k| (k.key, k.default))
        .collect();
    let audit: std::collections::HashMap<String, String> =
        profile_effects(Profile::Audit).into_iter().collect();
    let hardened: std::collections::HashMap<String, String> =
        profile_effects(Profile::Hardened).into_iter().collect();
    let mut expected: Vec<String> = audit.keys().chain(hardened.keys()).cloned().collect();
    expected.sort();
    expected.dedup();
    let documented: Vec<String> = rows.iter().map(|r| code(&r[0])).collect();
    let mut sorted = documented.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "docs/CONFIG.md's profile table");
    for row in rows {
        let key = code(&row[0]);
        let value = |m: &std::collections::HashMap<String, String>| {
            m.get(&key).cloned().unwrap_or_else(|| dev[&key].clone())
        };
        assert_eq!(code(&row[1]), dev[&key], "{key} under dev");
        assert_eq!(code(&row[2]), value(&audit), "{key} under audit");
        assert_eq!(code(&row[3]), value(&hardened), "{key} under hardened");
    }
}

/// Shell lines of the fenced blocks in `doc` (continuations joined).
fn shell_lines(doc: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut fence: Option<&str> = None;
    let mut pending = String::new();
    for line in doc.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(if rest.is_empty() { "sh" } else { rest }),
            };
            continue;
        }
        if !matches!(fence, Some("sh" | "bash" | "console" | "shell")) {
            continue;
        }
        let line = line.trim_start_matches("$ ");
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    lines
}

/// The cpos arguments of a shell line, if it runs cpos.
fn cpos_args(line: &str) -> Option<Vec<String>> {
    let words = shlex::split(line)?;
    let mut words = words.into_iter().skip_while(|w| w.contains('='));
    let first = words.next()?;
    let rest: Vec<String> = match first.as_str() {
        "cpos" => words.collect(),
        "cargo" => {
            let all: Vec<String> = words.collect();
            if all.first().map(String::as_str) != Some("run") {
                return None;
            }
            let at = all.iter().position(|w| w == "--")?;
            all[at + 1..].to_vec()
        }
        _ => return None,
    };
    // Up to the end of the command: a pipe, a list operator or a comment.
    Some(
        rest.into_iter()
            .take_while(|w| {
                !matches!(w.as_str(), "|" | "&&" | "||" | ";" | "&")
                    && !w.starts_with(['#', '>', '<'])
            })
            .collect(),
    )
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![
        root().join("README.md"),
        root().join("deploy/README.md"),
        root().join("examples/mcp-clients/README.md"),
    ];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

fn accepts(args: &[String]) -> Result<(), String> {
    match Cli::try_parse_from(std::iter::once("cpos".to_owned()).chain(args.iter().cloned())) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn every_cpos_command_in_the_docs_is_one_cpos_accepts() {
    let mut seen = 0;
    let mut wrong = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in shell_lines(&text) {
            let Some(args) = cpos_args(&line) else {
                continue;
            };
            seen += 1;
            if let Err(e) = accepts(&args) {
                let first = e.lines().next().unwrap_or_default().to_owned();
                wrong.push(format!("{}: `{}`: {first}", file.display(), line.trim()));
            }
        }
    }
    assert!(
        seen > 20,
        "only {seen} commands found: the extraction broke"
    );
    assert!(
        wrong.is_empty(),
        "commands cpos refuses:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn help_names_docs_that_exist_and_docs_name_no_internal_issues() {
    let (_, help, _) = common::cpos(&["--help"], root());
    let named = help
        .lines()
        .find_map(|l| l.strip_prefix("Docs: "))
        .expect("cpos --help names its docs");
    assert!(
        root().join(named.trim()).exists(),
        "cpos --help names {named}"
    );
    let issue = regex::Regex::new(r"(?i)\bissues? \d+\b").unwrap();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Some(m) = issue.find(&text) {
            panic!("{} mentions an internal `{}`", file.display(), m.as_str());
        }
    }
}

#[test]
fn mcp_client_snippets_launch_what_cpos_accepts() {
    let dir = root().join("examples/mcp-clients");
    let mut checked = 0;
    let mut check = |name: &str, server: &serde_json::Value| {
        match server.get("command").and_then(|c| c.as_str()) {
            Some(command) => {
                assert_eq!(command, "cpos", "{name}: launches {command}");
                let args: Vec<String> = server["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect();
                accepts(&args).unwrap_or_else(|e| panic!("{name}: {args:?}: {e}"));
                assert_eq!(args[0], "stdio", "{name}");
                assert!(
                    args.contains(&"--".to_owned()),
                    "{name}: the server command follows --"
                );
            }
            None => {
                let url = server["url"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: no command or url"));
                assert!(
                    url.starts_with("http://127.0.0.1:7878/mcp"),
                    "{name}: {url}"
                );
            }
        }
        checked += 1;
    };
    for (file, key) in [
        ("claude_desktop_config.json", "mcpServers"),
        ("claude-code.mcp.json", "mcpServers"),
        ("cursor.mcp.json", "mcpServers"),
        ("vscode.mcp.json", "servers"),
    ] {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        for (name, server) in json[key]
            .as_object()
            .unwrap_or_else(|| panic!("{file}: no {key}"))
        {
            check(&format!("{file}/{name}"), server);
        }
    }
    let codex: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("codex.config.toml")).unwrap()).unwrap();
    for (name, server) in codex["mcp_servers"].as_table().unwrap() {
        check(
            &format!("codex/{name}"),
            &serde_json::to_value(server).unwrap(),
        );
    }
    assert!(checked >= 8, "{checked}");
    // The gateway config the HTTP entries point at loads, and serves /mcp.
    let gateway = cpos::config::Config::from_toml(
        &std::fs::read_to_string(dir.join("cpos-gateway.toml")).unwrap(),
    )
    .unwrap();
    assert_eq!(gateway.listen.data.port(), 7878);
    assert!(gateway
        .routes
        .iter()
        .any(|r| r.prefix == "/mcp" && r.protocol == cpos::config::Protocol::Mcp));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_verifier_in_tape_md_verifies_a_rotated_tape_and_catches_a_change() {
    let doc = read("docs/TAPE.md");
    let start = doc.find("```python\n").expect("TAPE.md has its verifier") + 10;
    let verifier = &doc[start..start + doc[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = common::upstream::start().await;
    // Small segments (the fixture writes [tape] itself, so by environment).
    let mut sidecar = common::Sidecar::start_with(
        dir.path(),
        &format!("[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\n"),
        &[("CPOS_TAPE__SEGMENT_MAX_BYTES", "4096")],
    );
    for i in 0..40 {
        common::get(&common::http1(), &sidecar.url(&format!("/item/{i}"))).await;
    }
    sidecar.terminate();
    let tape = dir.path().join("tape");
    let segments = std::fs::read_dir(&tape)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("tape-")
        })
        .count();
    assert!(segments >= 3, "{segments} segments");
    let run = || {
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(verifier)
            .arg(&tape)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run();
    assert!(ok, "{out}");
    assert!(out.starts_with("OK, head "), "{out}");
    let (_, cpos_out, _) = common::cpos(&["tape", "verify", tape.to_str().unwrap()], dir.path());
    let head = out.trim().rsplit(' ').next().unwrap();
    assert!(
        cpos_out.contains(head),
        "cpos and the Python verifier disagree on the head:\n{cpos_out}"
    );

    // One changed byte in the second segment: the verifier says where.
    let second = tape.join("tape-000002.jsonl");
    let text = std::fs::read_to_string(&second).unwrap();
    std::fs::write(&second, text.replacen("\"GET\"", "\"PUT\"", 1)).unwrap();
    let (ok, out) = run();
    assert!(!ok, "a changed record verified");
    assert!(out.contains("tape-000002.jsonl"), "{out}");
}
