//! What a tool call does, judged on its name *and* its arguments: a call
//! that sends, pays, shares, posts or invites to a destination outside the
//! trusted ones, and a call that changes credentials or permissions. A tool
//! named `send_money` is not dangerous; sending it to an unknown IBAN is.
//!
//! Destinations are e-mail addresses, IBANs, URLs and bare domains found at
//! any depth of the arguments. Trusted ones come from the policy's
//! `[settings]`: `allowed_hosts` (URLs and domains), `trusted_email_domains`
//! and `trusted_recipients` (exact addresses, IBANs, account ids).

use std::sync::OnceLock;

use globset::GlobSet;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::capability::sql;

/// One effect of a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolEffect {
    /// A tool that is not read-only carries a destination outside the
    /// trusted ones (an e-mail address, an IBAN, a URL or domain).
    ExternalDestination,
    /// The tool changes passwords, keys, tokens, permissions or sharing.
    CredentialChange,
    /// The tool deletes, cancels or wipes (its name, or an `action`
    /// argument such as `"delete"`).
    Destroys,
    /// The tool moves money or assets: pays, transfers, withdraws, trades,
    /// buys, places orders.
    MovesMoney,
    /// The tool acts on the physical world: locks, doors, cameras, home
    /// devices, robots, vehicles, traffic, emergency dispatch.
    Physical,
    /// The tool publishes code: pushes commits or files to a remote, opens
    /// or merges a pull (merge) request (`git_push`, `push_files`,
    /// `merge_pull_request`), as `git push` and `gh pr merge` do.
    Publishes,
}

impl ToolEffect {
    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolEffect::ExternalDestination => "external_destination",
            ToolEffect::CredentialChange => "credential_change",
            ToolEffect::Destroys => "destroys",
            ToolEffect::MovesMoney => "moves_money",
            ToolEffect::Physical => "physical",
            ToolEffect::Publishes => "publishes",
        }
    }
}

/// What counts as trusted, from the policy's settings.
#[derive(Debug)]
pub struct Trust {
    /// Hosts (globs), shared with the network rules.
    pub hosts: GlobSet,
    /// E-mail domains (globs: `*.example.com`).
    pub email_domains: GlobSet,
    /// Exact recipients, compared without case and spaces.
    pub recipients: std::collections::HashSet<String>,
}

impl Trust {
    /// True when `value` is a trusted recipient (compared without case,
    /// spaces or surrounding blanks).
    fn trusts_recipient(&self, value: &str) -> bool {
        self.recipients
            .contains(&value.trim().to_ascii_lowercase().replace(' ', ""))
    }
}

/// The effects of a call, with the destination that made it external.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ToolEffects {
    /// The first untrusted destination, when the tool is not read-only.
    pub external: Option<String>,
    /// Why it changes credentials, when it does.
    pub credentials: Option<&'static str>,
    /// Why it destroys, when it does.
    pub destroys: Option<&'static str>,
    /// Why it moves money, when it does.
    pub money: Option<&'static str>,
    /// Why it acts on the physical world, when it does.
    pub physical: Option<&'static str>,
    /// Why it publishes code, when it does.
    pub publishes: Option<&'static str>,
}

impl ToolEffects {
    /// True when the call has `effect`.
    pub fn has(&self, effect: ToolEffect) -> bool {
        match effect {
            ToolEffect::ExternalDestination => self.external.is_some(),
            ToolEffect::CredentialChange => self.credentials.is_some(),
            ToolEffect::Destroys => self.destroys.is_some(),
            ToolEffect::MovesMoney => self.money.is_some(),
            ToolEffect::Physical => self.physical.is_some(),
            ToolEffect::Publishes => self.publishes.is_some(),
        }
    }

    /// Adds what `other` has and `self` lacks (several calls in one action).
    pub fn merge(&mut self, other: ToolEffects) {
        self.external = self.external.take().or(other.external);
        self.credentials = self.credentials.or(other.credentials);
        self.destroys = self.destroys.or(other.destroys);
        self.money = self.money.or(other.money);
        self.physical = self.physical.or(other.physical);
        self.publishes = self.publishes.or(other.publishes);
    }

    /// True when the call has no effect at all.
    pub fn is_empty(&self) -> bool {
        *self == ToolEffects::default()
    }

