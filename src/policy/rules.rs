//! The policy file format (TOML) and its compilation: globs into glob sets,
//! regex lists into regex sets, once, at load. A bad rule is refused with
//! the file, the rule id and the reason.

use std::collections::BTreeMap;

/// Sets looked up on the hot path: foldhash, not SipHash (the keys are
/// policy words, not attacker-chosen table sizes).
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::anchor::Anchor;
use super::capability::Capability;
use super::prefilter::PatternSet;
use super::tool_call::ToolEffect;
use crate::action::{Kind, Risk};

/// Where a decision sends an action, ordered by precedence.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Forward / let the agent proceed.
    #[default]
    Allow,
    /// Run it isolated.
    Sandbox,
    /// Hold for a person.
    Human,
    /// Refuse.
    Deny,
}

impl Verdict {
    /// The route's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Sandbox => "sandbox",
            Verdict::Human => "human",
            Verdict::Deny => "deny",
        }
    }
}

/// A policy file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Settings shared by the rules.
    #[serde(default)]
    pub settings: Settings,
    /// The rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// Shared settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Hosts network rules consider safe (globs: `*.example.com`).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// E-mail domains tool calls may send to (globs).
    #[serde(default)]
    pub trusted_email_domains: Vec<String>,
    /// Exact recipients tool calls may send to: e-mail addresses, IBANs,
    /// account ids.
    #[serde(default)]
    pub trusted_recipients: Vec<String>,
}

impl Settings {
    /// Adds a later file's lists to these.
    pub fn extend(&mut self, later: Settings) {
        self.allowed_hosts.extend(later.allowed_hosts);
        self.trusted_email_domains
            .extend(later.trusted_email_domains);
        self.trusted_recipients.extend(later.trusted_recipients);
    }
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id (also recorded on the tape).
    pub id: String,
    /// What the rule is about, for people.
    pub description: String,
    /// Risk when it fires.
    pub risk: Risk,
    /// The verdict when it fires.
    pub route: Verdict,
    /// Category reason (`destructive_operation`, `secret_material`, …).
    pub reason: String,
    /// For `human` rules: `hold` or `async`, overriding `escalation.mode`.
    #[serde(default)]
    pub escalation: Option<crate::config::EscalationMode>,
    /// Conditions, all of which must hold.
    pub when: WhenSpec,
}

/// Rule conditions as written. Lists are alternatives; keys are AND-ed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenSpec {
    kinds: Option<Vec<Kind>>,
    agents: Option<Vec<String>>,
    connectors: Option<Vec<String>>,
    tools: Option<Vec<String>>,
    methods: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    /// Program names (globs) of a simple command.
    commands: Option<Vec<String>>,
    /// First positional argument of that command.
    subcommands: Option<Vec<String>>,
    /// Every group must be present: `"r|R|recursive"`.
    flags_all: Option<Vec<String>>,
    /// At least one must be present.
    flags_any: Option<Vec<String>>,
    /// None may be present (`"h|help"`: a help request acts on nothing).
    flags_none: Option<Vec<String>>,
    /// `false`: the rule holds only when the command makes its change, not
    /// when it previews it (`--dry-run`, `--what-if`, `plan`, `diff`).
    previews: Option<bool>,
    /// Some argument matches one of these regexes.
    args_any: Option<Vec<String>>,
    /// …unless every positional argument matches one of these.
    args_not_all: Option<Vec<String>>,
    /// The simple command's text matches.
    line: Option<Vec<String>>,
    /// A whole command line as written matches (pipelines: `curl … | sh`).
    raw: Option<Vec<String>>,
    /// Inline interpreter code (`python -c`, `node -e`) matches.
    code: Option<Vec<String>>,
    /// A changed file matches (globs).
    files: Option<Vec<String>>,
    /// Some text (diff, intent) matches.
    texts: Option<Vec<String>>,
    /// An argument key (at any depth) matches.
    arg_keys: Option<Vec<String>>,
    /// A string argument value (at any depth) matches.
    arg_values: Option<Vec<String>>,
    /// A URL or host outside `settings.allowed_hosts` appears.
    hosts_outside_allowlist: Option<bool>,
    /// A host the action connects to matches one of these globs (hosts
    /// as dialled: lower-case, numeric addresses as dotted quads).
    hosts: Option<Vec<String>>,
    /// Some simple command can do one of these (`shell_escape`, `network`…).
    capabilities: Option<Vec<Capability>>,
    /// Some simple command can do all of these.
    capabilities_all: Option<Vec<Capability>>,
    /// The tool call has one of these effects (judged on its arguments).
    tool_effects: Option<Vec<ToolEffect>>,
    /// The secret detector found something.
    secrets: Option<bool>,
    /// Declared metadata.
    metadata: Option<MetadataSpec>,
}

