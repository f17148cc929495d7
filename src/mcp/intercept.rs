//! Interception: every request in a JSON-RPC message (or batch) becomes an
//! action contract and gets a review — forward it, or answer it with a
//! JSON-RPC error under its own id. Notifications and responses carry no
//! action and pass. The same review serves streamable HTTP and stdio.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::downstream::line_safe_json;
use super::jsonrpc::{error_response, Envelope, Message, Shape};
use super::pins::PinStore;
use super::tool_filter::{ToolFilter, ToolRefusal};
use crate::action::{ActionContract, Kind};
use crate::policy::{Decision, Policy};
use crate::tape::ActionSummary;

/// JSON-RPC error codes of our refusals (stable; documented in docs/MCP.md).
pub mod codes {
    /// Invalid method parameters (JSON-RPC).
    pub const INVALID_PARAMS: i64 = -32602;
    use crate::refusal::Refusal;
    /// The policy refuses the call.
    pub const POLICY_DENIED: i64 = Refusal::PolicyDenied.rpc_code();
    /// The connector's deny list (`tools_deny`, `blocked_tools`) names the tool.
    pub const TOOL_BLOCKED: i64 = -32011;
    /// The connector's allow list (`tools_allow`, `allowed_tools`) lacks the tool.
    pub const TOOL_NOT_ALLOWLISTED: i64 = -32018;
    /// The connector is disabled or revoked.
    pub const CONNECTOR_NOT_ACTIVE: i64 = -32017;
    /// Secret-looking argument keys hold values.
    pub const SECRET_LIKE_ARGUMENTS: i64 = -32019;
    /// The tool's definition changed since it was pinned.
    pub const TOOL_PIN_CHANGED: i64 = -32012;
    /// A person must approve the call first.
    pub const HUMAN_APPROVAL_REQUIRED: i64 = Refusal::HumanApprovalRequired.rpc_code();
    /// The policy routes the call to a sandbox this sidecar does not run.
    pub const SANDBOX_UNAVAILABLE: i64 = Refusal::SandboxUnavailable.rpc_code();
    /// The decision tape cannot record the call, so it is not run.
    pub const TAPE_UNAVAILABLE: i64 = Refusal::TapeUnavailable.rpc_code();
}

/// What a changed tool definition leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinChange {
    /// Refuse calls to the tool until the change is accepted.
    Refuse,
    /// Verdict calls to a person (the `human` route).
    Human,
}

/// One MCP upstream as the review sees it.
#[derive(Debug)]
pub struct Connector<'a> {
    /// Connector name (route name, or the stdio server's).
    pub name: &'a str,
    /// Which tools it may expose.
    pub filter: &'a ToolFilter,
    /// Tool pins, when pinning is on.
    pub pins: Option<&'a PinStore>,
    /// What a changed tool leads to.
    pub pin_change: PinChange,
}

/// Why one request is answered here instead of forwarded.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Stable machine code (`policy_denied`, `tool_blocked`, …).
    pub code: &'static str,
    /// JSON-RPC error code.
    pub rpc_code: i64,
    /// What happened and what to do.
    pub message: String,
}

/// The review of one message.
#[derive(Debug, Clone)]
pub struct Review {
    /// Metadata for the tape.
    pub summary: ActionSummary,
    /// The policy's decision, for requests that were classified.
    pub decision: Option<Decision>,
    /// Set when the request is answered here.
    pub refusal: Option<Refusal>,
    /// The action contract that was classified (for a reviewer's view).
    pub contract: Option<ActionContract>,
}

/// The review of a whole envelope.
#[derive(Debug)]
pub struct Plan {
    /// One review per message, in order.
    pub reviews: Vec<Review>,
}

impl Plan {
    /// True when at least one message was refused.
    pub fn any_refused(&self) -> bool {
        self.reviews.iter().any(|v| v.refusal.is_some())
    }

    /// True when every message is answered here.
    pub fn all_refused(&self) -> bool {
        self.reviews.iter().all(|v| v.refusal.is_some())
    }