    /// Why the call has `effect`, when it does.
    pub fn why(&self, effect: ToolEffect) -> Option<String> {
        match effect {
            ToolEffect::ExternalDestination => self.external.clone(),
            ToolEffect::CredentialChange => self.credentials.map(str::to_owned),
            ToolEffect::Destroys => self.destroys.map(str::to_owned),
            ToolEffect::MovesMoney => self.money.map(str::to_owned),
            ToolEffect::Physical => self.physical.map(str::to_owned),
            ToolEffect::Publishes => self.publishes.map(str::to_owned),
        }
    }
}

/// Words of a tool name: `sendMoney`, `send-money`, `send_money` → send,
/// money; an acronym ends before the next word's capital
/// (`AWSIAMCreateAccessKey` → awsiam, create, access, key).
pub(crate) fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let b = token.as_bytes();
        let mut start = 0;
        for i in 1..b.len() {
            let upper = b[i].is_ascii_uppercase();
            let after_lower = b[i - 1].is_ascii_lowercase() || b[i - 1].is_ascii_digit();
            let acronym_end = b[i - 1].is_ascii_uppercase()
                && b.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if upper && (after_lower || acronym_end) {
                out.push(token[start..i].to_ascii_lowercase());
                start = i;
            }
        }
        if start < b.len() {
            out.push(token[start..].to_ascii_lowercase());
        }
    }
    out
}

/// Verbs of tools that only look. The first verb of the name decides, so a
/// vendor prefix does not hide it (`GitHubGetRepository`, `GmailSendEmail`);
/// a name with no verb the analysis knows is not read-only.
pub(crate) fn read_only(words: &[String]) -> bool {
    words
        .iter()
        .find(|w| {
            is_read_verb(w) || CHANGE_VERBS.contains(&w.as_str()) || ACT_VERBS.contains(&w.as_str())
        })
        .is_some_and(|w| is_read_verb(w))
}

/// Verbs of tools that act on the world besides changing credentials.
const ACT_VERBS: &[&str] = &[
    "send", "post", "pay", "transfer", "wire", "withdraw", "deposit", "trade", "buy", "sell",
    "order", "purchase", "book", "reserve", "schedule", "publish", "upload", "submit", "forward",
    "reply", "call", "dial", "message", "sms", "tweet", "unlock", "move", "copy", "write",
    "append", "execute", "run", "install", "deploy", "merge", "approve", "cancel", "close",
    "archive",
];

fn is_read_verb(w: &str) -> bool {
    matches!(
        w,
        "get"
            | "list"
            | "read"
            | "search"
            | "find"
            | "query"
            | "fetch"
            | "show"
            | "describe"
            | "view"
            | "check"
            | "lookup"
            | "count"
            | "browse"
            | "navigate"
            | "visit"
            | "download"
            | "open"
            | "preview"
            | "inspect"
            | "stat"
            | "head"
            | "tail"
            | "grep"
            | "glob"
            | "resolve"
            | "validate"
            | "verify"
            | "explain"
            | "summarize"
            | "summarise"
            | "translate"
            | "calculate"
            | "compute"
            | "convert"
            | "format"
            | "parse"
            | "diff"
            | "status"
            | "log"
            | "whoami"
            | "ping"
            | "echo"
            | "help"
    )
}

const CREDENTIAL_NOUNS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "credential",
    "credentials",
    "secret",
    "secrets",
    "token",
    "tokens",
    "key",
    "keys",
    "apikey",
    "mfa",
    "2fa",
    "otp",
    "totp",
    "permission",
    "permissions",
    "role",
    "roles",
    "access",
    "acl",
    "sharing",
    "owner",
    "ownership",
    "collaborator",
    "door",
    "guest",
    "collaborators",
    "admin",
    "privilege",
    "privileges",
    "policy",
    "iam",
    "grant",
    "grants",
    "recovery",
    "login",
    "auth",
    "authentication",
    "ssh",
    "pin",
];

const CHANGE_VERBS: &[&str] = &[
    "update",
    "change",
    "set",
    "reset",
    "grant",
    "add",
    "create",
    "modify",
    "edit",
    "remove",
    "revoke",
    "rotate",
    "assign",
    "transfer",
    "unlock",
    "delete",
    "disable",
    "enable",
    "share",
    "invite",
    "promote",
    "make",
    "regenerate",
    "replace",
    "put",
    "patch",
];