/// Metadata conditions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataSpec {
    touches_secrets: Option<bool>,
    touches_production: Option<bool>,
    destructive: Option<bool>,
    requires_publish: Option<bool>,
    opens_port: Option<bool>,
    requires_human_approval: Option<bool>,
    environment: Option<Vec<String>>,
    risk: Option<Vec<Risk>>,
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable id.
    pub id: String,
    /// Description.
    pub description: String,
    /// Risk when it fires.
    pub risk: Risk,
    /// The verdict when it fires.
    pub route: Verdict,
    /// Category reason.
    pub reason: String,
    /// Escalation mode for `human` rules, when the rule sets one.
    pub escalation: Option<crate::config::EscalationMode>,
    pub(crate) when: When,
}

#[derive(Debug, Default)]
pub(crate) struct When {
    pub kinds: Option<Vec<Kind>>,
    pub agents: Option<GlobSet>,
    pub connectors: Option<GlobSet>,
    pub tools: Option<GlobSet>,
    /// Upper-case method names.
    pub methods: Option<Vec<String>>,
    pub paths: Option<GlobSet>,
    /// Boxed: the largest condition, absent from most rules, so the rule
    /// loop reads less memory per rule.
    pub command: Option<Box<CommandCond>>,
    pub raw: Option<PatternSet>,
    pub code: Option<PatternSet>,
    pub files: Option<GlobSet>,
    pub texts: Option<PatternSet>,
    pub arg_keys: Option<PatternSet>,
    pub arg_values: Option<PatternSet>,
    pub hosts_outside_allowlist: Option<bool>,
    pub hosts: Option<GlobSet>,
    /// Bit masks: any of `.0`, and all of `.1`, on one command.
    pub capabilities: Option<(u16, u16)>,
    pub tool_effects: Option<Vec<ToolEffect>>,
    pub secrets: Option<bool>,
    pub metadata: Option<MetaCond>,
}

/// Program names: exact names in a hash set, globs only for real patterns.
#[derive(Debug, Default)]
pub(crate) struct Programs {
    exact: HashSet<String>,
    globs: Option<GlobSet>,
    /// The names and name prefixes the list pins, unless a glob is more
    /// than a trailing `*`.
    anchor: Option<Anchor>,
}

impl Programs {
    pub fn matches(&self, program: &str) -> bool {
        self.exact.contains(program) || self.globs.as_ref().is_some_and(|g| g.is_match(program))
    }
}

impl Rule {
    /// What a contract must carry for this rule to be worth evaluating:
    /// the [`needs`] bits of its conditions that can only hold on something
    /// present (a command, a changed file, a text…), and the contract kinds
    /// it names (`u32::MAX` for any). A cheap filter before the matchers.
    pub(crate) fn prerequisites(&self) -> (u16, u32) {
        let w = &self.when;
        let mut need = 0;
        let mut set = |cond: bool, bit: u16| {
            if cond {
                need |= bit;
            }
        };
        set(w.command.is_some() || w.code.is_some(), needs::COMMANDS);
        set(w.capabilities.is_some(), needs::CAPABILITIES);
        set(w.raw.is_some(), needs::RAW);
        set(w.files.is_some(), needs::FILES);
        set(w.texts.is_some(), needs::TEXTS);
        set(w.arg_keys.is_some(), needs::ARG_KEYS);
        set(w.arg_values.is_some(), needs::ARG_VALUES);
        set(
            w.hosts_outside_allowlist == Some(true) || w.hosts.is_some(),
            needs::HOSTS,
        );
        set(w.tool_effects.is_some(), needs::TOOL_EFFECTS);
        set(w.secrets == Some(true), needs::SECRETS);
        let kinds = w
            .kinds
            .as_ref()
            .map_or(u32::MAX, |k| k.iter().fold(0, |m, k| m | kind_bit(*k)));
        (need, kinds)
    }

