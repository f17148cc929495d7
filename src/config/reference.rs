//! Every configuration key with its type, default and environment name,
//! read off the real configuration struct: `cpos config defaults` prints
//! them and a test holds docs/CONFIG.md to them.

use serde_json::Value;

use super::{Config, Profile};

/// One configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Dotted path; `routes[].name` for a key of each route.
    pub key: String,
    /// `string`, `integer`, `boolean`, `list` or `table` (a map).
    pub kind: &'static str,
    /// The embedded default as TOML, or `unset`.
    pub default: String,
    /// The environment variable that sets it (`CPOS_TAPE__DIR`); none for
    /// keys inside lists.
    pub env: Option<String>,
}

/// Every key of the configuration, in declaration order, with its default
/// under `profile`.
pub fn keys(profile: Profile) -> Vec<Key> {
    let config = Config::from_toml(&format!("profile = \"{profile}\""))
        .unwrap_or_else(|e| unreachable!("the embedded defaults load under every profile: {e}"));
    let mut value = serde_json::to_value(&config).unwrap_or_default();
    // Route keys come from one route with every field at its default.
    let route = value
        .get("routes")
        .and_then(|r| r.get(0))
        .cloned()
        .unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("routes");
    }
    let mut out = Vec::new();
    walk(&value, "", true, &mut out);
    let mut routes = Vec::new();
    walk(&route, "routes[].", false, &mut routes);
    // The embedded demo route's values are not defaults of a route.
    for key in &mut routes {
        if matches!(
            key.key.as_str(),
            "routes[].name" | "routes[].prefix" | "routes[].upstream" | "routes[].tool_path_prefix"
        ) {
            key.default = "unset".into();
        }
    }
    out.extend(routes);
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn walk(value: &Value, prefix: &str, env: bool, out: &mut Vec<Key>) {
    let Some(object) = value.as_object() else {
        return;
    };
    for (name, field) in object {
        let key = format!("{prefix}{name}");
        // A struct is walked; a map (empty by default) is one key.
        if field.as_object().is_some_and(|o| !o.is_empty()) {
            walk(field, &format!("{key}."), env, out);
            continue;
        }
        let kind = match field {
            Value::Object(_) => "table",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "integer",
            Value::Array(_) => "list",
            _ => "string",
        };
        out.push(Key {
            env: env.then(|| format!("CPOS_{}", key.replace('.', "__").to_uppercase())),
            default: toml_value(field),
            kind,
            key,
        });
    }
}

/// A default as it is written in TOML; `unset` for an absent option, and a
/// count for lists of tables or lists (shown whole by `cpos config defaults`).
fn toml_value(value: &Value) -> String {
    match value {
        Value::Null => "unset".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Object(o) if o.is_empty() => "{}".into(),
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            format!("{} entries", items.len())
        }
        other => {
            let text = toml::to_string(&serde_json::json!({ "v": other })).unwrap_or_default();
            text.trim()
                .strip_prefix("v = ")
                .unwrap_or(text.trim())
                .to_owned()
        }
    }
}

/// The keys whose default `profile` changes, with the value it sets.
pub fn profile_effects(profile: Profile) -> Vec<(String, String)> {
    let base = keys(Profile::Dev);
    keys(profile)
        .into_iter()
        .zip(base)
        .filter(|(p, d)| p.key != "profile" && p.default != d.default)
        .map(|(p, _)| (p.key, p.default))
        .collect()
}