    /// The JSON-RPC errors answering the refused requests; `decision_id`
    /// names a review by its index.
    pub fn errors(&self, env: &Envelope, decision_id: impl Fn(usize) -> String) -> Vec<Value> {
        env.messages
            .iter()
            .zip(&self.reviews)
            .enumerate()
            .filter_map(|(i, (message, message_review))| {
                let refusal = message_review.refusal.as_ref()?;
                let mut data = Map::new();
                data.insert("error".into(), refusal.code.into());
                data.insert("decision_id".into(), decision_id(i).into());
                if let Some(decision) = &message_review.decision {
                    data.insert("route".into(), decision.route.as_str().into());
                    data.insert("risk".into(), decision.risk.as_str().into());
                    data.insert("reasons".into(), decision.reasons.clone().into());
                    data.insert("rules".into(), decision.rules.clone().into());
                }
                if let Some(tool) = &message_review.summary.tool {
                    data.insert("tool".into(), tool.as_str().into());
                }
                Some(error_response(
                    message.id().cloned().unwrap_or(Value::Null),
                    refusal.rpc_code,
                    &refusal.message,
                    Value::Object(data),
                ))
            })
            .collect()
    }

    /// The messages to forward, as a body: the original bytes when nothing
    /// was refused, otherwise the remaining messages re-serialised.
    pub fn forward_body(&self, env: &Envelope, original: &bytes::Bytes) -> Option<bytes::Bytes> {
        if !self.any_refused() {
            return Some(original.clone());
        }
        self.forward_canonical(env)
    }

    /// The messages to forward, always re-serialised from what was reviewed:
    /// compact JSON holds no raw `\r` or other whitespace a line-splitting
    /// reader could cut a second message out of (stdio framing).
    pub fn forward_canonical(&self, env: &Envelope) -> Option<bytes::Bytes> {
        let kept: Vec<Value> = env
            .messages
            .iter()
            .zip(&self.reviews)
            .filter(|(_, v)| v.refusal.is_none())
            .map(|(m, _)| Value::Object(m.value.clone()))
            .collect();
        match kept.len() {
            0 => None,
            _ if !env.batch => kept.first().map(|v| line_safe_json(v).into()),
            _ => Some(line_safe_json(&Value::Array(kept)).into()),
        }
    }
}

/// Reviews every message of an envelope.
pub fn review(env: &Envelope, connector: &Connector, policy: &Policy, agent: Option<&str>) -> Plan {
    let reviews = env
        .messages
        .iter()
        .map(|message| review_one(message, connector, policy, agent))
        .collect();
    Plan { reviews }
}

