//! Configuration: embedded defaults ← profile defaults ← `cpos.toml` (or
//! `--config`) ← `CPOS_*` environment variables, merged with figment.

mod gates;
mod profile;
pub mod reference;
pub mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use gates::{
    AuthMode, AuthSettings, ClientCertSettings, ClientIpHeader, GateMode, GateSettings,
    IpAllowSettings, RateLimitSettings, RateOverride, ScopeRule,
};
pub use profile::Profile;

/// The embedded default configuration (also shown by `cpos config defaults`).
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// `CPOS_*` environment variables that are not configuration keys (they are
/// read by the CLI or the sandbox), so figment must not treat them as keys.
pub const NON_CONFIG_ENV: &[&str] = &[
    "SANDBOX_LOCAL_DEV",
    "AGENT_ID",
    "ADMIN_URL",
    "ADMIN_TOKEN_FILE",
];

/// The file read when `--config` is not given and it exists.
pub const DEFAULT_CONFIG_FILE: &str = "cpos.toml";

/// The whole sidecar configuration, as merged from every source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Security profile supplying defaults for keys the user left unset.
    pub profile: Profile,
    /// Where relative state paths live (tape, pins, escalation and adapter
    /// stores). Unset: `$XDG_DATA_HOME/cpos`, else `~/.local/share/cpos`,
    /// so an agent's proxy keeps one place whatever directory it starts in.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Listener addresses.
    pub listen: Listen,
    /// Data-plane TLS.
    #[serde(default)]
    pub tls: Tls,
    /// Connection and request limits.
    pub limits: Limits,
    /// Upstream client settings.
    pub upstream: UpstreamSettings,
    /// How requests are made canonical before anything is decided.
    #[serde(default)]
    pub request: RequestSettings,
    /// Path-prefix routes to upstreams, longest prefix first.
    pub routes: Vec<Route>,
    /// Edge gates: client certificate, IP allowlist, rate limits, auth.
    #[serde(default)]
    pub gates: GateSettings,
    /// The classification policy.
    #[serde(default)]
    pub policy: PolicySettings,
    /// The adapter intake endpoint.
    #[serde(default)]
    pub adapter: AdapterSettings,
    /// The MCP gateway: tool pinning.
    #[serde(default)]
    pub mcp: McpSettings,
    /// The sandbox runner behind the `sandbox` route.
    #[serde(default)]
    pub sandbox: SandboxSettings,
    /// The human escalation queue behind the `human` route.
    #[serde(default)]
    pub escalation: EscalationSettings,
    /// Where rate limits, replay nonces and escalations live.
    #[serde(default)]
    pub state: state::StateSettings,
    /// The connector registry and its review queue.
    #[serde(default)]
    pub connectors: ConnectorSettings,
    /// The decision tape.
    pub tape: TapeSettings,
    /// The admin plane.
    pub admin: AdminSettings,
    /// Graceful shutdown.
    pub shutdown: ShutdownSettings,
    /// Logging.
    pub log: LogSettings,

    /// The async runtime.
    #[serde(default)]
    pub runtime: RuntimeSettings,

    /// The file this configuration was read from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `hold` keeps the call open; `async` answers at once and lets the
/// identical call through once after approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EscalationMode {
    /// The call waits for the decision.
    #[default]
    Hold,
    /// The call is answered with the escalation id; retry after approval.
    Async,
}

/// The async runtime.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Worker threads; 0 means one per core. A sidecar next to a busy
    /// application often does better with 1 or 2.
    pub worker_threads: usize,
}

/// Where the two planes listen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Data plane: the proxied traffic.
    pub data: SocketAddr,
    /// Admin plane: health, metrics, integrity, escalations, reload.
    pub admin: SocketAddr,
    /// Health plane: only `GET /healthz` and `/readyz`, unauthenticated,
    /// for orchestrator probes (e.g. `0.0.0.0:9902` in a pod); off when unset.
    #[serde(default)]
    pub health: Option<SocketAddr>,
}

/// Data-plane TLS; enabled when both files are set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