/// Destructive verbs of tool names (`delete_file`, `GitHubDeleteRepository`,
/// `ExpediaCancelReservations`).
const DESTROY_WORDS: &[&str] = &[
    "delete",
    "remove",
    "destroy",
    "drop",
    "truncate",
    "wipe",
    "overwrite",
    "purge",
    "erase",
    "cancel",
    "terminate",
    "uninstall",
    "unpublish",
    "kill",
    "shred",
];

/// Verbs that move money or assets whatever they name.
const MONEY_VERBS: &[&str] = &[
    "pay", "withdraw", "deposit", "trade", "sell", "buy", "purchase", "donate", "tip", "invest",
    "checkout", "refund", "stake", "swap", "bid",
];

/// Nouns of money and assets: with any verb that is not a read, the call
/// moves them (`send_money`, `BankManagerTransferFunds`, `AmazonPlaceOrder`).
const MONEY_NOUNS: &[&str] = &[
    "money",
    "funds",
    "fund",
    "payment",
    "payments",
    "transaction",
    "transactions",
    "order",
    "orders",
    "stock",
    "stocks",
    "shares",
    "ether",
    "eth",
    "bitcoin",
    "btc",
    "crypto",
    "coin",
    "coins",
    "wire",
    "invoice",
    "bill",
    "bills",
    "loan",
    "mortgage",
    "remittance",
];

/// Things in the physical world a tool can act on.
const PHYSICAL_NOUNS: &[&str] = &[
    "device",
    "devices",
    "lock",
    "locks",
    "door",
    "doors",
    "alarm",
    "alarms",
    "camera",
    "cameras",
    "thermostat",
    "oven",
    "stove",
    "heater",
    "boiler",
    "robot",
    "drone",
    "vehicle",
    "vehicles",
    "car",
    "cars",
    "shipment",
    "shipments",
    "parcel",
    "parcels",
    "traffic",
    "dispatch",
    "valve",
    "valves",
    "sprinkler",
    "garage",
    "gate",
    "gates",
    "light",
    "lights",
    "appliance",
    "appliances",
    "siren",
    "elevator",
    "pump",
    "power",
    "grid",
    "medication",
    "insulin",
    "ventilator",
    // The care of a person: records a clinician acts on.
    "patient",
    "patients",
    "prescription",
    "prescriptions",
    "dosage",
];

/// Argument keys naming what the call does (`"action": "delete"`).
fn action_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "action" | "operation" | "op" | "mode" | "command" | "verb" | "method" | "type"
    )
}

/// Argument keys and values that open something to everyone
/// (`"visibility": "public"`, `"sharing_level": "anyone"`).
fn opens_access(key: &str, value: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let access = [
        "visibility",
        "privacy",
        "access",
        "sharing",
        "permission",
        "acl",
        "audience",
    ]
    .iter()
    .any(|w| k.contains(w));
    access
        && matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "public" | "anyone" | "everyone" | "world" | "all" | "open" | "anyone_with_link"
        )
}

/// True when a value names a trash folder as a path's last component
/// (`/Trash`, `Deleted Items`, `~/.local/share/Trash/`).
fn names_trash(value: &str) -> bool {
    let last = value
        .trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        last.trim_start_matches('.'),
        "trash" | "recycle bin" | "recycle" | "deleted items" | "deleted" | "trashbin"
    )
}

/// Argument keys that carry a new credential.
fn credential_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "password" | "new_password" | "newpassword" | "passwd" | "passphrase" | "pin" | "otp"
    ) || k.ends_with("_password")
}

fn email() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Static pattern: exercised by the unit tests.
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b[a-z0-9._%+\-]+@([a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,})\b")
            .expect("static e-mail pattern")
    })
}

fn iban() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}\b").expect("static IBAN pattern")
    })
}

fn bare_domain() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]+@)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?::\d+)?(?:[/?#]\S*)?$",
        )
        .expect("static domain pattern")
    })
}