fn review_one(
    message: &Message,
    connector: &Connector,
    policy: &Policy,
    agent: Option<&str>,
) -> Review {
    let method = message.method().map(str::to_owned);
    let mut summary = ActionSummary {
        kind: "mcp.message",
        connector: connector.name.to_owned(),
        agent: agent.map(str::to_owned),
        rpc_method: method.clone(),
        ..ActionSummary::default()
    };
    let Shape::Request { .. } = message.shape else {
        // Notifications and responses carry no action.
        return Review {
            summary,
            decision: None,
            refusal: None,
            contract: None,
        };
    };
    let is_call = method.as_deref() == Some("tools/call");
    let params = message.params();
    let (tool, arguments) = if is_call {
        let tool = params
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let arguments = params.and_then(|p| p.get("arguments")).cloned();
        (tool, arguments)
    } else {
        (None, params.cloned())
    };
    summary.kind = if is_call {
        Kind::McpToolsCall.as_str()
    } else {
        Kind::McpRequest.as_str()
    };
    if let Some(args) = &arguments {
        let canonical = serde_json::to_vec(args).unwrap_or_default();
        summary.arg_bytes = Some(canonical.len() as u64);
        summary.arg_sha256 = Some(hex::encode(Sha256::digest(&canonical)));
    }
    summary.tool = tool.clone();
    let refuse = |summary, decision, code, rpc_code, message: String| Review {
        summary,
        decision,
        contract: None,
        refusal: Some(Refusal {
            code,
            rpc_code,
            message,
        }),
    };

    // A disabled or revoked connector answers nothing but this.
    if !connector.filter.active {
        return refuse(
            summary,
            None,
            "connector_not_active",
            codes::CONNECTOR_NOT_ACTIVE,
            format!(
                "connector `{}` is not active (disabled or revoked); an operator re-registers it through the review queue",
                connector.name
            ),
        );
    }
    if is_call {
        let Some(name) = tool.as_deref() else {
            return refuse(
                summary,
                None,
                "invalid_params",
                codes::INVALID_PARAMS,
                "tools/call needs `params.name`, the tool to call, as a string".into(),
            );
        };
        if arguments.as_ref().is_some_and(|a| !a.is_object()) {
            return refuse(
                summary,
                None,
                "invalid_params",
                codes::INVALID_PARAMS,
                "tools/call `params.arguments` must be an object".into(),
            );
        }
        if let Err(why) = connector.filter.check(name) {
            let (code, rpc_code, list) = match why {
                ToolRefusal::Blocked => (
                    "tool_blocked",
                    codes::TOOL_BLOCKED,
                    "blocks it (tools_deny)",
                ),
                ToolRefusal::NotAllowlisted => (
                    "tool_not_allowlisted",
                    codes::TOOL_NOT_ALLOWLISTED,
                    "does not list it (tools_allow)",
                ),
            };
            return refuse(
                summary,
                None,
                code,
                rpc_code,
                format!(
                    "tool `{name}` is not allowed on connector `{}`: its tool list {list}",
                    connector.name
                ),
            );
        }
        let secret_paths = arguments
            .as_ref()
            .map(crate::connectors::arguments::secret_like_paths)
            .unwrap_or_default();
        if !secret_paths.is_empty() {
            return refuse(
                summary,
                None,
                "secret_like_arguments_blocked",
                codes::SECRET_LIKE_ARGUMENTS,
                format!(
                    "secret-looking arguments ({}) are refused: a tool gets its credentials from its own configuration (env_secret_files), never from the agent",
                    secret_paths.join(", ")
                ),
            );
        }
        if connector
            .pins
            .is_some_and(|p| p.is_blocked(connector.name, name))
        {
            let (code, rpc_code, next) = match connector.pin_change {
                PinChange::Refuse => ("tool_pin_changed", codes::TOOL_PIN_CHANGED, "refused"),
                PinChange::Human => (
                    "human_approval_required",
                    codes::HUMAN_APPROVAL_REQUIRED,
                    "held for a person",
                ),
            };
            return refuse(
                summary,
                None,
                code,
                rpc_code,
                format!(
                    "tool `{name}` on `{}` changed its definition since it was pinned, so calls are {next}; \
                     an operator reviews it with `cpos mcp pins list` and accepts it with \
                     `cpos mcp pins accept {} {name}`",
                    connector.name, connector.name
                ),
            );
        }
    }

    let contract = ActionContract {
        kind: if is_call {
            Kind::McpToolsCall
        } else {
            Kind::McpRequest
        },
        agent: agent.map(str::to_owned),
        connector: Some(connector.name.to_owned()),
        tool,
        method: if is_call { None } else { method },
        arguments,
        ..ActionContract::default()
    };
    summary.arg_keys = contract.arg_keys();
    let mut decision = policy.classify(&contract);
    // A connector that requires approval sends what the policy allows to a
    // person (what it refuses stays refused).
    if is_call
        && connector.filter.requires_approval
        && decision.route == crate::policy::Verdict::Allow
    {
        decision.route = crate::policy::Verdict::Human;
        decision.reasons.push("connector_requires_approval".into());
    }
    let refusal =
        crate::refusal::Refusal::for_verdict(decision.route, false, false).map(|r| Refusal {
            code: r.code(),
            rpc_code: r.rpc_code(),
            message: r.message(&decision.reasons.join(", ")),
        });
    Review {
        summary,
        decision: Some(decision),
        refusal,
        contract: Some(contract),
    }
}

#[cfg(test)]
mod tests {
    use super::super::jsonrpc::parse;
    use super::super::pins::ToolHash;
    use super::*;

    fn connector<'a>(filter: &'a ToolFilter, pins: Option<&'a PinStore>) -> Connector<'a> {
        Connector {
            name: "everything",
            filter,
            pins,
            pin_change: PinChange::Refuse,
        }
    }