    /// The programs one of which a command must run for this rule to
    /// fire, when its `commands` or its `line` patterns pin them.
    pub(crate) fn anchor(&self) -> Option<&Anchor> {
        let cond = self.when.command.as_ref()?;
        cond.programs
            .as_ref()
            .and_then(|p| p.anchor.as_ref())
            .or(cond.line_anchor.as_ref())
    }
}

#[derive(Debug, Default)]
pub(crate) struct CommandCond {
    pub programs: Option<Programs>,
    /// Programs every `line` pattern is anchored on (`^git …`), when that
    /// can be read off the patterns: a cheap filter before the regexes.
    pub line_anchor: Option<Anchor>,
    pub subcommands: Option<HashSet<String>>,
    pub flags_all: Vec<Vec<String>>,
    pub flags_any: Vec<Vec<String>>,
    pub flags_none: Vec<Vec<String>>,
    /// Whether the command must (`true`) or must not (`false`) be a preview.
    pub previews: Option<bool>,
    pub args_any: Option<PatternSet>,
    pub args_not_all: Option<PatternSet>,
    pub line: Option<PatternSet>,
}

#[derive(Debug, Default)]
pub(crate) struct MetaCond {
    pub flags: BTreeMap<&'static str, bool>,
    pub environment: Option<GlobSet>,
    pub risk: Option<HashSet<Risk>>,
}

