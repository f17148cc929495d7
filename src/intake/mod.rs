//! The External Agent Adapter intake, served by the sidecar itself under
//! `/agent-adapter` (compatible with the original CPOS endpoints):
//!
//! - `POST /agent-adapter/intake` — validate, classify, record a contract;
//! - `GET  /agent-adapter/actions` — contracts awaiting a decision;
//! - `POST /agent-adapter/actions/{id}/approve` (`{"confirm": true}`) and `/reject`;
//! - `GET  /agent-adapter/execution-results` — the results scoreboard.
//!
//! Only metadata is stored or recorded: digests, sizes, counts, statuses.

pub mod contract;
pub mod digest;
pub mod store;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use self::store::{ActionStore, Entry};
use crate::escalation::review::ReviewView;
use crate::policy::{Decision, Policy, Verdict};
use crate::problem::Problem;

/// The adapter: its policy view and its store.
pub struct Adapter {
    prefix: String,
    store: ActionStore,
    /// Reviewers' views of pending actions: memory only, never stored.
    views: Mutex<HashMap<String, ReviewView>>,
}

/// What an intake request did, for its tape record.
#[derive(Debug, Default)]
pub struct IntakeNote {
    /// `intake.<event_type>`, when a payload was read.
    pub kind: Option<&'static str>,
    /// The policy decision, when the payload was classified.
    pub decision: Option<Decision>,
    /// The contract's SHA-256.
    pub contract_sha256: Option<String>,
    /// Commands in the payload.
    pub command_count: Option<u64>,
    /// Changed files in the payload.
    pub changed_file_count: Option<u64>,
    /// Set on approve / reject: the action id and new status.
    pub decided: Option<(String, String)>,
}

fn kind_name(event: &str) -> &'static str {
    match event {
        "command_request" => "intake.command_request",
        "proposed_diff" => "intake.proposed_diff",
        "execution_result" => "intake.execution_result",
        "agent_intent" => "intake.agent_intent",
        "proposed_action" => "intake.proposed_action",
        _ => "intake.invalid",
    }
}

impl Adapter {
    /// Opens the store under `store_file`, serving under `prefix`.
    pub fn open(prefix: &str, store_file: &std::path::Path) -> Result<Adapter, store::StoreError> {
        Ok(Adapter {
            prefix: prefix.trim_end_matches('/').to_owned(),
            store: ActionStore::open(store_file)?,
            views: Mutex::new(HashMap::new()),
        })
    }

    /// True when `path` is the adapter's.
    pub fn handles(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Serves one adapter request.
    pub fn handle(
        &self,
        policy: &Policy,
        head: &Parts,
        body: &Bytes,
        principal: Option<&str>,
        note: &mut IntakeNote,
    ) -> Result<Value, Problem> {
        let rest = &head.uri.path()[self.prefix.len()..];
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match (&head.method, segments.as_slice()) {
            (&Method::POST, ["intake"]) => self.intake(policy, body, principal, note),
            (&Method::GET, ["actions"]) => Ok(self.actions()),
            (&Method::POST, ["actions", id, verb @ ("approve" | "reject")]) => {
                self.decide(id, verb, body, principal, note)
            }
            (&Method::GET, ["execution-results"]) => Ok(self.scoreboard()),
            _ => Err(Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "adapter endpoints: POST intake, GET actions, POST actions/{id}/approve|reject, GET execution-results",
            )),
        }
    }