    #[test]
    fn a_batch_refuses_only_what_it_must() {
        let policy = Policy::embedded().unwrap();
        let filter = ToolFilter::new(&[], &["get-env".into()]).unwrap();
        let body = bytes::Bytes::from_static(
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}},
                {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get-env","arguments":{}}},
                {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run","arguments":{"command":"rm -rf /"}}},
                {"jsonrpc":"2.0","id":4,"method":"tools/list"},
                {"jsonrpc":"2.0","method":"notifications/initialized"}]"#,
        );
        let env = parse(&body).unwrap();
        let plan = review(&env, &connector(&filter, None), &policy, Some("agent-7"));
        let codes: Vec<_> = plan
            .reviews
            .iter()
            .map(|v| v.refusal.as_ref().map(|r| r.code))
            .collect();
        assert_eq!(
            codes,
            [
                None,
                Some("tool_blocked"),
                Some("policy_denied"),
                None,
                None
            ]
        );
        let echo = &plan.reviews[0].summary;
        assert_eq!(echo.kind, "mcp.tools_call");
        assert_eq!(echo.tool.as_deref(), Some("echo"));
        assert_eq!(echo.arg_keys, ["message"]);
        assert_eq!(echo.arg_bytes, Some(r#"{"message":"hi"}"#.len() as u64));

        let errors = plan.errors(&env, |i| format!("r-1.{i}"));
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0]["id"], 2);
        assert_eq!(errors[0]["error"]["code"], codes::TOOL_BLOCKED);
        assert_eq!(errors[1]["id"], 3);
        assert_eq!(errors[1]["error"]["code"], codes::POLICY_DENIED);
        assert_eq!(errors[1]["error"]["data"]["decision_id"], "r-1.2");
        assert_eq!(errors[1]["error"]["data"]["route"], "deny");

        let forwarded: Value =
            serde_json::from_slice(&plan.forward_body(&env, &body).unwrap()).unwrap();
        let ids: Vec<_> = forwarded
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect();
        assert_eq!(ids, [Value::from(1), Value::from(4), Value::Null]);
    }

    #[test]
    fn connector_governance_comes_before_the_policy() {
        let policy = Policy::embedded().unwrap();
        let call = |args: &str| {
            parse(format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{args}}}}}"#).as_bytes())
                .unwrap()
        };
        let code = |filter: &ToolFilter, args: &str| {
            let plan = review(&call(args), &connector(filter, None), &policy, None);
            let v = &plan.reviews[0];
            (
                v.refusal.as_ref().map(|r| r.code),
                v.decision.as_ref().map(|d| d.route),
            )
        };
        let mut filter = ToolFilter::new(&["echo".into()], &[]).unwrap();
        assert_eq!(
            code(&filter, r#"{"message":"hi"}"#),
            (None, Some(crate::policy::Verdict::Allow))
        );
        // Secret-looking keys with values are refused; the message names the path only.
        let plan = review(
            &call(r#"{"db":{"password":"hunter2"}}"#),
            &connector(&filter, None),
            &policy,
            None,
        );
        let refusal = plan.reviews[0].refusal.clone().unwrap();
        assert_eq!(refusal.code, "secret_like_arguments_blocked");
        assert!(
            refusal.message.contains("arguments.db.password")
                && !refusal.message.contains("hunter2")
        );
        // A connector that requires approval sends allowed calls to a person.
        filter.requires_approval = true;
        assert_eq!(
            code(&filter, r#"{"message":"hi"}"#).1,
            Some(crate::policy::Verdict::Human)
        );
        // An inactive connector refuses everything, first.
        filter.active = false;
        assert_eq!(
            code(&filter, r#"{"password":"x"}"#).0,
            Some("connector_not_active")
        );
    }

    #[test]
    fn a_changed_pin_blocks_the_tool_and_bad_params_are_refused() {
        let policy = Policy::embedded().unwrap();
        let filter = ToolFilter::default();
        let pins = PinStore::in_memory();
        let echo = |d: &str| ToolHash::of(&serde_json::json!({"name": "echo", "description": d}));
        pins.observe("everything", &[echo("a")]).unwrap();
        pins.observe("everything", &[echo("b")]).unwrap();
        let env = parse(
            br#"[{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"echo"}},
                 {"jsonrpc":"2.0","id":"y","method":"tools/call","params":{"arguments":{}}}]"#,
        )
        .unwrap();
        let plan = review(&env, &connector(&filter, Some(&pins)), &policy, None);
        let refused: Vec<_> = plan
            .reviews
            .iter()
            .map(|v| v.refusal.as_ref().unwrap().rpc_code)
            .collect();
        assert_eq!(refused, [codes::TOOL_PIN_CHANGED, codes::INVALID_PARAMS]);
        assert!(plan.all_refused());
        assert!(plan.forward_body(&env, &bytes::Bytes::new()).is_none());
    }
}