impl Tls {
    /// True when the data plane is configured to speak TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

/// Limits protecting the sidecar from slow or oversized clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Time allowed for a client to send a request's headers (and the TLS handshake).
    pub header_read_timeout_ms: u64,
    /// Largest request head accepted.
    pub max_header_bytes: usize,
    /// Largest body the sidecar will buffer to inspect; larger ones are refused with 413.
    pub max_inspect_body_bytes: usize,
    /// Time allowed for a client to send a body the sidecar inspects.
    pub body_read_timeout_ms: u64,
    /// A connection with nothing in flight and no bytes moving for this long is closed.
    pub idle_timeout_ms: u64,
    /// Connections beyond this wait in the kernel backlog.
    pub max_connections: usize,
    /// Open connections allowed from one client address; more are closed at once.
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
}

fn default_max_connections_per_ip() -> usize {
    256
}

/// How a request is made canonical (see `src/canonical.rs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestSettings {
    /// `refuse` (default, 400) or `strip` method-override headers.
    pub method_override: crate::canonical::OverridePolicy,
    /// `decompress` (default: gzip and deflate, under the inspection cap and
    /// a 100:1 ratio) or `refuse` (415) bodies with a `Content-Encoding`.
    pub content_encoding: ContentEncodingPolicy,
}

/// What an inspecting route does with a compressed request body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentEncodingPolicy {
    /// Decompress gzip / deflate and classify the result; other codings get 415.
    #[default]
    Decompress,
    /// Refuse every encoded body with 415.
    Refuse,
}

/// The pooled upstream client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// TCP (and TLS) connect timeout.
    pub connect_timeout_ms: u64,
    /// Time allowed for the upstream to send response headers.
    pub response_timeout_ms: u64,
    /// Idle pooled connections are closed after this.
    pub pool_idle_timeout_ms: u64,
    /// Idle pooled connections kept: per route for `http://` upstreams,
    /// per host for `https://` and h2c ones.
    pub pool_max_idle_per_host: usize,
    /// Extra PEM CA bundle trusted for `https://` upstreams (besides the system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// How the `Host` header reaches the upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostMode {
    /// Forward the client's `Host` unchanged (MCP servers check it).
    #[default]
    Preserve,
    /// Send the upstream's own authority.
    Upstream,
}

/// Which request bodies a route reads to classify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InspectMode {
    /// Every body up to `limits.max_inspect_body_bytes` (larger ones are
    /// refused), classified as JSON whenever it parses, whatever its declared
    /// type: a tool call cannot dodge classification by mislabelling itself.
    #[default]
    All,
    /// Only bodies declared JSON; others stream unread (for large uploads).
    Json,
}

/// One path-prefix route.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Name used in metrics, logs and the tape.
    pub name: String,
    /// Path prefix matched on segment boundaries (`/api` matches `/api/x`, not `/apix`).
    pub prefix: String,
    /// `http://host:port[/base]`, `https://…`, or `builtin:demo`.
    pub upstream: String,
    /// Remove the prefix before forwarding.
    #[serde(default)]
    pub strip_prefix: bool,
    /// `preserve` (default) or `upstream`.
    #[serde(default)]
    pub host: HostMode,
    /// Speak HTTP/2 with prior knowledge to a cleartext upstream.
    #[serde(default)]
    pub http2: bool,
    /// `all` (default) or `json`: which bodies are read to classify.
    #[serde(default)]
    pub inspect: InspectMode,
    /// For HTTP tool APIs: the path segment after this prefix names the tool
    /// (`/tools/` makes `POST /tools/delete_file` the tool `delete_file`).
    #[serde(default)]
    pub tool_path_prefix: Option<String>,
    /// `http` (default) or `mcp`: an MCP streamable-HTTP endpoint whose
    /// JSON-RPC messages are intercepted one by one.
    #[serde(default)]
    pub protocol: Protocol,
    /// MCP: tools the agent may see and call (globs; empty = all).
    #[serde(default)]
    pub tools_allow: Vec<String>,
    /// MCP: tools removed from listings and refused (globs; wins over allow).
    #[serde(default)]
    pub tools_deny: Vec<String>,
    /// With `upstream = "stdio"`: the MCP server command that `cpos serve`
    /// spawns and exposes over streamable HTTP.
    #[serde(default)]
    pub command: Vec<String>,
    /// With `upstream = "stdio"`: variables the server gets, each read from
    /// its file when the server starts (`GITHUB_TOKEN = "/run/secrets/gh"`).
    /// The server gets these and a base (`PATH`, `HOME`, `LANG`, `LC_ALL`,
    /// `TZ`, `TMPDIR`), never the sidecar's own environment.
    #[serde(default)]
    pub env_secret_files: std::collections::BTreeMap<String, PathBuf>,
    /// MCP: every tool call goes to a person, even when the policy allows
    /// it (connector definitions default to true).
    #[serde(default)]
    pub requires_human_approval: bool,
    /// MCP: false answers every request `connector_not_active` (a disabled
    /// or revoked connector).
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// `connectors.*`: MCP servers registered at run time through the review
/// queue (docs/MCP.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectorSettings {
    /// The registry and its reviews (JSON, rewritten whole on change).
    pub store_file: PathBuf,
    /// Registered connectors are served at `<route_prefix>/<connector_id>`.
    pub route_prefix: String,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        ConnectorSettings {
            store_file: PathBuf::from("connectors.json"),
            route_prefix: "/connectors".into(),
        }
    }
}