    fn intake(
        &self,
        policy: &Policy,
        body: &Bytes,
        principal: Option<&str>,
        note: &mut IntakeNote,
    ) -> Result<Value, Problem> {
        let payload: Value = serde_json::from_slice(body).map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the intake body must be a JSON object (the original silently treated it as {}; this sidecar refuses)",
            )
        })?;
        note.kind = Some(kind_name(validate::event_type(&payload)));
        let errors = validate::validate(&payload);
        if !errors.is_empty() {
            let mut problem = Problem::new(
                StatusCode::BAD_REQUEST,
                "schema_validation_failed",
                "the payload does not match cpos.external_agent_action_validation.v1; see validation.errors",
            );
            problem = problem.with("execute_automatically", false.into()).with(
                "validation",
                json!({
                    "ok": false,
                    "schema": "cpos.external_agent_action_validation.v1",
                    "errors": errors,
                    "allowed_event_types": validate::EVENT_TYPES,
                    "allowed_risk_levels": validate::RISK_LEVELS,
                    "metadata_only": true,
                    "raw_request_stored": false,
                    "raw_diff_stored": false,
                    "raw_outputs_stored": false,
                    "secret_values_stored": false,
                    "execute_automatically": false,
                }),
            );
            return Err(problem);
        }
        let action = contract::action_contract(&payload);
        let decision = policy.classify(&action);
        let metadata = contract::metadata_contract(&payload, &action, &decision);
        note.contract_sha256 = metadata["contract_sha256"].as_str().map(str::to_owned);
        note.command_count = Some(action.commands.len() as u64);
        note.changed_file_count = Some(action.changed_files.len() as u64);
        let status = match decision.route {
            Verdict::Deny => "rejected_by_policy",
            Verdict::Human => "pending_review",
            Verdict::Sandbox => "sandbox_pending",
            Verdict::Allow => "metadata_recorded",
        };
        let id = format!("act_{}", &crate::client::fresh_nonce()[..16]);
        self.store
            .insert(Entry {
                id: id.clone(),
                created_at: crate::tape::now_rfc3339(),
                status: status.into(),
                contract: metadata.clone(),
                decided_by: None,
                reason: None,
            })
            .map_err(|e| {
                tracing::error!(error = %e, "adapter store write failed");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "adapter_store_unavailable",
                    "the adapter could not record the contract; check the sidecar's disk and log",
                )
            })?;
        if decision.route == Verdict::Human {
            // What the reviewer sees: memory only, dropped once decided.
            let view = ReviewView::build(policy, &action, principal, None).with_intake(&payload);
            self.views
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), view);
        }
        let escalation = metadata["decision"].clone();
        note.decision = Some(decision);
        Ok(json!({
            "ok": true,
            "task_id": id,
            "status": status,
            "contract": metadata,
            "human_escalation": escalation,
            "execute_automatically": false,
        }))
    }

    fn listing(&self, entry: &Entry) -> Value {
        let review = self
            .views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&entry.id)
            .map(|v| serde_json::to_value(v).unwrap_or_default());
        json!({
            "review": review,
            "task_id": entry.id,
            "timestamp": entry.created_at,
            "status": entry.status,
            "contract": entry.contract,
            "decision": entry.contract["adapter_decision"],
            "metadata_only": true,
            "approval_endpoint": format!("/agent-adapter/actions/{}/approve", entry.id),
            "rejection_endpoint": format!("/agent-adapter/actions/{}/reject", entry.id),
            "execute_automatically": false,
        })
    }

    fn actions(&self) -> Value {
        let reviews: Vec<Value> = self
            .store
            .open_entries()
            .iter()
            .map(|entry| self.listing(entry))
            .collect();
        json!({
            "ok": true,
            "count": reviews.len(),
            "reviews": reviews,
            "metadata_only": true,
            "execute_automatically": false,
        })
    }

    fn decide(
        &self,
        id: &str,
        verb: &str,
        body: &Bytes,
        principal: Option<&str>,
        note: &mut IntakeNote,
    ) -> Result<Value, Problem> {
        let request: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|_| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "the body must be a JSON object",
                )
            })?
        };
        let (status, reason) = if verb == "approve" {
            if request.get("confirm") != Some(&Value::Bool(true)) {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "confirm_required",
                    "send {\"confirm\": true} to approve",
                ));
            }
            (
                "approved_contract_only",
                request.get("reason").and_then(Value::as_str),
            )
        } else {
            (
                "rejected",
                Some(
                    request
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or("manual_reject"),
                ),
            )
        };
        let entry = self
            .store
            .decide(id, status, principal, reason)
            .map_err(|e| {
                tracing::error!(error = %e, "adapter store write failed");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "adapter_store_unavailable", "the decision could not be recorded")
            })?
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::NOT_FOUND,
                    "pending_external_agent_action_not_found",
                    "no pending adapter action has this id; list them with GET /agent-adapter/actions",
                )
            })?;
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&entry.id);
        note.decided = Some((entry.id.clone(), entry.status.clone()));
        Ok(json!({
            "ok": true,
            "task_id": entry.id,
            "status": entry.status,
            "event": if verb == "approve" { "external_agent_action_approved" } else { "external_agent_action_rejected" },
            "execute_automatically": false,
        }))
    }

    fn scoreboard(&self) -> Value {
        let results: Vec<Entry> = self
            .store
            .all()
            .into_iter()
            .filter(|e| e.contract["event_type"] == "execution_result")
            .collect();
        let total = results.len();
        let success = results
            .iter()
            .filter(|e| e.contract["result_summary"]["success"] == Value::Bool(true))
            .count();
        let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
        for e in results
            .iter()
            .filter(|e| e.contract["result_summary"]["success"] != Value::Bool(true))
        {
            let kind = e.contract["result_summary"]["failure_kind"]
                .as_str()
                .unwrap_or("unknown");
            *kinds.entry(kind.to_owned()).or_default() += 1;
        }
        let rate = if total == 0 {
            0.0
        } else {
            (1000.0 * success as f64 / total as f64).round() / 10.0
        };
        let recent: Vec<Value> = results
            .iter()
            .rev()
            .take(10)
            .map(|e| {
                json!({
                    "task_id": e.id,
                    "timestamp": e.created_at,
                    "agent_name": e.contract["agent_name"],
                    "result_summary": e.contract["result_summary"],
                })
            })
            .collect();
        json!({
            "ok": true,
            "schema": "cpos.external_agent_result_scoreboard.v1",
            "completed_results": total,
            "success_results": success,
            "failure_results": total - success,
            "success_rate": rate,
            "failure_kind_counts": kinds,
            "recent_results": recent,
            "metadata_only": true,
            "raw_outputs_stored": false,
            "secret_values_stored": false,
            "execute_automatically": false,
        })
    }
}
