//! Optional notification when an escalation is created: a POST of the
//! entry's metadata, signed with HMAC-SHA256 (`X-CPOS-Signature: sha256=<hex>`
//! over the body), retried with exponential back-off in the background —
//! never on the call path.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Entry;
use crate::config::EscalationSettings;

/// Attempts per notification.
const ATTEMPTS: u32 = 5;

/// Where notifications go.
#[derive(Clone)]
pub struct Webhook {
    url: http::Uri,
    secret: Vec<u8>,
    dashboard_url: Option<String>,
    summary: bool,
}

impl Webhook {
    /// The webhook, when a URL is configured.
    pub fn from_settings(settings: &EscalationSettings) -> Option<Webhook> {
        let url = settings.webhook_url.as_deref()?.parse().ok()?;
        let secret = settings
            .webhook_secret_file
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .map(|s| s.trim_ascii().to_vec())
            .unwrap_or_default();
        Some(Webhook {
            url,
            secret,
            dashboard_url: settings.dashboard_url.clone(),
            summary: settings.webhook_summary,
        })
    }

    /// Sends the notification in the background.
    /// Metadata only, plus a link to the entry on the dashboard when
    /// `dashboard_url` is set, and the masked review summary when
    /// `webhook_summary` is on.
    pub fn notify(&self, entry: &Entry, view: Option<&super::review::ReviewView>) {
        let mut body = serde_json::json!({
            "event": "escalation_created",
            "id": entry.id,
            "created_at": entry.created_at,
            "agent": entry.agent,
            "action": entry.action,
            "risk": entry.risk,
            "reasons": entry.reasons,
            "mode": entry.mode,
        });
        if let Some(base) = &self.dashboard_url {
            body["link"] = format!("{}#{}", base.trim_end_matches('#'), entry.id).into();
        }
        if let (true, Some(view)) = (self.summary, view) {
            body["summary"] = serde_json::json!({
                "why": view.why.iter().map(|w| format!("{}: {} — {}", w.reason, w.description, w.matched)).collect::<Vec<_>>(),
                "commands": view.commands.iter().map(|c| c.line.clone()).collect::<Vec<_>>(),
                "method": view.method,
                "path": view.path,
                "tool": view.tool,
            });
        }
        let body = body.to_string();
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => return,
        };
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let url = self.url.clone();
        tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<http_body_util::Full<bytes::Bytes>>();
            let mut delay = Duration::from_millis(200);
            for attempt in 1..=ATTEMPTS {
                let req = http::Request::post(url.clone())
                    .header("content-type", "application/json")
                    .header("x-cpos-signature", signature.as_str())
                    .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())));
                let Ok(req) = req else { return };
                match tokio::time::timeout(Duration::from_secs(5), client.request(req)).await {
                    Ok(Ok(resp)) if resp.status().is_success() => return,
                    other => {
                        let why = match other {
                            Ok(Ok(resp)) => format!("status {}", resp.status()),
                            Ok(Err(e)) => e.to_string(),
                            Err(_) => "timeout".into(),
                        };
                        tracing::warn!(attempt, error = %why, "escalation webhook failed; retrying");
                    }
                }
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            tracing::error!("escalation webhook gave up after {ATTEMPTS} attempts");
        });
    }
}