/// What a route speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Plain HTTP tool APIs.
    #[default]
    Http,
    /// MCP streamable HTTP.
    Mcp,
}

/// The human escalation queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationSettings {
    /// Queue `human`-routed calls (off: they are refused with `human_approval_required`).
    pub enabled: bool,
    /// `hold` (the call waits) or `async` (answered at once; retry after approval).
    pub mode: EscalationMode,
    /// How long a held call waits for a decision.
    pub hold_timeout_ms: u64,
    /// How long an async entry stays decidable.
    pub pending_ttl_ms: u64,
    /// How long an async approval lets the identical call through (once).
    pub approval_ttl_ms: u64,
    /// The local store (JSON lines).
    pub store_file: PathBuf,
    /// POSTed (metadata, HMAC-signed) when an entry is created.
    pub webhook_url: Option<String>,
    /// The webhook's HMAC secret.
    pub webhook_secret_file: Option<PathBuf>,
    /// The dashboard as reviewers reach it (`https://cpos.example/ui`): the
    /// webhook then links each entry (`…/ui#esc_…`).
    pub dashboard_url: Option<String>,
    /// Add the masked review summary (reasons in words, command lines) to
    /// the webhook; off by default, refused by the hardened profile.
    pub webhook_summary: bool,
    /// Pending entries one agent may have at once; past it, new calls that
    /// need a person are refused with 429 (an agent cannot flood reviewers).
    pub max_pending_per_agent: usize,
    /// How long ended entries (decided, expired, cancelled, used) stay listed
    /// before they are pruned from memory and the store (the tape keeps
    /// every decision).
    pub retain_ended_ms: u64,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        EscalationSettings {
            enabled: true,
            mode: EscalationMode::Hold,
            hold_timeout_ms: 300_000,
            pending_ttl_ms: 86_400_000,
            approval_ttl_ms: 600_000,
            store_file: PathBuf::from("escalations.jsonl"),
            webhook_url: None,
            webhook_secret_file: None,
            dashboard_url: None,
            webhook_summary: false,
            max_pending_per_agent: 32,
            retain_ended_ms: 86_400_000,
        }
    }
}

/// How the sandbox runs commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// bubblewrap required; when it cannot start, fail closed (`sandbox_unavailable`).
    #[default]
    Strict,
    /// bubblewrap when it works, else a local run marked `fallback` in the result and on the tape.
    Permissive,
    /// Local runs only; needs `CPOS_SANDBOX_LOCAL_DEV=1` in the environment.
    LocalDev,
}