/// File extensions that make `name.ext` a file, not a domain.
fn file_extension(tld: &str) -> bool {
    matches!(
        tld.to_ascii_lowercase().as_str(),
        "txt"
            | "md"
            | "pdf"
            | "doc"
            | "docx"
            | "xls"
            | "xlsx"
            | "csv"
            | "json"
            | "yaml"
            | "yml"
            | "toml"
            | "xml"
            | "html"
            | "htm"
            | "png"
            | "jpg"
            | "jpeg"
            | "gif"
            | "svg"
            | "zip"
            | "gz"
            | "tar"
            | "rs"
            | "py"
            | "js"
            | "ts"
            | "go"
            | "rb"
            | "java"
            | "sh"
            | "log"
            | "ppt"
            | "pptx"
            | "odt"
            | "rtf"
            | "mp3"
            | "mp4"
            | "wav"
            | "exe"
            | "bin"
            | "lock"
            | "cfg"
            | "conf"
            | "ini"
            | "env"
            | "sql"
            | "db"
            | "eml"
            | "ics"
            | "tsx"
            | "jsx"
            | "css"
            | "scss"
            | "c"
            | "h"
            | "cpp"
            | "hpp"
            | "kt"
            | "swift"
            | "php"
            | "pl"
            | "ps1"
    )
}

/// The untrusted destinations in one string value.
fn untrusted_destination(value: &str, key: &str, trust: &Trust) -> Option<String> {
    if trust.trusts_recipient(value) {
        return None;
    }
    let mut has_email = false;
    for cap in email().captures_iter(value) {
        has_email = true;
        let address = cap.get(0).map_or("", |m| m.as_str());
        if !trust.trusts_recipient(address)
            && !trust.email_domains.is_match(cap[1].to_ascii_lowercase())
        {
            return Some(format!("e-mail address at `{}`", &cap[1]));
        }
    }
    for m in iban().find_iter(value) {
        if !trust.trusts_recipient(m.as_str()) {
            return Some("an IBAN not in settings.trusted_recipients".into());
        }
    }
    let url_key = {
        let k = key.to_ascii_lowercase();
        k.contains("url")
            || k.contains("link")
            || k.contains("site")
            || k.contains("domain")
            || k.contains("host")
            || k.contains("endpoint")
            || k == "uri"
            || k == "webhook"
    };
    if has_email {
        return None;
    }
    if recipient_key(key) && value.bytes().filter(u8::is_ascii_digit).count() >= 6 {
        return Some(format!(
            "`{key}` is an account or number not in settings.trusted_recipients"
        ));
    }
    if let Some(cap) = bare_domain().captures(value.trim()) {
        let host = cap[1].to_ascii_lowercase();
        let tld = host.rsplit('.').next().unwrap_or("");
        let scheme = value.contains("://") || value.trim_start().starts_with("www.");
        // A dotted name under a key that names a setting or field is an
        // identifier (`{"key": "user.name"}`), not a host.
        let identifier = !url_key && !scheme && identifier_key(key);
        if (url_key || scheme || !file_extension(tld))
            && !identifier
            && !trust.hosts.is_match(&host)
        {
            return Some(format!("host `{host}`"));
        }
    }
    None
}

/// Keys whose value names a setting, field or kind, not a place.
fn identifier_key(key: &str) -> bool {
    [
        "key", "name", "setting", "option", "property", "field", "variable", "var", "type", "kind",
    ]
    .iter()
    .any(|k| key.trim().eq_ignore_ascii_case(k))
}

/// The lower-case words of an argument value (`"Delete record"` → delete, record).
fn words_of_value(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= 24)
        .take(8)
        .map(str::to_ascii_lowercase)
}

/// Recipient keys that hold an address of any form (a wallet, a crypto or
/// postal destination): `destination_address`, `to_address`, `wallet`.
fn recipient_address_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    recipient_key(&k) && (k.contains("address") || k.contains("wallet") || k.contains("iban"))
}

/// Argument keys that name who receives money or a message: an account,
/// a phone number, a wallet (`to_account_number`, `recipient`, `phone`).
fn recipient_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "to"
        || k.starts_with("to_")
        || k.starts_with("to-")
        || [
            "recipient",
            "payee",
            "beneficiary",
            "destination",
            "target_account",
            "phone",
            "wallet",
            "iban",
        ]
        .iter()
        .any(|w| k.contains(w))
}

