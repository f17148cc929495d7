//! Security profiles: named sets of defaults layered *under* the user's own
//! configuration, so a profile never overrides what the user wrote.

use serde::{Deserialize, Serialize};

/// The security posture the sidecar runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Local development: every gate off, tape fsync on an interval.
    #[default]
    Dev,
    /// Observe-only: gates record violations but do not refuse.
    Audit,
    /// Production: TLS, every gate on and fail closed, fsync on every commit.
    Hardened,
}

impl Profile {
    /// The profile's name as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Audit => "audit",
            Profile::Hardened => "hardened",
        }
    }

    /// TOML defaults this profile contributes beneath the user's settings.
    pub fn defaults_toml(self) -> &'static str {
        match self {
            Profile::Dev => "",
            Profile::Audit => {
                "[tape]\nfsync = \"batch\"\n\
                 [gates.client_cert]\nmode = \"audit\"\n"
            }
            Profile::Hardened => {
                "[tape]\nfsync = \"always\"\n\
                 [gates.client_cert]\nmode = \"enforce\"\n\
                 [gates.ip_allow]\nenabled = true\n\
                 [gates.rate_limit]\nenabled = true\nrequests = 60\nmutation_requests = 10\nwindow_seconds = 60\n\
                 [gates.auth]\nmode = \"hmac\"\n\
                 [state]\non_failure = \"fail_closed\"\n"
            }
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dev" => Ok(Profile::Dev),
            "audit" => Ok(Profile::Audit),
            "hardened" => Ok(Profile::Hardened),
            other => Err(format!(
                "unknown profile `{other}`: expected one of dev, audit, hardened"
            )),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