/// Compiles `spec` or explains what is wrong with it.
pub fn compile(spec: RuleSpec) -> Result<Rule, String> {
    let w = spec.when;
    let globs = |list: Option<Vec<String>>, field: &str| -> Result<Option<GlobSet>, String> {
        let Some(list) = list else { return Ok(None) };
        let mut builder = GlobSetBuilder::new();
        for g in &list {
            let glob = globset::GlobBuilder::new(g)
                .case_insensitive(field != "files")
                .literal_separator(false)
                .build()
                .map_err(|e| format!("when.{field}: `{g}` is not a glob: {e}"))?;
            builder.add(glob);
        }
        builder
            .build()
            .map(Some)
            .map_err(|e| format!("when.{field}: {e}"))
    };
    let regexes = |list: Option<Vec<String>>, field: &str| -> Result<Option<PatternSet>, String> {
        let Some(list) = list else { return Ok(None) };
        PatternSet::new(&list)
            .map(Some)
            .map_err(|e| format!("when.{field}: {e}"))
    };
    let flags = |list: Option<Vec<String>>| -> Vec<Vec<String>> {
        list.unwrap_or_default()
            .into_iter()
            .map(|group| group.split('|').map(str::to_owned).collect())
            .collect()
    };
    let command_scoped = w.commands.is_some()
        || w.subcommands.is_some()
        || w.flags_all.is_some()
        || w.flags_any.is_some()
        || w.flags_none.is_some()
        || w.previews.is_some()
        || w.args_any.is_some()
        || w.args_not_all.is_some()
        || w.line.is_some();
    let command = if command_scoped {
        Some(Box::new(CommandCond {
            programs: match w.commands {
                None => None,
                Some(list) => {
                    let anchor = Anchor::from_commands(&list);
                    let (patterns, exact): (Vec<String>, Vec<String>) = list
                        .into_iter()
                        .partition(|p| p.contains(['*', '?', '[', '{']));
                    Some(Programs {
                        anchor,
                        exact: exact.into_iter().collect(),
                        globs: if patterns.is_empty() {
                            None
                        } else {
                            globs(Some(patterns), "commands")?
                        },
                    })
                }
            },
            subcommands: w.subcommands.map(|s| s.into_iter().collect()),
            flags_all: flags(w.flags_all),
            flags_any: flags(w.flags_any),
            flags_none: flags(w.flags_none),
            previews: w.previews,
            args_any: regexes(w.args_any, "args_any")?,
            args_not_all: regexes(w.args_not_all, "args_not_all")?,
            line_anchor: w.line.as_deref().and_then(Anchor::from_line_patterns),
            line: regexes(w.line, "line")?,
        }))
    } else {
        None
    };
    let metadata = match w.metadata {
        None => None,
        Some(m) => {
            let mut flags = BTreeMap::new();
            for (name, value) in [
                ("touches_secrets", m.touches_secrets),
                ("touches_production", m.touches_production),
                ("destructive", m.destructive),
                ("requires_publish", m.requires_publish),
                ("opens_port", m.opens_port),
                ("requires_human_approval", m.requires_human_approval),
            ] {
                if let Some(v) = value {
                    flags.insert(name, v);
                }
            }
            Some(MetaCond {
                flags,
                environment: globs(m.environment, "metadata.environment")?,
                risk: m.risk.map(|r| r.into_iter().collect()),
            })
        }
    };
    let when = When {
        kinds: w.kinds.map(|k| k.into_iter().collect()),
        agents: globs(w.agents, "agents")?,
        connectors: globs(w.connectors, "connectors")?,
        tools: globs(w.tools, "tools")?,
        methods: w
            .methods
            .map(|m| m.into_iter().map(|s| s.to_ascii_uppercase()).collect()),

        paths: globs(w.paths, "paths")?,
        command,
        raw: regexes(w.raw, "raw")?,
        code: regexes(w.code, "code")?,
        files: globs(w.files, "files")?,
        texts: regexes(w.texts, "texts")?,
        arg_keys: regexes(w.arg_keys, "arg_keys")?,
        arg_values: regexes(w.arg_values, "arg_values")?,
        hosts_outside_allowlist: w.hosts_outside_allowlist,
        hosts: globs(w.hosts, "hosts")?,
        capabilities: match (&w.capabilities, &w.capabilities_all) {
            (None, None) => None,
            (any, all) => Some((
                Capability::mask(any.as_deref()),
                Capability::mask(all.as_deref()),
            )),
        },
        tool_effects: w.tool_effects,
        secrets: w.secrets,
        metadata,
    };
    let selective = when.agents.is_some()
        || when.connectors.is_some()
        || when.tools.is_some()
        || when.methods.is_some()
        || when.paths.is_some()
        || when.command.is_some()
        || when.raw.is_some()
        || when.code.is_some()
        || when.files.is_some()
        || when.texts.is_some()
        || when.arg_keys.is_some()
        || when.arg_values.is_some()
        || when.hosts_outside_allowlist.is_some()
        || when.hosts.is_some()
        || when.capabilities.is_some()
        || when.tool_effects.is_some()
        || when.secrets.is_some()
        || when.metadata.is_some();
    if !selective {
        return Err(
            "`when` selects nothing beyond `kinds`; a rule must test the action itself".into(),
        );
    }
    if spec.id.trim().is_empty() {
        return Err("`id` is empty".into());
    }
    Ok(Rule {
        id: spec.id,
        description: spec.description,
        risk: spec.risk,
        route: spec.route,
        reason: spec.reason,
        escalation: spec.escalation,
        when,
    })
}

/// Compiles glob patterns for host allowlists.
pub fn host_globs(hosts: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for h in hosts {
        builder.add(
            Glob::new(&h.to_ascii_lowercase())
                .map_err(|e| format!("settings.allowed_hosts: `{h}`: {e}"))?,
        );
    }
    builder.build().map_err(|e| e.to_string())
}

/// Inputs a rule's conditions may need to be non-empty
/// ([`Rule::prerequisites`]).
pub(crate) mod needs {
    pub const COMMANDS: u16 = 1;
    pub const RAW: u16 = 1 << 1;
    pub const FILES: u16 = 1 << 2;
    pub const TEXTS: u16 = 1 << 3;
    pub const ARG_KEYS: u16 = 1 << 4;
    pub const ARG_VALUES: u16 = 1 << 5;
    pub const HOSTS: u16 = 1 << 6;
    pub const TOOL_EFFECTS: u16 = 1 << 7;
    pub const SECRETS: u16 = 1 << 8;
    pub const CAPABILITIES: u16 = 1 << 9;
}

/// One bit per contract kind.
pub(crate) fn kind_bit(kind: Kind) -> u32 {
    1 << (kind as u32)
}
