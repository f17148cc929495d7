//! Policy test files (`cpos policy test`): a contract in, the expected
//! route, risk, reasons and rules out.
//!
//! ```toml
//! [[cases]]
//! name = "echo then rm -rf / is denied"
//! contract = { kind = "intake.command_request", commands = ["echo ok && rm -rf /"] }
//! expect = { route = "deny", risk = "critical", rules = ["destructive.rm-recursive-system"] }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Policy, Verdict};
use crate::action::{ActionContract, Risk};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    contract: ActionContract,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    route: Option<Verdict>,
    risk: Option<Risk>,
    /// These reasons must be among the decision's.
    #[serde(default)]
    reasons: Vec<String>,
    /// These rules must fire.
    #[serde(default)]
    rules: Vec<String>,
    /// These rules must not fire.
    #[serde(default)]
    not_rules: Vec<String>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// File the case is in.
    pub file: PathBuf,
    /// Case name.
    pub name: String,
    /// Empty when it passed; otherwise what differed.
    pub failures: Vec<String>,
}

/// Results of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Every case.
    pub cases: Vec<CaseResult>,
    /// Rules that some case expects to fire (positive coverage).
    pub covered: BTreeSet<String>,
    /// Rules that some case expects not to fire (negative coverage).
    pub negatively_covered: BTreeSet<String>,
}

impl Report {
    /// Failed cases.
    pub fn failed(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.failures.is_empty())
    }

    /// Rules of `policy` without both a positive and a negative case.
    pub fn uncovered<'a>(&self, policy: &'a Policy) -> Vec<&'a str> {
        policy
            .rule_ids()
            .filter(|id| !self.covered.contains(*id) || !self.negatively_covered.contains(*id))
            .collect()
    }
}

/// Expands directories into their `*.toml` files, sorted.
pub fn expand(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Runs every case of every file against `policy`.
pub fn run(policy: &Policy, files: &[PathBuf]) -> Result<Report, String> {
    let mut report = Report::default();
    for file in files {
        run_file(policy, file, &mut report)?;
    }
    Ok(report)
}

fn run_file(policy: &Policy, file: &Path, report: &mut Report) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let cases: CaseFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    for case in cases.cases {
        let decision = policy.classify(&case.contract);
        let mut failures = Vec::new();
        let e = &case.expect;
        if let Some(route) = e.route {
            if decision.route != route {
                failures.push(format!(
                    "route: expected {}, got {}",
                    route.as_str(),
                    decision.route.as_str()
                ));
            }
        }
        if let Some(risk) = e.risk {
            if decision.risk != risk {
                failures.push(format!(
                    "risk: expected {}, got {}",
                    risk.as_str(),
                    decision.risk.as_str()
                ));
            }
        }
        for reason in &e.reasons {
            if !decision.reasons.contains(reason) {
                failures.push(format!(
                    "reason `{reason}` missing (got {:?})",
                    decision.reasons
                ));
            }
        }
        for rule in &e.rules {
            report.covered.insert(rule.clone());
            if !decision.rules.contains(rule) {
                failures.push(format!(
                    "rule `{rule}` did not fire (fired: {:?})",
                    decision.rules
                ));
            }
        }
        for rule in &e.not_rules {
            report.negatively_covered.insert(rule.clone());
            if decision.rules.contains(rule) {
                failures.push(format!("rule `{rule}` fired but should not"));
            }
        }
        report.cases.push(CaseResult {
            file: file.to_path_buf(),
            name: case.name,
            failures,
        });
    }
    Ok(())
}
