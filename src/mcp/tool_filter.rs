//! Per-connector tool allow and deny lists (globs), compiled once.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Which tools of one connector an agent may see and call.
#[derive(Debug, Clone)]
pub struct ToolFilter {
    allow: Option<GlobSet>,
    deny: GlobSet,
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
        })
    }

    /// True when `tool` is allowed and not denied.
    pub fn permits(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.is_match(tool)) && !self.deny.is_match(tool)
    }
}

impl Default for ToolFilter {
    fn default() -> Self {
        ToolFilter {
            allow: None,
            deny: GlobSet::empty(),
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
        assert!(ToolFilter::new(&["[".into()], &[]).is_err());
    }
}