/// The sandbox runner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// Run `sandbox`-routed actions and serve `POST /sandbox/validate`.
    pub enabled: bool,
    /// `strict`, `permissive` or `local-dev`.
    pub mode: SandboxMode,
    /// The bubblewrap binary (looked up in PATH when not absolute).
    pub bwrap: PathBuf,
    /// The workspace commands see at `/workspace`.
    pub workspace: PathBuf,
    /// Give commands a writable ephemeral copy of the workspace (else read-only).
    pub writable_workspace: bool,
    /// Bytes a command may have in its writable workspace: the copy is
    /// loaded into a tmpfs of this size inside the sandbox (0: no cap, the
    /// host copy is bound directly).
    pub max_workspace_bytes: u64,
    /// Size of the sandbox's private `/tmp` (a tmpfs).
    pub max_tmp_bytes: u64,
    /// Allowlisted command prefixes (token lists).
    pub allowed_commands: Vec<Vec<String>>,
    /// Environment variables passed from the sidecar's environment (nothing else is).
    pub env_allow: Vec<String>,
    /// Extra host paths bound read-only at the same place (toolchains, e.g. `/opt/rust`).
    pub ro_binds: Vec<PathBuf>,
    /// Wall-clock limit per command; the whole process tree is killed.
    pub timeout_ms: u64,
    /// CPU seconds per command (RLIMIT_CPU).
    pub cpu_seconds: u64,
    /// Address space per process (RLIMIT_AS).
    pub memory_bytes: u64,
    /// Processes of the sandbox user (RLIMIT_NPROC; the sandbox runs as `run_as_uid` when the sidecar is root).
    pub max_processes: u64,
    /// Open files per process (RLIMIT_NOFILE).
    pub max_open_files: u64,
    /// Captured bytes per stream; the rest is counted and dropped.
    pub max_output_bytes: usize,
    /// The unprivileged uid/gid commands run as when the sidecar runs as root.
    pub run_as_uid: u32,
    /// MCP tools whose calls are commands: routed `sandbox`, they run here
    /// instead of upstream, and the output is the tool result.
    pub command_tools: Vec<CommandTool>,
}

/// An MCP tool that runs a command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandTool {
    /// The MCP route (connector) name.
    pub connector: String,
    /// The tool name.
    pub tool: String,
    /// The argument holding the argv (an array of strings, or a command string).
    pub argv_argument: String,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        SandboxSettings {
            enabled: true,
            mode: SandboxMode::Strict,
            bwrap: PathBuf::from("bwrap"),
            workspace: PathBuf::from("."),
            writable_workspace: true,
            max_workspace_bytes: 1 << 30,
            max_tmp_bytes: 256 << 20,
            allowed_commands: [
                "cargo test",
                "pytest",
                "python3 -m pytest",
                "python -m pytest",
                "npm test",
                "npm run test",
                "go test",
                "make test",
            ]
            .into_iter()
            .map(words)
            .collect(),
            env_allow: vec!["LANG".into(), "LC_ALL".into(), "TZ".into()],
            ro_binds: Vec::new(),
            timeout_ms: 120_000,
            cpu_seconds: 120,
            memory_bytes: 4 << 30,
            max_processes: 256,
            max_open_files: 1024,
            max_output_bytes: 1 << 20,
            run_as_uid: 65534,
            command_tools: Vec::new(),
        }
    }
}

/// The MCP gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Pin every tool's definition on first sight and withhold changed ones.
    pub pinning: bool,
    /// The pin file, shared with `cpos mcp pins` and `cpos stdio`.
    pub pins_file: PathBuf,
    /// `refuse` (default) or `human`: what calls to a changed tool get.
    pub pin_changes: crate::mcp::PinChange,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            pinning: true,
            pins_file: PathBuf::from("mcp-pins.json"),
            pin_changes: crate::mcp::PinChange::Refuse,
        }
    }
}

/// The classification policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// Policy files layered, in order, on the embedded default: their
    /// rules are added, a rule with a default rule's id replaces it, and
    /// their settings lists are added (`cpos policy test` them first).
    pub files: Vec<PathBuf>,
    /// Leave the embedded default out: only `files` classify (logged as a
    /// warning at start and shown by `preflight`).
    pub replace_defaults: bool,
    /// One policy file replacing the embedded default (the same as
    /// `files = [file]` with `replace_defaults = true`).
    pub file: Option<PathBuf>,
}

impl PolicySettings {
    /// True when the embedded default is left out.
    pub fn replaces_defaults(&self) -> bool {
        self.replace_defaults || self.file.is_some()
    }
}

/// The adapter intake endpoint (the original's External Agent Adapter).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdapterSettings {
    /// Serve the adapter on the data plane.
    pub enabled: bool,
    /// Path prefix it is served under.
    pub prefix: String,
    /// Metadata-only store of contracts awaiting a decision.
    pub store_file: PathBuf,
}