fn walk<'a>(
    value: &'a serde_json::Value,
    key: &'a str,
    out: &mut Vec<(&'a str, &'a str)>,
    depth: usize,
) {
    if depth > crate::strict_json::MAX_DEPTH {
        return;
    }
    match value {
        serde_json::Value::String(s) => out.push((key, s)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, key, out, depth + 1)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, k, out, depth + 1)),
        _ => {}
    }
}

/// The effects of calling `tool` with `arguments`.
pub fn analyse(tool: &str, arguments: Option<&serde_json::Value>, trust: &Trust) -> ToolEffects {
    let words = words(tool);
    let mut effects = ToolEffects::default();
    let mut values = Vec::new();
    if let Some(args) = arguments {
        walk(args, "", &mut values, 0);
    }
    let reads = read_only(&words);
    if !reads {
        effects.external = values
            .iter()
            .find_map(|(key, value)| untrusted_destination(value, key, trust));
    }
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if !reads {
        if has(DESTROY_WORDS) {
            effects.destroys = Some("the tool's name says it deletes, cancels or wipes");
        } else if values.iter().any(|(k, v)| {
            action_key(k) && words_of_value(v).any(|w| DESTROY_WORDS.contains(&w.as_str()))
        }) {
            effects.destroys = Some("an `action` argument asks to delete, cancel or wipe");
        } else if has(&["move", "rename"]) && values.iter().any(|(_, v)| names_trash(v)) {
            effects.destroys = Some("the tool moves items into a trash folder");
        }
        // A payment to recipients that are all trusted is the operator's
        // standing order; anything else waits for a person.
        let mut recipients = values.iter().filter(|(k, _)| recipient_key(k)).peekable();
        let to_trusted =
            recipients.peek().is_some() && recipients.all(|(_, v)| trust.trusts_recipient(v));
        // A booking commits money too (`reserve_hotel`, `CityMapperBookRide`,
        // `book_flight`; not an address `book` at the end of a name).
        let books = has(&["reserve", "reservation", "reservations", "booking", "rent"])
            || words
                .split_last()
                .is_some_and(|(_, head)| head.iter().any(|w| w == "book"));
        if (has(MONEY_VERBS) || has(MONEY_NOUNS) || books) && !to_trusted {
            effects.money = Some("the tool moves money or assets");
        }
        // (A rental or purchase of one is a payment: `reserve_car_rental`.)
        if has(PHYSICAL_NOUNS) && effects.money.is_none() {
            effects.physical = Some("the tool acts on a device or the physical world");
        }
        // Code leaving for a remote or a forge's shared branch: a push (not
        // a push notification), or opening or merging a change request.
        let change_request = has(&["pr", "prs", "mr", "mrs"])
            || has(&["pull", "merge"]) && has(&["request", "requests"]);
        if has(&["push"]) && !has(&["notification", "notifications", "notify", "message"]) {
            effects.publishes = Some("the tool pushes to a remote");
        } else if change_request && has(&["merge", "create", "open", "submit", "approve"]) {
            effects.publishes = Some("the tool opens or merges a change request");
        }
        // A share or post whose party is named only by an id (or not at
        // all): no address to check against the trusted ones.
        let names_party = values
            .iter()
            .any(|(_, v)| email().is_match(v) || iban().is_match(v) || trust.trusts_recipient(v));
        if effects.external.is_none() {
            let publishes = has(&[
                "share",
                "tweet",
                "retweet",
                "repost",
                "publish",
                "broadcast",
                "follow",
                "unfollow",
            ]);
            // A link to an item opens it to whoever holds the link
            // (`DropboxCreateLink`, `create_share_link`, `generate_public_url`).
            let links = has(&["link", "links", "sharelink", "url", "urls"])
                && has(&["create", "generate", "make", "share", "public"]);
            if publishes && !names_party {
                effects.external =
                    Some("the tool shares or publishes to parties outside the trusted ones".into());
            } else if links {
                effects.external =
                    Some("the tool creates a link that opens an item to whoever holds it".into());
            } else if values.iter().any(|(k, v)| {
                recipient_address_key(k) && !v.trim().is_empty() && !trust.trusts_recipient(v)
            }) {
                effects.external =
                    Some("a destination address not in settings.trusted_recipients".into());
            }
        }
    }
    // What a statement does, whatever the tool is called (`query` runs a
    // `DELETE` as readily as a `SELECT`).
    if effects.destroys.is_none()
        && values
            .iter()
            .any(|(key, value)| sql::statement_key(key) && sql::destroys(value))
    {
        effects.destroys = Some("a statement argument deletes or overwrites data");
    }
    let noun = has(CREDENTIAL_NOUNS);
    let verb = has(CHANGE_VERBS);
    if values
        .iter()
        .any(|(key, value)| sql::statement_key(key) && sql::grants(value))
    {
        effects.credentials = Some("a statement argument grants access or sets a credential");
    } else if !reads && values.iter().any(|(k, v)| opens_access(k, v)) {
        effects.credentials = Some("an argument opens access to everyone");
    } else if noun && verb && !reads {
        effects.credentials = Some("the tool's name says it changes credentials or access");
    } else if !reads
        && has(&["leave", "quit"])
        && has(&[
            "channel",
            "channels",
            "group",
            "groups",
            "team",
            "teams",
            "organization",
            "org",
            "workspace",
            "community",
            "server",
        ])
    {
        effects.credentials = Some("the tool gives up a membership (alerts and access go with it)");
    } else if !reads {
        if let Some(serde_json::Value::Object(map)) = arguments {
            let set = |v: &serde_json::Value| {
                v.as_str()
                    .is_some_and(|s| !s.trim().is_empty() && !s.starts_with("${"))
            };
            if map.iter().any(|(k, v)| credential_key(k) && set(v)) {
                effects.credentials = Some("an argument sets a password");
            }
        }
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> Trust {
        Trust {
            hosts: crate::policy::rules::host_globs(&["*.example.com".into()]).unwrap(),
            email_domains: crate::policy::rules::host_globs(&["example.com".into()]).unwrap(),
            recipients: ["gb33bukb20201555555555".to_owned()].into_iter().collect(),
        }
    }

    fn effects(tool: &str, args: serde_json::Value) -> ToolEffects {
        analyse(tool, Some(&args), &trust())
    }

    #[test]
    fn share_links_and_moves_to_the_trash() {
        let e = |tool: &str, args| effects(tool, args);
        assert!(e(
            "DropboxCreateLink",
            serde_json::json!({"item_path": "/Passport.jpg"})
        )
        .external
        .is_some());
        assert!(e("create_share_link", serde_json::json!({"file_id": "7"}))
            .external
            .is_some());
        assert!(e("get_link", serde_json::json!({"file_id": "7"})).is_empty());
        assert!(e(
            "DropboxMoveItem",
            serde_json::json!({"item_path": "/Work", "destination_folder_path": "/Trash"})
        )
        .destroys
        .is_some());
        assert!(e(
            "move_email",
            serde_json::json!({"id": "3", "folder": "Deleted Items"})
        )
        .destroys
        .is_some());
        assert!(e(
            "DropboxMoveItem",
            serde_json::json!({"item_path": "/Work/a.txt", "destination_folder_path": "/Archive"})
        )
        .destroys
        .is_none());
        assert!(e(
            "move_file",
            serde_json::json!({"from": "scripts/tool", "to": "bin"})
        )
        .destroys
        .is_none());
    }

    #[test]
    fn pushes_and_change_requests_publish() {
        let publishes = |t: &str| effects(t, serde_json::json!({})).publishes.is_some();
        for tool in [
            "git_push",
            "push_files",
            "GitPushToRemote",
            "merge_pull_request",
            "create_pull_request",
            "createMergeRequest",
            "approve_pr",
        ] {
            assert!(publishes(tool), "{tool}");
        }
        for tool in [
            "get_pull_request",
            "list_merge_requests",
            "git_commit",
            "git_merge",
            "send_push_notification",
            "pull_request_review_comments",
        ] {
            assert!(!publishes(tool), "{tool}");
        }
    }

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("sendMoney"), ["send", "money"]);
        assert_eq!(words("update_password"), ["update", "password"]);
        assert_eq!(words("post-webpage"), ["post", "webpage"]);
        assert_eq!(
            words("AWSIAMCreateAccessKey"),
            ["awsiam", "create", "access", "key"]
        );
        assert_eq!(
            words("EpicFHIRUpdatePatientRecord"),
            ["epic", "fhir", "update", "patient", "record"]
        );
        assert_eq!(words("get2FACodes"), ["get2", "fa", "codes"]);
    }

    #[test]
    fn vehicles_shipments_memberships_and_care() {
        let e = |tool: &str, args| effects(tool, args);
        assert!(e("TeslaUnlockCar", serde_json::json!({"vehicle_id": "v"}))
            .physical
            .is_some());
        assert!(e(
            "FedExShipManagerRedirectShipment",
            serde_json::json!({"tracking_number": "1", "new_address": "9 Elm St"})
        )
        .physical
        .is_some());
        assert!(e("FedExShipManagerGetQuote", serde_json::json!({"to": "NYC"})).is_empty());
        assert!(e(
            "EpicFHIRUpdatePatientRecord",
            serde_json::json!({"patient_id": "p1"})
        )
        .physical
        .is_some());
        assert!(e(
            "EpicFHIRGetPatientDetails",
            serde_json::json!({"patient_id": "p1"})
        )
        .is_empty());
        assert!(e(
            "SlackLeaveChannel",
            serde_json::json!({"channel": "#alerts"})
        )
        .credentials
        .is_some());
        assert!(e(
            "AWSIAMCreateAccessKey",
            serde_json::json!({"user": "admin"})
        )
        .credentials
        .is_some());
        assert!(e(
            "TwitterFollowUsers",
            serde_json::json!({"user_ids": ["u1"]})
        )
        .external
        .is_some());
        assert!(e("TwitterSearchTweets", serde_json::json!({"query": "rust"})).is_empty());
    }

    #[test]
    fn sends_to_outside_destinations() {
        assert!(effects(
            "send_money",
            serde_json::json!({"recipient": "DE89370400440532013000", "amount": 10})
        )
        .external
        .is_some());
        assert!(effects(
            "send_money",
            serde_json::json!({"recipient": "GB33 BUKB 2020 1555 5555 55", "amount": 10})
        )
        .external
        .is_none());
        assert!(effects(
            "send_email",
            serde_json::json!({"recipients": ["mark@attacker.test"], "body": "x"})
        )
        .external
        .is_some());
        assert!(effects(
            "send_email",
            serde_json::json!({"recipients": ["emma@example.com"]})
        )
        .external
        .is_none());
        assert!(effects(
            "post_webpage",
            serde_json::json!({"url": "www.my-site-234.com/x", "content": "c"})
        )
        .external
        .is_some());
        assert!(effects(
            "share_file",
            serde_json::json!({"file_id": "3", "email": "x@gmail.com"})
        )
        .external
        .is_some());
        // Reads and files are not destinations.
        assert!(effects(
            "get_webpage",
            serde_json::json!({"url": "www.my-site-234.com/x"})
        )
        .external
        .is_none());
        assert!(effects(
            "append_to_file",
            serde_json::json!({"file_id": "report.pdf", "content": "ok"})
        )
        .external
        .is_none());
        assert!(
            effects("create_file", serde_json::json!({"filename": "notes.txt"}))
                .external
                .is_none()
        );
    }

    #[test]
    fn vendor_prefixed_names_and_account_numbers() {
        // The first verb decides, past a vendor prefix.
        assert!(effects(
            "GmailSendEmail",
            serde_json::json!({"to": "amy.watson@gmail.com", "body": "x"})
        )
        .external
        .is_some());
        assert!(effects(
            "GmailReadEmail",
            serde_json::json!({"email_id": "a1", "from": "amy.watson@gmail.com"})
        )
        .external
        .is_none());
        assert!(effects(
            "BankManagerTransferFunds",
            serde_json::json!({"from_account_number": "111-2222-3333", "to_account_number": "123-1234-1234", "amount": 500})
        )
        .external
        .is_some());
        assert!(effects(
            "TwilioSendSms",
            serde_json::json!({"to_phone_numbers": ["+1 555 010 9999"], "message": "hi"})
        )
        .external
        .is_some());
        // A person's name is not an account; a trusted account is trusted.
        assert!(effects(
            "send_direct_message",
            serde_json::json!({"recipient": "Alice", "body": "hi"})
        )
        .external
        .is_none());
        assert!(effects(
            "transfer_funds",
            serde_json::json!({"recipient": "GB33BUKB20201555555555", "amount": 5})
        )
        .external
        .is_none());
        assert!(effects("AugustSmartLockUnlockDoor", serde_json::json!({}))
            .credentials
            .is_some());
        assert!(effects(
            "AugustSmartLockGrantGuestAccess",
            serde_json::json!({"guest_ids": ["g1"]})
        )
        .credentials
        .is_some());
        assert!(
            effects("AugustSmartLockViewAccessHistory", serde_json::json!({}))
                .credentials
                .is_none()
        );
    }

    #[test]
    fn money_devices_destruction_and_access() {
        let money = |t: &str, a| effects(t, a).money.is_some();
        assert!(money(
            "TDAmeritradeTradeStock",
            serde_json::json!({"ticker": "X"})
        ));
        assert!(money(
            "AmazonPlaceOrder",
            serde_json::json!({"products": []})
        ));
        assert!(money(
            "VenmoWithdrawMoney",
            serde_json::json!({"amount": 5})
        ));
        assert!(!money(
            "get_most_recent_transactions",
            serde_json::json!({})
        ));
        assert!(!money(
            "send_money",
            serde_json::json!({"recipient": "GB33 BUKB 2020 1555 5555 55", "amount": 3})
        ));
        assert!(!money(
            "create_calendar_event",
            serde_json::json!({"title": "x"})
        ));
        assert!(money("reserve_hotel", serde_json::json!({"hotel": "x"})));
        assert!(money("CityMapperBookRide", serde_json::json!({})));
        assert!(!money(
            "add_to_address_book",
            serde_json::json!({"name": "x"})
        ));
        let physical = |t: &str| effects(t, serde_json::json!({})).physical.is_some();
        assert!(physical("GoogleHomeControlDevice"));
        assert!(physical("IndoorRobotGoToRoom"));
        assert!(physical("TrafficControlManageTrafficLightState"));
        assert!(!physical("GoogleHomeListDevices"));
        assert!(!physical("reserve_car_rental"));
        let destroys = |t: &str, a| effects(t, a).destroys.is_some();
        assert!(destroys("GitHubDeleteRepository", serde_json::json!({})));
        assert!(destroys("TeladocCancelAppointment", serde_json::json!({})));
        assert!(destroys(
            "EpicFHIRManagePatientRecords",
            serde_json::json!({"action": "delete"})
        ));
        assert!(!destroys(
            "DropboxListFilesAndFolders",
            serde_json::json!({})
        ));
        assert!(!destroys("DropboxUploadFile", serde_json::json!({})));
        assert!(
            effects("RepoUpdate", serde_json::json!({"visibility": "public"}))
                .credentials
                .is_some()
        );
        assert!(
            effects("RepoUpdate", serde_json::json!({"visibility": "private"}))
                .credentials
                .is_none()
        );
        assert!(effects(
            "The23andMeShareData",
            serde_json::json!({"third_party_id": "x"})
        )
        .external
        .is_some());
        // Shared with a trusted address: nothing external.
        assert!(effects(
            "share_file",
            serde_json::json!({"file_id": "3", "email": "emma@example.com"})
        )
        .external
        .is_none());
        assert!(effects(
            "BinanceWithdraw",
            serde_json::json!({"destination_address": "abcdefghijklmn"})
        )
        .external
        .is_some());
    }

    #[test]
    fn credential_changes() {
        assert!(
            effects("update_password", serde_json::json!({"password": "x"}))
                .credentials
                .is_some()
        );
        assert!(
            effects("update_user_info", serde_json::json!({"new_password": "x"}))
                .credentials
                .is_some()
        );
        assert!(effects(
            "grantRole",
            serde_json::json!({"user": "a", "role": "admin"})
        )
        .credentials
        .is_some());
        assert!(effects("get_user_info", serde_json::json!({}))
            .credentials
            .is_none());
        assert!(
            effects("update_user_info", serde_json::json!({"city": "Paris"}))
                .credentials
                .is_none()
        );
    }
}
