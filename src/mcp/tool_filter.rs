//! Per-connector tool governance: allow and deny lists (globs, compiled
//! once), whether the connector is active, and whether every call needs a
//! person.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Which tools of one connector an agent may see and call.
#[derive(Debug, Clone)]
pub struct ToolFilter {
    allow: Option<GlobSet>,
    deny: GlobSet,
    /// Calls go to a person even when the policy allows them.
    pub requires_approval: bool,
    /// False for a disabled or revoked connector: every request is refused.
    pub active: bool,
}

/// Why the tool lists refuse a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolRefusal {
    /// In the deny list (`tools_deny`, `blocked_tools`).
    Blocked,
    /// Not in a non-empty allow list (`tools_allow`, `allowed_tools`).
    NotAllowlisted,
}

impl ToolFilter {
    /// Compiles the lists; an empty allow list allows every tool.
    pub fn new(allow: &[String], deny: &[String]) -> Result<ToolFilter, String> {
        let allow = if allow.is_empty() {
            None
        } else {
            Some(compile(allow)?)
        };
        Ok(ToolFilter {
            allow,
            deny: compile(deny)?,
            requires_approval: false,
            active: true,
        })
    }

    /// True when `tool` is allowed and not denied.
    pub fn permits(&self, tool: &str) -> bool {
        self.check(tool).is_ok()
    }

    /// The lists' verdict on `tool`: the deny list first.
    pub fn check(&self, tool: &str) -> Result<(), ToolRefusal> {
        if self.deny.is_match(tool) {
            return Err(ToolRefusal::Blocked);
        }
        match &self.allow {
            Some(allow) if !allow.is_match(tool) => Err(ToolRefusal::NotAllowlisted),
            _ => Ok(()),
        }
    }
}

impl Default for ToolFilter {
    fn default() -> Self {
        ToolFilter {
            allow: None,
            deny: GlobSet::empty(),
            requires_approval: false,
            active: true,
        }
    }
}

fn compile(patterns: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern)
            .map_err(|e| format!("tool pattern `{pattern}` is not a valid glob ({e})"))?;
        builder.add(glob);
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_wins_and_empty_allow_allows_all() {
        let all = ToolFilter::new(&[], &["get-env".into(), "trigger-*".into()]).unwrap();
        assert!(all.permits("echo"));
        assert!(!all.permits("get-env"));
        assert!(!all.permits("trigger-long-running-operation"));
        let some = ToolFilter::new(&["get-*".into(), "echo".into()], &["get-env".into()]).unwrap();
        assert!(some.permits("echo") && some.permits("get-sum"));
        assert!(!some.permits("get-env") && !some.permits("add"));
        assert_eq!(some.check("get-env"), Err(ToolRefusal::Blocked));
        assert_eq!(some.check("add"), Err(ToolRefusal::NotAllowlisted));
        assert!(ToolFilter::new(&["[".into()], &[]).is_err());
    }
}