impl Default for AdapterSettings {
    fn default() -> Self {
        AdapterSettings {
            enabled: true,
            prefix: "/agent-adapter".into(),
            store_file: PathBuf::from("adapter/actions.jsonl"),
        }
    }
}

/// When the tape is forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// fsync every group commit before acknowledging it.
    Always,
    /// fsync after every `fsync_batch_records` records.
    Batch,
    /// fsync every `fsync_interval_ms`.
    Interval,
}

/// The decision tape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeSettings {
    /// Directory holding `tape-NNNNNN.jsonl` segments.
    pub dir: PathBuf,
    /// `always`, `batch` or `interval`.
    pub fsync: FsyncPolicy,
    /// Period of `interval` fsyncs.
    pub fsync_interval_ms: u64,
    /// Records between `batch` fsyncs.
    pub fsync_batch_records: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_max_bytes: u64,
    /// Records waiting for the writer before appends apply back-pressure.
    pub queue_capacity: usize,
    /// The `prev_hash` the first kept record must chain from, when older
    /// segments were archived away; unset, the tape must start at genesis.
    #[serde(default)]
    pub anchor: Option<String>,
}

/// The admin plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Serve the admin listener at all.
    pub enabled: bool,
}

/// Graceful shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    /// In-flight requests get this long to finish after SIGTERM / SIGINT.
    pub grace_ms: u64,
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `cpos=debug,hyper=warn`.
    pub level: String,
    /// One line per request (target `cpos::request`). Off by default: the
    /// tape already records every request, and formatting and writing a
    /// line per request costs about a sixth of a core's throughput.
    #[serde(default)]
    pub requests: bool,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Command-line overrides applied on top of every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--profile`.
    pub profile: Option<Profile>,
    /// `--listen`.
    pub data: Option<SocketAddr>,
    /// `--admin-listen`.
    pub admin: Option<SocketAddr>,
    /// `--upstream`: replaces every route with one `/` route to this URL.
    pub upstream: Option<String>,
    /// `--tape-dir`.
    pub tape_dir: Option<PathBuf>,
}

/// A configuration that could not be loaded; the message names the source,
/// the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The explicitly named file does not exist.
    #[error("config file {0} not found: pass an existing file to --config, or omit it to use embedded defaults")]
    Missing(PathBuf),
    /// figment could not read or type-check a value.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The values parse but contradict each other.
    #[error("invalid configuration: {0}")]
    Semantic(String),
}

/// The per-user data directory: `$XDG_DATA_HOME/cpos`, else
/// `$HOME/.local/share/cpos`, else `./cpos-data`.
pub fn default_data_dir() -> PathBuf {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(xdg) = absolute("XDG_DATA_HOME") {
        return xdg.join("cpos");
    }
    match absolute("HOME") {
        Some(home) if home != Path::new("/") => home.join(".local/share/cpos"),
        _ => PathBuf::from("cpos-data"),
    }
}

impl Config {
    /// Loads configuration from every source. `file` is `--config`; without it
    /// `./cpos.toml` is read when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let file = match file {
            Some(path) if !path.exists() => return Err(ConfigError::Missing(path.to_path_buf())),
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        let user = |figment: Figment| {
            let figment = match &file {
                Some(path) => figment.merge(Toml::file_exact(path)),
                None => figment,
            };
            figment.merge(Env::prefixed("CPOS_").ignore(NON_CONFIG_ENV).split("__"))
        };
        let mut config = Config::layered(user, overrides.profile)?;
        config.source = file;
        config.resolve_state_paths();
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    /// Sets `data_dir` (see its doc) and puts the relative state paths under
    /// it. Paths given on the command line are applied afterwards and stay
    /// relative to the working directory.
    pub fn resolve_state_paths(&mut self) {
        let data = self.data_dir.clone().unwrap_or_else(default_data_dir);
        for path in [
            &mut self.tape.dir,
            &mut self.mcp.pins_file,
            &mut self.escalation.store_file,
            &mut self.adapter.store_file,
            &mut self.connectors.store_file,
        ] {
            if path.is_relative() {
                *path = data.join(&*path);
            }
        }
        self.data_dir = Some(data);
    }

    /// Every file and directory of the sidecar's own that a sandboxed
    /// command must never see: the configuration, key, token, secret and pin
    /// files, TLS keys, the tape and the state stores.
    pub fn own_paths(&self) -> Vec<PathBuf> {
        let auth = &self.gates.auth;
        let mut paths: Vec<PathBuf> = [
            self.source.as_ref(),
            self.tls.key_file.as_ref(),
            self.tls.cert_file.as_ref(),
            auth.key_registry_file.as_ref(),
            auth.hmac_secret_file.as_ref(),
            auth.token_file.as_ref(),
            auth.token_registry_file.as_ref(),
            auth.scopes_file.as_ref(),
            self.gates.client_cert.pin_file.as_ref(),
            self.escalation.webhook_secret_file.as_ref(),
            self.policy.file.as_ref(),
            self.state.redis_url_file.as_ref(),
            self.state.redis_ca_file.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        for route in &self.routes {
            paths.extend(route.env_secret_files.values().cloned());
        }
        paths.extend([
            self.tape.dir.clone(),
            self.escalation.store_file.clone(),
            self.mcp.pins_file.clone(),
            self.adapter.store_file.clone(),
            self.connectors.store_file.clone(),
        ]);
        paths
    }

    /// Parses one TOML document on top of the embedded defaults (used by tests and benches).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config = Config::layered(|f| f.merge(Toml::string(text)), None)?;
        config.validate()?;
        Ok(config)
    }

    /// Embedded defaults ← profile defaults ← `user` layers. The profile is
    /// read from the user's layers first (unless forced), so its defaults sit
    /// underneath whatever the user wrote.
    fn layered(
        user: impl Fn(Figment) -> Figment,
        forced: Option<Profile>,
    ) -> Result<Config, ConfigError> {
        let invalid = |e| ConfigError::Invalid(describe(e));
        let profile = match forced {
            Some(p) => p,
            None => user(Figment::from(Toml::string(DEFAULTS_TOML)))
                .extract_inner::<Profile>("profile")
                .map_err(invalid)?,
        };
        let mut config: Config = user(
            Figment::from(Toml::string(DEFAULTS_TOML)).merge(Toml::string(profile.defaults_toml())),
        )
        .extract()
        .map_err(invalid)?;
        config.profile = profile;
        Ok(config)
    }

    fn apply(&mut self, o: &Overrides) {
        if let Some(addr) = o.data {
            self.listen.data = addr;
        }
        if let Some(addr) = o.admin {
            self.listen.admin = addr;
        }
        if let Some(url) = &o.upstream {
            self.routes = vec![Route {
                name: "default".into(),
                prefix: "/".into(),
                upstream: url.clone(),
                strip_prefix: false,
                host: HostMode::Preserve,
                http2: false,
                inspect: InspectMode::All,
                tool_path_prefix: None,
                protocol: Protocol::Http,
                tools_allow: Vec::new(),
                tools_deny: Vec::new(),
                command: Vec::new(),
                env_secret_files: Default::default(),
                requires_human_approval: false,
                enabled: true,
            }];
        }
        if let Some(dir) = &o.tape_dir {
            self.tape.dir = dir.clone();
        }
    }

    /// Checks relations between values that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |msg: String| Err(ConfigError::Semantic(msg));
        // A bare word that is not a level would silently filter every log
        // line out (it reads as a target name).
        let level = self.log.level.trim();
        let known = ["trace", "debug", "info", "warn", "error", "off"];
        if !level.contains(['=', ',']) && !known.contains(&level.to_ascii_lowercase().as_str()) {
            return bad(format!(
                "log.level `{level}` is not a level: use trace, debug, info, warn, error or off, or directives like `cpos=debug,info`"
            ));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return bad("tls.cert_file and tls.key_file must be set together".into());
        }
        if self.limits.max_connections == 0 {
            return bad("limits.max_connections must be at least 1".into());
        }
        if self.limits.max_header_bytes < 1024 {
            return bad("limits.max_header_bytes must be at least 1024".into());
        }
        if self.state.backend == state::StateBackend::Redis {
            if self.state.redis_url.is_none() && self.state.redis_url_file.is_none() {
                return bad(
                    "state.backend = \"redis\" needs state.redis_url_file (a file holding redis://… or rediss://…)".into(),
                );
            }
            if self.state.timeout_ms == 0 || self.state.breaker_failures == 0 {
                return bad(
                    "state.timeout_ms and state.breaker_failures must be at least 1".into(),
                );
            }
        }
        if self.tape.queue_capacity == 0 || self.tape.segment_max_bytes < 4096 {
            return bad("tape.queue_capacity must be ≥ 1 and tape.segment_max_bytes ≥ 4096".into());
        }
        for (i, route) in self.routes.iter().enumerate() {
            if !route.prefix.starts_with('/') {
                return bad(format!(
                    "routes[{i}].prefix `{}` must start with `/`",
                    route.prefix
                ));
            }
            if route.upstream == "stdio" {
                if route.command.is_empty() || route.protocol != Protocol::Mcp {
                    return bad(format!(
                        "routes[{i}]: upstream = \"stdio\" needs protocol = \"mcp\" and a non-empty command = [\"server\", \"args\"…]"
                    ));
                }
                continue;
            }
            if !route.command.is_empty() {
                return bad(format!(
                    "routes[{i}].command is only for upstream = \"stdio\""
                ));
            }
            crate::proxy::UpstreamTarget::parse(&route.upstream)
                .map_err(|e| ConfigError::Semantic(format!("routes[{i}].upstream: {e}")))?;
        }
        for (i, route) in self.routes.iter().enumerate() {
            if route.protocol != Protocol::Mcp {
                continue;
            }
            // MCP upstreams pass the connector check (docs/MCP.md).
            if let Some(f) = crate::connectors::check_route(route).first() {
                return bad(format!(
                    "routes[{i}] (`{}`): {}: {}",
                    route.name, f.code, f.message
                ));
            }
        }
        if self.profile == Profile::Hardened && self.sandbox.mode != SandboxMode::Strict {
            return bad(format!(
                "sandbox.mode = {:?} is refused by the hardened profile; use \"strict\"",
                self.sandbox.mode
            ));
        }
        if self.sandbox.mode == SandboxMode::LocalDev
            && std::env::var("CPOS_SANDBOX_LOCAL_DEV").as_deref() != Ok("1")
        {
            return bad("sandbox.mode = \"local-dev\" runs commands without isolation; it needs CPOS_SANDBOX_LOCAL_DEV=1 in the environment".into());
        }
        Ok(())
    }

    /// Header read timeout as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.header_read_timeout_ms)
    }
}

fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!(" at key `{}`", e.path.join("."))
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(src) => format!(" (from {src})"),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            format!("{}{key}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_log_level_is_refused_instead_of_silencing_the_log() {
        let err = Config::from_toml("[log]\nlevel = \"verbose\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.level `verbose` is not a level"), "{err}");
        for ok in ["debug", "WARN", "cpos=debug,info", "off"] {
            Config::from_toml(&format!("[log]\nlevel = \"{ok}\"")).unwrap();
        }
    }

    #[test]
    fn embedded_defaults_parse_and_route_to_the_demo() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.profile, Profile::Dev);
        assert_eq!(config.routes[0].upstream, "builtin:demo");
        assert_eq!(config.tape.fsync, FsyncPolicy::Interval);
    }

    #[test]
    fn hardened_profile_fills_only_unset_keys() {
        let config = Config::from_toml("profile = \"hardened\"").unwrap();
        assert_eq!(config.tape.fsync, FsyncPolicy::Always);
        let config =
            Config::from_toml("profile = \"hardened\"\n[tape]\nfsync = \"interval\"").unwrap();
        assert_eq!(config.tape.fsync, FsyncPolicy::Interval);
    }

    #[test]
    fn a_bad_value_names_the_key_and_expectation() {
        let err = Config::from_toml("[limits]\nmax_connections = \"many\"").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("limits.max_connections"), "{msg}");
        assert!(msg.contains("expected"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::from_toml("[limits]\nmax_conections = 3").unwrap_err();
        assert!(err.to_string().contains("max_conections"), "{err}");
    }

    #[test]
    fn routes_are_validated() {
        let err = Config::from_toml(
            "[[routes]]\nname=\"x\"\nprefix=\"api\"\nupstream=\"http://127.0.0.1:1\"",
        )
        .unwrap_err();
        assert!(err.to_string().contains("routes[0].prefix"), "{err}");
    }
}
